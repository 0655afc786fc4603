"""All the triggers of one customer turn, most urgent first."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.config import Settings
from handoff.reasons import BASE_PRIORITY, HandoffReason
from handoff.triggers import EarlierTurn, Trigger
from handoff.triggers.complaint import complaint
from handoff.triggers.explicit import explicit_request
from handoff.triggers.repetition import repeated_failure
from handoff.triggers.sentiment import score, sentiment_trigger, trend
from handoff.triggers.topics import risky_topic


@dataclass(frozen=True)
class Assessment:
    sentiment: float
    """This message's score, -1..1."""
    sentiments: list[float]
    """The customer's scores so far, this message last."""
    trend: str
    triggers: list[Trigger]
    """Every trigger that fired, most urgent first."""

    @property
    def escalation(self) -> Trigger | None:
        """The trigger that hands the conversation to a person now, if any."""
        return next((t for t in self.triggers if t.escalate), None)


def _urgency(trigger: Trigger) -> tuple[int, int]:
    return BASE_PRIORITY.get(trigger.reason, 0), int(trigger.detail.get("severity", 0))


def guard_escalations(guards: Mapping[str, Any]) -> list[Trigger]:
    """Guard verdicts that ask for a person (`{"escalate": True, "reason": ...}` under any check's name)."""
    fired = []
    for name, verdict in guards.items():
        if isinstance(verdict, Mapping) and verdict.get("escalate"):
            why = str(verdict.get("reason") or verdict.get("category") or "escalated")
            fired.append(Trigger(HandoffReason.GUARDRAIL, f"{name}: {why}", detail={"guard": name}))
    return fired


def assess(
    text: str,
    *,
    earlier: Sequence[EarlierTurn],
    settings: Settings,
    risky_topics: Collection[str],
    guards: Mapping[str, Any] | None = None,
) -> Assessment:
    """Run every message-level and conversation-level trigger on the customer's latest message.

    `risky_topics` are the deployment policy's `risk.handoff_topics` (core/policy.yaml)."""
    current = score(text) if text.strip() else 0.0
    sentiments = [t.sentiment for t in earlier if t.sentiment is not None] + [current]
    candidates: list[Trigger | None] = [
        explicit_request(text),
        risky_topic(text, enabled=list(risky_topics)),
        complaint(text),
        sentiment_trigger(
            sentiments,
            threshold=settings.handoff_sentiment_threshold,
            floor=settings.handoff_trend_floor,
            drop=settings.handoff_trend_drop,
            window=settings.handoff_trend_window,
        )
        if text.strip()
        else None,
        repeated_failure(
            text,
            earlier,
            unresolved_turns=settings.handoff_unresolved_turns,
            similarity=settings.handoff_rephrase_similarity,
        ),
        *guard_escalations(guards or {}),
    ]
    fired = sorted((t for t in candidates if t is not None), key=_urgency, reverse=True)
    return Assessment(
        sentiment=current,
        sentiments=sentiments,
        trend=trend(sentiments, settings.handoff_trend_window),
        triggers=fired,
    )
