"""Earlier turns of the conversation, as the knowledge package's `Turn`s."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AnyMessage

from agent.prompts.minimal import WITHHELD
from knowledge.entities import Turn


def earlier_turns(messages: Sequence[AnyMessage], *, limit: int = 8) -> list[Turn]:
    """The turns before the latest customer message, oldest first, at most `limit`.

    A message the input rails withheld is left out with the refusal that answered it: it says nothing
    about what the customer wants to know, and would only pull retrieval and the model off course."""
    turns: list[Turn] = []
    skip_reply = False
    for m in messages:
        if m.type == "human":
            skip_reply = str(m.content) == WITHHELD
            if not skip_reply:
                turns.append(Turn(role="customer", text=str(m.content)))
        elif m.type == "ai":
            if not skip_reply:
                turns.append(Turn(role="agent", text=str(m.content)))
            skip_reply = False
    latest_withheld = (
        bool(messages) and messages[-1].type == "human" and str(messages[-1].content) == WITHHELD
    )
    if not latest_withheld:
        turns = turns[:-1]
    return turns[-limit:]
