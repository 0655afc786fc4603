"""Sentence support: faithful paraphrases pass, invented facts are removed, markers stay consistent.

Passages here are written for these tests in the style of the demo help center.
"""

from __future__ import annotations

from agent.guards.support import check_support, drop_sentences, quantities, split_sentences

WINDOWS = "returns#windows-0001"
TIMING = "refunds#timing-0002"
NOT_RETURNABLE = "returns#final-0003"
MONTHLY = "membership#monthly-0004"
PASSAGES = {
    WINDOWS: (
        "Brightwell Home accepts returns of most items within 30 days of delivery, or within 60 days for "
        "Brightwell Plus members. A return shipping fee of $6.95 is deducted for change-of-mind returns. "
        "Return shipping is free in these cases:\n"
        "- The item is defective or arrived damaged.\n"
        "- You are a Brightwell Plus member."
    ),
    TIMING: (
        "Brightwell Home refunds take the following time to appear after they are issued:\n"
        "- **Credit card:** 3–5 business days.\n"
        "- **Debit card:** up to 10 business days, depending on the bank.\n"
        "- **Brightwell gift card:** within 24 hours."
    ),
    NOT_RETURNABLE: (
        "Brightwell Home cannot accept returns of the following items:\n"
        "- Opened bags of coffee beans. Unopened, sealed bags can be returned within the normal window.\n"
        "- Gift cards and personalised items, such as engraved cutting boards."
    ),
    MONTHLY: (
        "Monthly memberships can be cancelled at any time, but the current month is not refunded. "
        "Benefits continue until the end of the month already paid for."
    ),
}
CITATIONS = [
    {"n": 1, "chunk_id": WINDOWS, "quote": "within 30 days of delivery"},
    {"n": 2, "chunk_id": TIMING, "quote": "Credit card: 3–5 business days."},
    {"n": 3, "chunk_id": NOT_RETURNABLE, "quote": "Opened bags of coffee beans."},
    {"n": 4, "chunk_id": MONTHLY, "quote": "the current month is not refunded"},
]


def _check(reply: str):  # type: ignore[no-untyped-def]
    return check_support(reply, citations=CITATIONS, passages=PASSAGES)


def _reasons(reply: str) -> list[str]:
    return [v.reason for v in _check(reply).verdicts]


def test_faithful_paraphrased_answer_passes_untouched():
    reply = (
        "I'm sorry to hear the grinder wasn't what you wanted. You can send most items back within 30 "
        "days of delivery, or 60 days if you're a Brightwell Plus member [1]. For a change-of-mind return, "
        "a $6.95 return shipping fee is taken off your refund [1]. Once it's issued, the money reaches a "
        "credit card in 3-5 business days [2]. Let me know if you'd like help starting the return!"
    )
    result = _check(reply)
    assert result.reply == reply
    assert result.removed == []
    assert result.answers
    assert [v.reason for v in result.verdicts] == [
        "courtesy",
        "supported",
        "supported",
        "supported",
        "courtesy",
    ]


def test_a_different_number_of_days_is_removed():
    result = _check("You can return most items within 45 days of delivery [1].")
    assert result.verdicts[0].reason == "numbers"
    assert result.removed == ["You can return most items within 45 days of delivery [1]."]
    assert not result.answers


def test_a_number_borrowed_from_another_line_of_the_passage_is_removed():
    assert _reasons("Credit card refunds appear within 24 hours [2].") == ["numbers"]
    assert _reasons("Gift card refunds appear within 24 hours [2].") == ["supported"]


def test_an_amount_the_passage_does_not_give_is_removed():
    assert _reasons("The return shipping fee is $9.95 [1].") == ["numbers"]


def test_a_refund_the_passage_does_not_give_is_removed():
    assert _reasons("The current month is refunded when you cancel a monthly membership [4].") == ["negation"]
    assert _reasons("If you cancel, the current month isn't refunded [4].") == ["supported"]


def test_a_negation_flip_is_removed_and_the_true_statement_kept():
    assert _reasons("Opened bags of coffee beans can be returned [3].") == ["negation"]
    assert _reasons("Opened bags of coffee beans can't be returned [3].") == ["supported"]
    assert _reasons("Unopened, sealed bags can still be returned within the normal window [3].") == [
        "supported"
    ]


def test_an_invented_fact_that_shares_few_words_with_its_passage_is_removed():
    assert _reasons("We also send a free cleaning kit with every espresso machine [1].") == ["coverage"]


def test_overgeneralising_a_conditional_rule_is_removed():
    assert _reasons("Return shipping is always free [1].") == ["overgeneral"]


def test_a_factual_sentence_without_a_marker_is_removed():
    result = _check("You can return most items within 30 days of delivery [1]. We also offer free engraving.")
    assert [v.reason for v in result.verdicts] == ["supported", "no_citation"]
    assert result.reply == "You can return most items within 30 days of delivery [1]."


def test_courtesy_and_questions_need_no_citation():
    reply = (
        "Thanks for reaching out! I'm sorry to hear your kettle arrived damaged. I hope that helps. "
        "Would you like me to connect you with a person?"
    )
    result = _check(reply)
    assert result.reply == reply
    assert all(not v.factual for v in result.verdicts)
    assert not result.answers  # nothing factual: the caller replaces it with a safe reply


def test_an_apology_that_goes_on_to_state_a_fact_needs_a_citation():
    assert _reasons("Sorry, but opened coffee beans can't be returned.") == ["no_citation"]


def test_markers_are_renumbered_and_unused_citations_dropped_after_removal():
    reply = "The fee is $9.95 [1]. Refunds reach a credit card in 3–5 business days [2]."
    result = _check(reply)
    assert result.reply == "Refunds reach a credit card in 3–5 business days [1]."
    assert result.citations == [{"n": 1, "chunk_id": TIMING, "quote": "Credit card: 3–5 business days."}]
    assert result.removed == ["The fee is $9.95 [1]."]


def test_markers_written_after_the_full_stop_belong_to_the_sentence_before():
    sentences = split_sentences("Returns are open for 30 days. [1] Refunds take 3-5 business days. [2]")
    assert [(s.text, s.markers) for s in sentences] == [
        ("Returns are open for 30 days.", (1,)),
        ("Refunds take 3-5 business days.", (2,)),
    ]


def test_list_items_and_abbreviations_split_sensibly():
    reply = (
        "Here's what applies:\n- Standard returns, e.g. a kettle: 30 days [1]\n- Plus members: 60 days [1]"
    )
    texts = [s.text for s in split_sentences(reply)]
    assert texts == [
        "Here's what applies:",
        "Standard returns, e.g. a kettle: 30 days",
        "Plus members: 60 days",
    ]


def test_dropping_a_list_item_keeps_the_other_lines():
    reply = "Windows:\n- Standard: 30 days [1]\n- Plus: 90 days [1]\n- Gift cards: never [3]"
    text, citations = drop_sentences(reply, CITATIONS, {2})
    assert text == "Windows:\n- Standard: 30 days [1]\n- Gift cards: never [2]"
    assert [c["n"] for c in citations] == [1, 2]


def test_equivalent_durations_count_as_the_same_number():
    passages = {"damage#0": "Report damaged items within 14 days of delivery, with a photo."}
    citations = [{"n": 1, "chunk_id": "damage#0", "quote": ""}]
    same = check_support(
        "Report damage within two weeks of delivery [1].", citations=citations, passages=passages
    )
    longer = check_support(
        "Report damage within a month of delivery [1].", citations=citations, passages=passages
    )
    assert same.verdicts[0].supported
    assert longer.verdicts[0].reason == "numbers"


def test_quantities_reads_amounts_ranges_codes_and_clock_times():
    found = [q for q, _ in quantities("$6.95 (CA$9.95), 15% off, 3–5 business days, BX-700, 11:59 p.m.")]
    assert found == [
        ("usd", "6.95"),
        ("cad", "9.95"),
        ("percent", "15"),
        ("day", "3"),
        ("day", "5"),
        ("code", "BX700"),
        ("clock", "23:59"),
    ]


def test_a_minimal_mode_quoted_answer_passes_untouched():
    reply = (
        "Here is what our help center says about that:\n\n"
        "**How to return an item › Return windows** [1]\n\n"
        "> Brightwell Home accepts returns of most items within 30 days of delivery, or within 60 days for "
        "Brightwell Plus members.\n> - The item is defective or arrived damaged.\n\n"
        "Open a numbered source to read the whole article. Did that answer your question?"
    )
    result = _check(reply)
    assert result.removed == []
    assert result.answers
    assert [s.markers for s in split_sentences(reply)][2:4] == [(1,), (1,)]


def test_a_citation_whose_passage_is_missing_is_checked_against_its_quote():
    citations = [
        {"n": 1, "chunk_id": "gone#0", "quote": "Most items can be returned within 30 days of delivery."}
    ]
    ok = check_support(
        "Most items can be returned within 30 days of delivery [1].", citations=citations, passages={}
    )
    bad = check_support("Most items can be returned within 90 days [1].", citations=citations, passages={})
    assert ok.verdicts[0].supported
    assert not bad.verdicts[0].supported
