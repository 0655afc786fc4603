"""Fetch knowledge passages for the customer's latest message, with the conversation as context."""

from __future__ import annotations

import logging
from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.guards.retrieval import screen_passages
from agent.history import earlier_turns
from agent.nodes._timing import timed
from agent.state import TurnState
from core.pii import TOKEN_RE

logger = logging.getLogger(__name__)

LEXICAL_ONLY = "vector index unavailable; lexical retrieval only"


@timed("retrieve")
def retrieve(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    kb = runtime.context.kb
    query = state.get("search_query") or state["text"]
    # "[EMAIL_1]" says nothing about the question but reads as the word "email" to both retrievers.
    words = TOKEN_RE.sub(" ", query).strip() or query
    try:
        result = kb.search(words, history=earlier_turns(state.get("messages", [])))
    except Exception:  # nothing to retrieve from at all: the Offline rung, never an invented answer
        logger.exception("knowledge retrieval failed conversation=%s", state.get("conversation_id"))
        return {
            "passages": [],
            "confidence": 0.0,
            "mode": "offline",
            "mode_reason": "knowledge retrieval failed",
        }
    passages, dropped = screen_passages([p.to_dict() for p in result.passages])
    confidence = result.confidence if passages else 0.0
    verdict: dict[str, Any] = {
        "lexical_only": result.lexical_only,
        "query_expanded": result.query != words,
        "rewritten": query != state["text"],
    }
    if dropped:
        logger.warning(
            "retrieval rail dropped %d planted passages: %s", len(dropped), [d["id"] for d in dropped]
        )
        verdict["dropped"] = dropped
    update: dict[str, Any] = {
        "passages": passages,
        "confidence": round(confidence, 4),
        "focus": result.focus.entity,
        "guards": {"retrieval": verdict},
        # its parts (ms): lexical search, the hop to a dense thread, the query's embedding, the vector index
        "latencies_ms": {
            f"retrieve.{part}": round(ms, 2) for part, ms in result.timings_ms.items() if part != "context"
        },
    }
    mode = state.get("mode", "minimal")
    if result.lexical_only and LEXICAL_ONLY not in state.get("mode_reason", ""):
        reason = state.get("mode_reason", "")
        update["mode_reason"] = f"{reason}; {LEXICAL_ONLY}" if reason and mode != "full" else LEXICAL_ONLY
        if mode == "full":
            update["mode"] = "degraded"
    return update
