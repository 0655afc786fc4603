"""Fetch knowledge passages for the customer's latest message, with the conversation as context."""

from __future__ import annotations

import logging
from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.history import earlier_turns
from agent.nodes._timing import timed
from agent.state import TurnState

logger = logging.getLogger(__name__)


@timed("retrieve")
def retrieve(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    kb = runtime.context.kb
    result = kb.search(state["text"], history=earlier_turns(state.get("messages", [])))
    return {
        "passages": [p.to_dict() for p in result.passages],
        "confidence": round(result.confidence, 4),
        "focus": result.focus.entity,
        "guards": {
            "retrieval": {
                "lexical_only": result.lexical_only,
                "query_expanded": result.query != state["text"],
            }
        },
    }
