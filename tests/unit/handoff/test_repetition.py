"""The bot is not helping: `handoff.triggers.repetition.repeated_failure`."""

from __future__ import annotations

import pytest

from handoff.reasons import HandoffReason
from handoff.triggers import EarlierTurn, Trigger
from handoff.triggers.repetition import repeated_failure

DEFAULTS = {"unresolved_turns": 2, "similarity": 0.6}

ANSWERED = [EarlierTurn("How long does the warranty on the recliner last?", "answered")]
UNRESOLVED = [
    EarlierTurn("Can I swap the rug I ordered for a bigger size?", "unknown"),
    EarlierTurn("Is exchanging a rug for another size possible?", "clarify"),
]


def check(text: str, earlier: list[EarlierTurn], **overrides: float) -> Trigger | None:
    return repeated_failure(text, earlier, **{**DEFAULTS, **overrides})


# (a) the customer says the answer missed


@pytest.mark.parametrize(
    "text",
    [
        "that didn't help",
        "That's not what I asked",
        "you're not understanding me",
        "That doesn't answer my question at all",
        "I already told you it's the grey one",
        "wrong answer",
        "what a useless answer",
        "it's still not working",
        "I tried that already, same problem",
        "that's fine but it still doesn't work",
    ],
)
def test_saying_the_answer_missed_fires_and_escalates(text):
    fired = check(text, ANSWERED)
    assert fired is not None
    assert fired.reason is HandoffReason.REPEATED_FAILURE
    assert fired.escalate
    assert "did not help" in fired.evidence
    assert "said" in fired.detail["signals"]


@pytest.mark.parametrize(
    "text",
    [
        "that helped, thanks",
        "Perfect, that's exactly what I needed",
        "didn't help much but fine, thanks, bye",
        "never mind, I'll call the shop. bye",
        "If that doesn't help, what should I try next?",
    ],
)
def test_satisfied_or_departing_customers_do_not_fire(text):
    assert check(text, ANSWERED) is None


def test_complaint_about_an_answer_needs_an_earlier_turn():
    assert check("That's not what I asked", []) is None


def test_still_not_working_counts_only_right_after_an_answer():
    assert check("My dishwasher is still not working after the engineer visit", []) is None
    assert check("it's still not working", [EarlierTurn("hello", "clarify")]) is None
    assert check("it's still not working", ANSWERED) is not None


# (b) the same question again


def test_rephrasing_an_answered_question_offers_a_person():
    earlier = [EarlierTurn("When will my sofa be delivered?", "answered")]
    fired = check("What's the delivery date for my sofa??", earlier)
    assert fired is not None
    assert not fired.escalate  # the answer may land this time; a person is offered, not forced
    assert "When will my sofa be delivered?" in fired.evidence
    assert fired.detail["earlier_question"] == "When will my sofa be delivered?"
    assert fired.detail["similarity"] >= DEFAULTS["similarity"]


def test_rephrasing_an_unanswered_question_escalates():
    earlier = [EarlierTurn("How do I assemble the bunk bed ladder?", "unknown")]
    fired = check("I asked already: assembling the ladder of the bunk bed, how?", earlier)
    assert fired is not None
    assert fired.escalate
    assert fired.detail["earlier_outcome"] == "unknown"


def test_most_similar_earlier_question_is_quoted():
    earlier = [
        EarlierTurn("Do you sell outdoor cushions?", "answered"),
        EarlierTurn("Can I return a mattress after sleeping on it?", "answered"),
        EarlierTurn("Where do I find my invoice?", "answered"),
    ]
    fired = check("Again: is returning a mattress after sleeping on it allowed?", earlier)
    assert fired is not None
    assert fired.detail["earlier_question"] == "Can I return a mattress after sleeping on it?"


@pytest.mark.parametrize(
    ("earlier", "text"),
    [
        ("How do I return the sofa?", "How do I return the lamp?"),
        ("Where is order 48213?", "Where is order 55102?"),
        ("Where is my order 48213?", "Can I get a refund for order 48213?"),
        ("hi", "hi"),
        ("thanks", "thanks!"),
        ("ok", "ok thank you"),
    ],
)
def test_different_questions_and_chit_chat_are_not_repeats(earlier, text):
    assert check(text, [EarlierTurn(earlier, "answered")]) is None


@pytest.mark.parametrize(
    ("earlier", "text"),
    [
        ("Where is my order?", "where's my order??"),
        ("Where is order 48213?", "order 48213, where is it"),
        ("Refund?", "refund??"),
    ],
)
def test_the_same_few_words_again_are_a_repeat(earlier, text):
    fired = check(text, [EarlierTurn(earlier, "answered")])
    assert fired is not None
    assert fired.detail["signals"] == ["rephrased"]


def test_stricter_similarity_setting_ignores_loose_rephrasing():
    earlier = [EarlierTurn("When will my sofa be delivered?", "answered")]
    assert check("What's the delivery date for my sofa??", earlier, similarity=0.95) is None


# (c) unresolved turns in a row


def test_unresolved_turns_in_a_row_escalate():
    fired = check("What about a medium one?", UNRESOLVED)
    assert fired is not None
    assert fired.escalate
    assert fired.detail["unresolved_outcomes"] == ["unknown", "clarify"]
    assert "unresolved" in fired.evidence


def test_an_answer_in_between_breaks_the_run():
    earlier = [UNRESOLVED[0], EarlierTurn("Do you deliver on Saturdays?", "answered"), UNRESOLVED[1]]
    assert check("What about a medium one?", earlier) is None


def test_fewer_turns_than_the_setting_do_not_fire():
    assert check("What about a medium one?", UNRESOLVED[:1]) is None
    assert check("What about a medium one?", UNRESOLVED, unresolved_turns=3) is None


def test_refusals_and_handoffs_are_not_unresolved_answers():
    earlier = [EarlierTurn("Write me a poem", "refused"), EarlierTurn("Can a person call me?", "handoff")]
    assert check("What about a medium one?", earlier) is None


def test_goodbye_after_failures_does_not_fire():
    assert check("ok thanks, bye", UNRESOLVED) is None


# all together, and edges


def test_every_signal_that_fired_is_in_the_evidence():
    earlier = [
        EarlierTurn("Can I pay for the dining table in instalments?", "unknown"),
        EarlierTurn("Do you offer instalments?", "failed"),
    ]
    fired = check("That's not what I asked. Can I pay for the dining table in instalments?", earlier)
    assert fired is not None
    assert fired.detail["signals"] == ["said", "rephrased", "unresolved"]
    assert fired.evidence.count(";") == 2


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_message_fires_nothing(text):
    assert check(text, UNRESOLVED) is None


def test_typographic_apostrophes_match():
    assert check("That’s not what I asked", ANSWERED) is not None


def test_very_long_message_is_handled():
    filler = "I need the sideboard delivered before my party but the tracking page shows nothing. " * 650
    assert len(filler) > 50_000
    assert check(filler, ANSWERED * 10) is None
    fired = check(filler + "Anyway, that didn't help.", ANSWERED * 10)
    assert fired is not None
    assert fired.detail["signals"] == ["said"]
