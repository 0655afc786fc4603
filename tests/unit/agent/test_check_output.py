"""Citation guard before delivery: `agent.nodes.check_output.citation_problems`."""

from __future__ import annotations

from agent.nodes.check_output import citation_problems

PASSAGES = [
    {"id": "refunds#timing-0123456789", "text": "Refunds take 3–5 business days to reach a credit card."},
    {"id": "returns#window-abcdef0123", "text": "Most items can be returned within 30 days of delivery."},
]


def _citation(n: int, chunk_id: str, quote: str) -> dict[str, object]:
    return {"n": n, "chunk_id": chunk_id, "quote": quote}


def test_reply_whose_citations_quote_this_turns_passages_has_no_problems():
    reply = "Refunds take 3–5 business days [1] and returns are open for 30 days [2]."
    citations = [
        _citation(1, "refunds#timing-0123456789", "Refunds take 3–5 business days"),
        _citation(2, "returns#window-abcdef0123", "returned within 30 days of delivery."),
    ]
    assert citation_problems(reply, citations, PASSAGES) == []


def test_a_marker_repeated_in_the_reply_is_checked_once():
    citations = [_citation(1, "refunds#timing-0123456789", "Refunds take 3–5 business days")]
    assert citation_problems("Cards [1]. Also cards [1].", citations, PASSAGES) == []


def test_reply_without_markers_or_citations_has_no_problems():
    assert citation_problems("Hello! How can I help?", [], PASSAGES) == []


def test_marker_without_a_citation_is_a_problem():
    citations = [_citation(1, "refunds#timing-0123456789", "Refunds take 3–5 business days")]
    assert citation_problems("Refunds take 3–5 days [1], returns 30 days [2].", citations, PASSAGES) == [
        "marker [2] has no citation"
    ]


def test_citation_to_a_chunk_not_retrieved_this_turn_is_a_problem():
    citations = [_citation(1, "shipping#fees-9999999999", "Shipping is free over $50.")]
    assert citation_problems("Shipping is free over $50 [1].", citations, PASSAGES) == [
        "citation [1] is not a passage of this turn"
    ]


def test_citation_with_no_passages_this_turn_is_a_problem():
    citations = [_citation(1, "refunds#timing-0123456789", "Refunds take 3–5 business days")]
    assert citation_problems("Refunds take 3–5 days [1].", citations, []) == [
        "citation [1] is not a passage of this turn"
    ]


def test_quote_not_in_the_cited_passage_is_a_problem():
    citations = [_citation(1, "refunds#timing-0123456789", "Refunds take 1–2 business days")]
    assert citation_problems("Refunds take 1–2 days [1].", citations, PASSAGES) == [
        "citation [1] quotes text the passage does not contain"
    ]


def test_quote_from_another_passage_of_this_turn_is_a_problem():
    citations = [_citation(1, "refunds#timing-0123456789", "returned within 30 days of delivery.")]
    assert citation_problems("Returns: 30 days [1].", citations, PASSAGES) == [
        "citation [1] quotes text the passage does not contain"
    ]


def test_every_problem_is_reported():
    reply = "A [1]. B [2]. C [3]."
    citations = [
        _citation(1, "refunds#timing-0123456789", "Refunds take 3–5 business days"),
        _citation(2, "gone#chunk-0000000000", "anything"),
    ]
    assert sorted(citation_problems(reply, citations, PASSAGES)) == [
        "citation [2] is not a passage of this turn",
        "marker [3] has no citation",
    ]
