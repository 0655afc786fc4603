"""Where a turn goes next: pure functions of the state."""

from __future__ import annotations

from typing import Literal

from agent.state import TurnState
from handoff.triggers.assess import guard_escalations


def after_assess(
    state: TurnState,
) -> Literal["hand_off", "refuse", "curated_reply", "offer_contact", "retrieve"]:
    """A trigger that escalates wins over everything; then a blocked message is refused; then curated
    intents; then the knowledge base."""
    if any(t.get("escalate") for t in state.get("triggers", [])):
        return "hand_off"
    if state.get("blocked"):
        return "refuse"
    intent = state.get("intent")
    if intent in ("empty", "greeting", "thanks"):
        return "curated_reply"
    if intent == "contact":
        return "offer_contact"
    return "retrieve"


def after_check(state: TurnState) -> Literal["hand_off", "deliver"]:
    """A guard that checked the answer may escalate the turn to a person instead of sending it."""
    return "hand_off" if guard_escalations(state.get("guards", {})) else "deliver"


def after_deliver(state: TurnState) -> Literal["await_human", "__end__"]:
    """A handed-off turn waits for the person; every other turn ends."""
    return "await_human" if state.get("handoff") else "__end__"


def after_retrieve(state: TurnState, *, min_confidence: float) -> Literal["answer", "say_unknown"]:
    if state.get("passages") and state.get("confidence", 0.0) >= min_confidence:
        return "answer"
    return "say_unknown"
