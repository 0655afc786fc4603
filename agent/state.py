"""Typed state of one customer turn (serialisable: no clients, sessions or ORM rows)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

RESET = "__reset__"


def merge_per_turn(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Merge updates within a turn; an update carrying RESET starts the dict afresh (each new turn)."""
    if new.get(RESET):
        return {k: v for k, v in new.items() if k != RESET}
    return {**(old or {}), **new}


Mode = Literal["full", "degraded", "minimal", "offline"]
Outcome = Literal["answered", "unknown", "clarify", "handoff", "refused", "failed"]


class Citation(TypedDict):
    n: int
    """The number shown in the reply, [n]."""
    chunk_id: str
    article: str
    version: int
    version_id: int
    title: str
    section: str
    anchor: str
    quote: str
    """The exact passage text that was quoted or relied on."""


class TurnState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation so far (customer and assistant), kept by the checkpointer per thread."""
    conversation_id: str
    message_id: int
    """Id of the stored customer message this turn answers."""
    text: str
    """The customer's message after normalisation and bounding; what the nodes read."""
    truncated: bool
    mode: Mode
    """The rung this turn is served on; set from the breakers at the start, lowered by a node that fails."""
    mode_reason: str
    """Why this rung (shown in the chat page, the health registry and the turn record)."""
    search_query: str | None
    """Full mode: the LLM's standalone rewrite of a follow-up question; None when not rewritten."""
    summary: str | None
    """Full mode: a summary of turns too old to send verbatim (kept across turns by the checkpointer)."""
    summary_upto: int
    """How many earlier turns `summary` covers."""
    answer_source: Literal["llm", "extractive", "curated"] | None
    model: str | None
    """The model that wrote the answer, when one did."""
    llm_usage: Annotated[dict[str, Any], merge_per_turn]
    """Per LLM call of this turn (answer, rewrite, summary): model, tokens, cost, latency, attempts."""
    intent: str | None
    """A curated intent when one matched (greeting, thanks, contact), else None."""
    sentiment: float | None
    """This customer message's sentiment, -1..1 (VADER plus support cues)."""
    triggers: list[dict[str, Any]]
    """Handoff triggers that fired this turn, most urgent first: reason, evidence, escalate, detail."""
    blocked: dict[str, Any] | None
    """Set when an input rail blocked the message: {"rail", "reply", "handoff"}; the turn is refused."""
    handoff: dict[str, Any] | None
    """The handoff packet when this turn hands the conversation to a person, else None."""
    turn_log: list[dict[str, Any]]
    """Earlier customer turns (text, outcome, sentiment, answer, citations, confidence), kept across turns
    by the checkpointer for the triggers and the packet; cleared when a person hands the thread back."""
    passages: list[dict[str, Any]]
    """Passages retrieved for this turn; replaced each turn, never appended."""
    confidence: float
    focus: str | None
    """The entity the conversation is about, when the KB has entity metadata."""
    reply: str
    citations: list[Citation]
    outcome: Outcome
    handoff_reason: str | None
    guards: Annotated[dict[str, Any], merge_per_turn]
    """Verdicts of each check, merged across the nodes of one turn."""
    latencies_ms: Annotated[dict[str, float], merge_per_turn]
    prompt_versions: Annotated[dict[str, int], merge_per_turn]
