"""The complaint trigger: `handoff.triggers.complaint.complaint`."""

from __future__ import annotations

import time

import pytest

from handoff.reasons import HandoffReason
from handoff.triggers.complaint import complaint

WANTS_TO_COMPLAIN = [
    "I'd like to file a formal complaint",
    "How can I lodge a complaint against your firm?",
    "I'm phoning to make a complaint about my stay",
    "I want to complain about the way I was treated",
    "where should I complain?",
    "please help me submit a grievance",
    "the service was awful so I need to register a consumer complaint",
    "i wish to open a claim against your company",
    "make a customer reclamation",
    "Complaint!",
    "a formal complaint please",
    "I have a complaint about the room",
    "Lodging a custmer complaitn against ur business",
    "i need to fiel a consumer claim",
    "great product, but I want to complain about the courier",
    "oh wonderful, three weeks late. I'm writing to complain.",
]

NOT_A_NEW_COMPLAINT = [
    "how can I claim back my deposit?",
    "I want to claim a warranty repair for my kettle",
    "I need to make an insurance claim",
    "the complaint I sent last month was sorted out, thank you",
    "no complaints here, everything arrived fine",
    "the people next door complained about the music",
    "I'm not complaining, just asking",
    "what's happening with my complaint?",
    "I don't want to file a complaint, I just want my money back",
    "",
    "   ",
]


@pytest.mark.parametrize("text", WANTS_TO_COMPLAIN)
def test_wanting_to_file_a_complaint_fires_with_the_phrase_as_evidence(text):
    fired = complaint(text)
    assert fired is not None
    assert fired.reason is HandoffReason.COMPLAINT
    assert fired.evidence and fired.evidence in text


@pytest.mark.parametrize("text", NOT_A_NEW_COMPLAINT)
def test_routine_claims_reports_and_negations_do_not_fire(text):
    assert complaint(text) is None


def test_very_long_text_is_read_quickly():
    filler = "the delivery came two days late and the box was damaged on one side, "
    long_text = (filler * (50_000 // len(filler) + 1))[:50_000]
    started = time.perf_counter()
    assert complaint(long_text) is None
    assert complaint(long_text + " so I want to lodge a complaint") is not None
    assert time.perf_counter() - started < 2.0
