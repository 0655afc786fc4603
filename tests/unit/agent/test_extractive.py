"""Minimal-mode quoting: `agent.extractive.extract_quote` and `quote_is_from`."""

from __future__ import annotations

from agent.extractive import extract_quote, quote_is_from

S1 = "Brightwell accepts returns within 30 days of delivery."  # 8 words
S2 = "Items must be unused and in the original packaging."  # 9
S3 = "Our stores are open from nine to five on weekdays."  # 10
S4 = "Gift cards cannot be exchanged for cash under any circumstances."  # 10
S5 = "To start a return, open your order and choose Return items."  # 11
S6 = "The warehouse is located in Ohio and ships nationwide every day."  # 11
S7 = "Refunds for returned items are issued within three business days of inspection."  # 12
LONG = " ".join([S1, S2, S3, S4, S5, S6, S7])  # 71 words


def test_a_short_passage_is_returned_whole():
    text = "Refunds take 3–5 business days. Store credit is instant."
    assert extract_quote(text, "how long do refunds take") == text


def test_a_short_passage_is_returned_without_surrounding_whitespace():
    assert extract_quote("\n  Refunds take 3–5 business days.  \n", "refunds", max_words=10) == (
        "Refunds take 3–5 business days."
    )


def test_a_passage_of_exactly_max_words_is_returned_whole():
    assert extract_quote(LONG, "zebra", max_words=71) == LONG


def test_a_long_passage_gives_the_sentences_sharing_query_words_in_original_order():
    quote = extract_quote(LONG, "how do I return an item for a refund", max_words=23)
    # S7 shares refund/return/item, S5 return/item: both chosen, S5 first as in the passage.
    assert quote == f"{S5}\n…\n{S7}"


def test_gaps_between_quoted_sentences_are_marked_with_an_ellipsis_line():
    quote = extract_quote(LONG, "warehouse refunds delivery", max_words=35)
    assert quote == f"{S1}\n…\n{S6}\n{S7}"


def test_adjacent_quoted_sentences_have_no_ellipsis_between_them():
    quote = extract_quote(LONG, "warehouse ohio refunds inspection", max_words=23)
    assert quote == f"{S6}\n{S7}"


def test_a_quote_starting_after_the_first_sentence_has_no_leading_ellipsis():
    assert extract_quote(LONG, "gift cards cash", max_words=10) == S4


def test_the_quote_stays_within_max_words():
    for max_words in (12, 20, 30, 45, 60):
        quote = extract_quote(LONG, "refund return items delivery warehouse", max_words=max_words)
        assert len(quote.replace("…", "").split()) <= max_words


def test_a_best_sentence_longer_than_max_words_is_quoted_whole_and_alone():
    assert extract_quote(LONG, "refunds returned inspection", max_words=5) == S7


def test_with_no_query_words_in_common_the_opening_sentences_are_quoted():
    assert extract_quote(LONG, "zebra", max_words=20) == f"{S1}\n{S2}"


def test_sentences_sharing_no_query_word_are_not_quoted_when_some_do():
    assert extract_quote(LONG, "gift cards cash", max_words=30) == S4


def test_list_items_are_kept_as_whole_units():
    steps = (
        "Follow these steps to return an order from your account page on the Brightwell website.\n"
        "- Open Orders and pick the order\n"
        "- Choose Return items and print the label\n"
        "1. Drop the parcel at a Parcel Point"
    )
    assert extract_quote(steps, "print label", max_words=12) == "- Choose Return items and print the label"


def test_extracted_quotes_are_from_the_passage():
    for query in ("return an item", "gift cards cash", "warehouse refunds delivery", "zebra"):
        quote = extract_quote(LONG, query, max_words=25)
        assert quote_is_from(quote, LONG)


def test_a_quote_is_from_its_passage_despite_different_line_breaks_and_spacing():
    assert quote_is_from("accepts returns\n   within  30 days", LONG)


def test_an_altered_quote_is_not_from_the_passage():
    assert not quote_is_from("Brightwell accepts returns within 60 days of delivery.", LONG)


def test_one_altered_line_makes_the_whole_quote_not_from_the_passage():
    assert not quote_is_from(f"{S1}\n…\nRefunds are issued within one business day.", LONG)


def test_a_quote_from_another_passage_is_not_from_this_one():
    assert not quote_is_from("Refunds take 3–5 business days.", LONG)


def test_a_quote_that_cuts_a_number_short_is_not_from_the_passage():
    assert not quote_is_from("Brightwell accepts returns within 3", LONG)
