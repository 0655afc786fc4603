"""The handoff packet: everything the bot knew, for the person who takes over.

Pure functions of the turn's state. The summary is written by the LLM in Full and Degraded modes (see
agent/nodes/handoff.py); `template_summary` writes it in Minimal mode, and whenever the model fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from handoff.reasons import HandoffReason
from handoff.triggers import Trigger
from knowledge.lexical import STOPWORDS

REASON_LABEL: dict[str, str] = {
    HandoffReason.EXPLICIT_REQUEST: "asked for a person",
    HandoffReason.RISKY_TOPIC: "high-risk topic",
    HandoffReason.COMPLAINT: "wants to file a complaint",
    HandoffReason.SENTIMENT: "customer is upset",
    HandoffReason.REPEATED_FAILURE: "the assistant did not help",
    HandoffReason.LOW_CONFIDENCE: "the assistant could not find an answer",
    HandoffReason.GUARDRAIL: "a guardrail escalated the chat",
    HandoffReason.OFFLINE: "the assistant was offline",
}

_BECAUSE: dict[str, str] = {
    HandoffReason.EXPLICIT_REQUEST: "the customer asked for a person",
    HandoffReason.RISKY_TOPIC: "of a high-risk topic",
    HandoffReason.COMPLAINT: "the customer wants to file a complaint",
    HandoffReason.SENTIMENT: "the customer is upset",
    HandoffReason.REPEATED_FAILURE: "the assistant did not help",
    HandoffReason.LOW_CONFIDENCE: "the assistant could not find an answer",
    HandoffReason.GUARDRAIL: "a guardrail escalated the chat",
    HandoffReason.OFFLINE: "the assistant was offline",
}

_ORDER = re.compile(r"(?:order|ord|#)\s*(?:number|no\.?|num|#)?\s*:?\s*#?\s*([A-Z]{0,3}-?\d{4,12})\b", re.I)
_EMAIL = re.compile(r"\b[\w.+-]{1,64}@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ().-]{7,18}\d(?![\w-])")
_MAX_DETAILS = 5
_FILLER = frozenset(
    "like please want need would could can talk speak someone somebody person human agent".split()
)


def collected_details(texts: Sequence[str]) -> dict[str, list[str]]:
    """Order numbers, email addresses and phone numbers the customer gave, first mention first."""
    found: dict[str, list[str]] = {"order_numbers": [], "emails": [], "phones": []}
    for text in texts:
        for key, pattern in (("order_numbers", _ORDER), ("emails", _EMAIL), ("phones", _PHONE)):
            for m in pattern.finditer(text):
                value = (m.group(1) if m.groups() else m.group(0)).strip()
                if key == "phones" and (
                    sum(c.isdigit() for c in value) < 8 or value in found["order_numbers"]
                ):
                    continue
                if value not in found[key] and len(found[key]) < _MAX_DETAILS:
                    found[key].append(value)
    return {k: v for k, v in found.items() if v}


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _substance(text: str, evidence: Sequence[str]) -> int:
    """Content words left once the request for a person itself is taken out."""
    lowered = text.lower()
    for phrase in evidence:
        lowered = lowered.replace(phrase.lower(), " ")
    words = re.findall(r"[a-z]{3,}", lowered)
    return sum(1 for w in words if w not in STOPWORDS and w not in _FILLER)


def customer_intent(
    current: str, earlier: Sequence[dict[str, Any]], *, evidence: Sequence[str] = ()
) -> dict[str, Any]:
    """What the customer is trying to do: their latest substantive question and the topic it touched.

    "Agent please" or "I'd like to talk to a real person" says nothing about the problem, so the question
    then comes from earlier turns (`evidence`: the phrases that made the message a request for a person).
    """
    question = current
    if _substance(current, evidence) < 2:
        for turn in reversed(earlier):
            if _substance(turn.get("text", ""), ()) >= 2:
                question = turn["text"]
                break
    topic = None
    for turn in reversed(earlier):
        if turn.get("citations"):
            topic = turn["citations"][0]
            break
    return {"question": _clip(question, 300), "topic": topic}


def template_summary(
    *, reason: str, triggers: Sequence[Trigger], current: str, earlier: Sequence[dict[str, Any]], trend: str
) -> str:
    """A summary without an LLM: the request, why it was handed over, and how the bot did so far."""
    intent = customer_intent(current, earlier, evidence=[t.evidence for t in triggers])
    parts = [f"Customer wrote: “{_clip(current, 200)}”."]
    if intent["question"] != _clip(current, 300):
        parts.append(f"Earlier question: “{_clip(intent['question'], 200)}”.")
    because = _BECAUSE.get(reason, reason)
    parts.append(f"Handed over because {because}" + (f" ({triggers[0].evidence})." if triggers else "."))
    if earlier:
        answered = sum(1 for t in earlier if t.get("outcome") == "answered")
        unresolved = sum(1 for t in earlier if t.get("outcome") in ("unknown", "failed", "clarify"))
        parts.append(
            f"Before this: {len(earlier)} customer message(s); the assistant answered {answered}"
            f" and could not answer {unresolved}."
        )
    if intent["topic"]:
        parts.append(f"Last article cited: {intent['topic']}.")
    if trend not in ("n/a", "steady"):
        parts.append(f"Sentiment is {trend}.")
    return " ".join(parts)


def build_packet(
    *,
    reason: str,
    triggers: Sequence[Trigger],
    summary: str,
    summary_source: str,
    current: str,
    earlier: Sequence[dict[str, Any]],
    sentiments: Sequence[float],
    trend: str,
    confidence: float | None,
    guards: dict[str, Any],
    mode: str,
) -> dict[str, Any]:
    """The packet as plain JSON data (stored on the ticket, shown in the agent workspace)."""
    return {
        "reason": reason,
        "reason_label": REASON_LABEL.get(reason, reason),
        "triggers": [
            {"reason": t.reason.value, "evidence": t.evidence, "escalate": t.escalate, "detail": t.detail}
            for t in triggers
        ],
        "summary": summary,
        "summary_source": summary_source,
        "intent": customer_intent(current, earlier, evidence=[t.evidence for t in triggers]),
        "sentiment": {
            "scores": [round(s, 3) for s in sentiments[-10:]],
            "trend": trend,
            "last": round(sentiments[-1], 3) if sentiments else None,
        },
        "bot_turns": [
            {
                "question": _clip(t.get("text", ""), 300),
                "answer": _clip(t.get("answer", ""), 500),
                "outcome": t.get("outcome"),
                "citations": t.get("citations", []),
                "confidence": t.get("confidence"),
            }
            for t in earlier[-5:]
        ],
        "confidence": confidence,
        "guard_events": {k: v for k, v in guards.items() if k not in ("input",)}
        | ({"input": guards["input"]} if guards.get("input", {}).get("truncated") else {}),
        "details": collected_details([*(t.get("text", "") for t in earlier), current]),
        "mode": mode,
    }


def offline_summary(text: str) -> str:
    return (
        f"Customer wrote: “{_clip(text, 200)}”. The assistant was offline and could not look anything up; "
        "the customer was told a person will follow up."
    )


def offline_packet(text: str, *, mode: str, message_id: int) -> dict[str, Any]:
    """The packet of an Offline ticket, written without the graph (it did not run)."""
    return build_packet(
        reason=HandoffReason.OFFLINE.value,
        triggers=[],
        summary=offline_summary(text),
        summary_source="template",
        current=text,
        earlier=[],
        sentiments=[],
        trend="n/a",
        confidence=None,
        guards={},
        mode=mode,
    ) | {"message_id": message_id}
