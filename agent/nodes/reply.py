"""Replies that are not answers: curated intents, "I don't know", and the way to a person."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agent.citations import citation_for, quote_block
from agent.context import TurnContext
from agent.nodes._timing import timed
from agent.prompts import minimal
from agent.state import TurnState
from handoff.reasons import HandoffReason

_CONTACT_QUERY = "how to contact customer support phone email opening hours talk to a person"


@timed("curated_reply")
def curated_reply(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    text = {"greeting": minimal.GREETING, "thanks": minimal.THANKS, "empty": minimal.EMPTY}[
        state["intent"] or ""
    ]
    outcome = "clarify" if state["intent"] == "empty" else "answered"
    return {"reply": text, "outcome": outcome, "prompt_versions": {minimal.NAME: minimal.VERSION}}


@timed("refuse")
def refuse(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """An input rail blocked the message: a polite refusal, never an answer and never a model call."""
    blocked = state.get("blocked") or {}
    return {
        "reply": blocked.get("reply") or minimal.REFUSE_MANIPULATION,
        "citations": [],
        "outcome": "refused",
        "answer_source": "curated",
        "prompt_versions": {minimal.NAME: minimal.VERSION},
    }


def _contact_block(runtime: Runtime[TurnContext]) -> tuple[str, list[Any]]:
    """Quote the help center's own contact section, so the way to a person is never made up."""
    result = runtime.context.kb.search(_CONTACT_QUERY, k=1)
    if not result.passages or result.confidence < runtime.context.settings.answer_min_confidence:
        return "", []
    passage = result.passages[0].to_dict()
    return quote_block(1, passage, passage["text"]), [citation_for(1, passage, passage["text"])]


@timed("offer_contact")
def offer_contact(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """How to reach customer service (hours, email, phone), quoted from the help center."""
    block, citations = _contact_block(runtime)
    return {
        "reply": minimal.CONTACT + (f"\n\n{block}" if block else ""),
        "citations": citations,
        "outcome": "answered",
        "prompt_versions": {minimal.NAME: minimal.VERSION},
    }


@timed("say_unknown")
def say_unknown(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    if state.get("mode") == "offline":  # retrieval itself failed: say so, never guess
        return {
            "reply": minimal.OFFLINE,
            "citations": [],
            "outcome": "handoff",
            "handoff_reason": HandoffReason.OFFLINE.value,
            "prompt_versions": {minimal.NAME: minimal.VERSION},
        }
    confidence = float(state.get("confidence") or 0.0)
    floor = runtime.context.settings.answer_min_confidence
    offer = {
        "reason": HandoffReason.LOW_CONFIDENCE.value,
        "evidence": f"retrieval confidence {confidence:.2f} below {floor:.2f}",
        "escalate": False,  # a person is offered in the reply, not forced: rephrasing may work
        "detail": {"confidence": round(confidence, 4), "threshold": floor},
    }
    return {
        "reply": minimal.UNKNOWN,
        "citations": [],
        "outcome": "unknown",
        "triggers": [*state.get("triggers", []), offer],
        "handoff_reason": HandoffReason.LOW_CONFIDENCE.value,
        "prompt_versions": {minimal.NAME: minimal.VERSION},
    }
