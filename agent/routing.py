"""Where a turn goes next: pure functions of the state."""

from __future__ import annotations

from typing import Literal

from agent.state import TurnState


def after_screen(state: TurnState) -> Literal["curated_reply", "offer_human", "contextualise"]:
    intent = state.get("intent")
    if intent in ("empty", "greeting", "thanks"):
        return "curated_reply"
    if intent == "human":
        return "offer_human"
    return "contextualise"


def after_retrieve(state: TurnState, *, min_confidence: float) -> Literal["answer", "say_unknown"]:
    if state.get("passages") and state.get("confidence", 0.0) >= min_confidence:
        return "answer"
    return "say_unknown"
