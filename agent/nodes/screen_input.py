"""Normalise and bound the customer's text; spot empty input and curated intents."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.intents import curated_intent
from agent.nodes._timing import timed
from agent.state import TurnState
from core.text import clean_customer_text


def _latest_customer_text(state: TurnState) -> str:
    for msg in reversed(state.get("messages", [])):
        if msg.type == "human":
            return str(msg.content)
    return ""


@timed("screen_input")
def screen_input(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Decide what kind of turn this is before any retrieval."""
    clean = clean_customer_text(
        _latest_customer_text(state), max_chars=runtime.context.settings.max_message_chars
    )
    intent = "empty" if not clean.text else curated_intent(clean.text)
    return {
        "text": clean.text,
        "truncated": clean.truncated,
        "intent": intent,
        "passages": [],
        "citations": [],
        "confidence": 0.0,
        "handoff_reason": None,
        "guards": {"input": {"truncated": clean.truncated, "original_length": clean.original_length}},
    }
