"""BM25 over chunks: `knowledge.lexical.tokenize` and `BM25Index`."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.lexical import BM25Index, tokenize


def test_stopwords_are_dropped():
    assert tokenize("What is the refund policy for shoes?") == ["refund", "policy", "shoe"]


def test_stopwords_are_kept_when_asked():
    assert tokenize("What is the policy", keep_stopwords=True) == ["what", "is", "the", "policy"]


def test_greetings_and_politeness_words_are_stopwords():
    assert tokenize("Hi, thanks, please help okay") == ["help"]


def test_returns_returned_and_returning_share_one_stem():
    assert tokenize("returns returned returning return") == ["return"] * 4


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("batteries", "battery"),
        ("boxes", "box"),
        ("dishes", "dish"),
        ("charges", "charge"),
        ("glasses", "glass"),
        ("address", "address"),
        ("items", "item"),
        ("bags", "bags"),  # four letters or fewer are left alone
        ("2024", "2024"),
    ],
)
def test_light_stemming_strips_common_suffixes(word, stem):
    assert tokenize(word) == [stem]


def test_ampersand_is_read_as_and():
    assert tokenize("Bed & Breakfast", keep_stopwords=True) == ["bed", "and", "breakfast"]
    assert tokenize("B&Q") == ["b", "q"]


def test_apostrophes_are_removed_from_kept_words():
    assert tokenize("Can't find the customer's order") == ["cant", "find", "customer", "order"]


def test_text_is_lowercased():
    assert tokenize("REFUND Policy") == ["refund", "policy"]


IDS = ["damaged", "shipping", "giftcard", "tracking"]
TEXTS = [
    "Refund policy for damaged items: send a photo of the damaged item.",
    "Shipping times for orders and delivery options for your order.",
    "Gift card balance and refund to a gift card.",
    "Order tracking number lookup for your order.",
]


@pytest.fixture(scope="module")
def index() -> BM25Index:
    return BM25Index(IDS, TEXTS)


def test_document_sharing_the_rare_query_terms_ranks_first(index):
    results = index.search("refund for a damaged parcel", k=4)
    assert [doc_id for doc_id, _ in results] == ["damaged", "giftcard"]
    assert results[0][1] > results[1][1] > 0


def test_a_rare_term_outweighs_a_common_one(index):
    # "order" is in two documents, "balance" in one.
    assert index.search("order balance", k=1)[0][0] == "giftcard"


def test_documents_sharing_no_query_term_are_left_out(index):
    assert [doc_id for doc_id, _ in index.search("tracking", k=4)] == ["tracking"]


def test_scores_are_in_descending_order(index):
    scores = [score for _, score in index.search("order refund card", k=4)]
    assert scores == sorted(scores, reverse=True)
    assert len(scores) == 4


def test_allowed_restricts_results_to_those_row_positions(index):
    assert [doc_id for doc_id, _ in index.search("refund", k=4, allowed={2})] == ["giftcard"]


def test_allowed_as_numpy_array_restricts_results(index):
    assert [doc_id for doc_id, _ in index.search("refund", k=4, allowed=np.array([0, 3]))] == ["damaged"]


def test_allowed_rows_without_a_match_give_no_results(index):
    assert index.search("refund", k=4, allowed={1, 3}) == []


def test_restricting_does_not_change_a_documents_score(index):
    full = dict(index.search("refund gift card", k=4))
    restricted = dict(index.search("refund gift card", k=4, allowed={2}))
    assert restricted == {"giftcard": full["giftcard"]}


@pytest.mark.parametrize("query", ["", "   ", "the and of is", "?!"])
def test_query_without_searchable_words_gives_no_results(index, query):
    assert index.search(query, k=4) == []


def test_k_larger_than_the_index_returns_every_match(index):
    assert len(index.search("refund order card", k=100)) == 4
    assert {doc_id for doc_id, _ in index.search("order", k=100)} == {"shipping", "tracking"}


def test_k_limits_the_number_of_results(index):
    assert len(index.search("order refund card", k=2)) == 2


def test_k_zero_gives_no_results(index):
    assert index.search("refund", k=0) == []


def test_empty_index_gives_no_results():
    empty = BM25Index([], [])
    assert len(empty) == 0
    assert empty.search("refund", k=5) == []


def test_position_maps_ids_to_rows(index):
    assert [index.position(doc_id) for doc_id in IDS] == [0, 1, 2, 3]
    assert index.position("missing") is None
    assert len(index) == 4


def test_query_word_forms_match_stemmed_document_words():
    idx = BM25Index(["a", "b"], ["How returns are processed", "Opening hours of the store"])
    assert [doc_id for doc_id, _ in idx.search("returning an item", k=2)] == ["a"]
