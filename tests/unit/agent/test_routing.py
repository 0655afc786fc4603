"""Where a turn goes next: `agent.routing`."""

from __future__ import annotations

import pytest

from agent.routing import after_retrieve, after_screen

PASSAGE = {"id": "refunds#timing-0123456789", "text": "Refunds take 3–5 business days."}


@pytest.mark.parametrize("intent", ["empty", "greeting", "thanks"])
def test_curated_intents_get_a_curated_reply(intent):
    assert after_screen({"intent": intent}) == "curated_reply"


def test_a_request_for_a_person_is_offered_a_human():
    assert after_screen({"intent": "human"}) == "offer_human"


@pytest.mark.parametrize("state", [{}, {"intent": None}, {"intent": "something-new"}])
def test_anything_else_goes_to_retrieval(state):
    assert after_screen(state) == "contextualise"


def test_confidence_above_the_threshold_answers():
    assert after_retrieve({"passages": [PASSAGE], "confidence": 0.61}, min_confidence=0.6) == "answer"


def test_confidence_exactly_at_the_threshold_answers():
    assert after_retrieve({"passages": [PASSAGE], "confidence": 0.6}, min_confidence=0.6) == "answer"


def test_confidence_just_below_the_threshold_says_unknown():
    assert after_retrieve({"passages": [PASSAGE], "confidence": 0.5999}, min_confidence=0.6) == "say_unknown"


def test_no_passages_says_unknown_whatever_the_confidence():
    assert after_retrieve({"passages": [], "confidence": 0.99}, min_confidence=0.6) == "say_unknown"
    assert after_retrieve({"confidence": 0.99}, min_confidence=0.6) == "say_unknown"


def test_missing_confidence_counts_as_zero():
    assert after_retrieve({"passages": [PASSAGE]}, min_confidence=0.0) == "answer"
    assert after_retrieve({"passages": [PASSAGE]}, min_confidence=0.01) == "say_unknown"
