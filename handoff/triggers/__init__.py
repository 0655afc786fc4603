"""Handoff triggers: pure functions of the customer's text and the conversation so far.

Each trigger returns a `Trigger` (a reason code and the evidence a person can read) or None.
`handoff.triggers.assess` combines them for one turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from handoff.reasons import HandoffReason


@dataclass(frozen=True)
class Trigger:
    reason: HandoffReason
    evidence: str
    """What fired it, readable by an agent: the phrase that matched, the scores, the repeated question."""
    escalate: bool = True
    """True: hand the conversation to a person now. False: offer a person, keep answering."""
    detail: dict[str, Any] = field(default_factory=dict)
    """Machine-readable specifics (topic name, scores, similarity) for the packet and the turn record."""


@dataclass(frozen=True)
class EarlierTurn:
    """One earlier customer turn as the triggers see it."""

    text: str
    outcome: str
    """The bot's outcome for it: answered | unknown | clarify | handoff | refused | failed."""
    sentiment: float | None = None
