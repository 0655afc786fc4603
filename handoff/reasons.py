"""Why a conversation goes to a person. Recorded in every turn record and on every ticket."""

from __future__ import annotations

from enum import StrEnum


class HandoffReason(StrEnum):
    EXPLICIT_REQUEST = "explicit_request"
    """The customer asked for a person."""
    RISKY_TOPIC = "risky_topic"
    """Legal threats, bereavement, fraud, account takeover, self-harm, safety: a person must handle it."""
    COMPLAINT = "complaint"
    """The customer wants to file a formal complaint or claim."""
    SENTIMENT = "sentiment"
    """The customer is very upset, or their mood keeps falling over the conversation."""
    REPEATED_FAILURE = "repeated_failure"
    """The bot did not help: the same question rephrased, "that didn't help", or unresolved turns in a row."""
    LOW_CONFIDENCE = "low_confidence"
    """Retrieval found nothing it is sure answers the question (a person is offered, not forced)."""
    GUARDRAIL = "guardrail"
    """A guardrail escalated the turn (see the guard events in the packet)."""
    OFFLINE = "offline"
    """The agent could not look anything up (no retrieval or no database): a person must follow up."""


BASE_PRIORITY: dict[HandoffReason, int] = {
    HandoffReason.RISKY_TOPIC: 80,
    HandoffReason.GUARDRAIL: 70,
    HandoffReason.SENTIMENT: 60,
    HandoffReason.COMPLAINT: 60,
    HandoffReason.EXPLICIT_REQUEST: 50,
    HandoffReason.REPEATED_FAILURE: 50,
    HandoffReason.LOW_CONFIDENCE: 40,
    HandoffReason.OFFLINE: 30,
}
"""Queue priority by reason, before sentiment and waiting time are added (higher is served first)."""
