"""Close the turn: the reply joins the conversation history and the turn log the checkpointer keeps."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.nodes.handoff import log_turn
from agent.prompts import minimal
from agent.state import TurnState


def deliver(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    reply = state.get("reply") or minimal.FAILURE
    if state.get("truncated"):
        reply = f"{minimal.TRUNCATED_NOTE}\n\n{reply}"
    return {"reply": reply, "messages": [AIMessage(content=reply)], "turn_log": log_turn(state, reply)}
