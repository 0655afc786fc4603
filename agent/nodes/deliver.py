"""Close the turn: the reply joins the conversation history and the turn log the checkpointer keeps."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.history import trimmed
from agent.nodes.handoff import log_turn
from agent.prompts import minimal
from agent.state import TurnState


def deliver(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    reply = state.get("reply") or minimal.FAILURE
    if state.get("truncated"):
        reply = f"{minimal.TRUNCATED_NOTE}\n\n{reply}"
    covered = state.get("summary_upto", 0)
    limit = runtime.context.settings.history_max_messages
    leaving, covered_after = trimmed(
        state.get("messages", []),
        adding=1,
        limit=limit,
        summarised=covered,
        hard_limit=2 * limit if runtime.context.llm is not None else limit,
    )
    update: dict[str, Any] = {
        "reply": reply,
        "messages": [*leaving, AIMessage(content=reply)],
        "turn_log": log_turn(state, reply),
    }
    if covered_after != covered:
        update["summary_upto"] = covered_after
    return update
