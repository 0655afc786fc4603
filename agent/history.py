"""Earlier turns of the conversation, as the knowledge package's `Turn`s."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AnyMessage

from knowledge.entities import Turn


def earlier_turns(messages: Sequence[AnyMessage], *, limit: int = 8) -> list[Turn]:
    """The turns before the latest customer message, oldest first, at most `limit`."""
    turns = [
        Turn(role="customer" if m.type == "human" else "agent", text=str(m.content))
        for m in messages
        if m.type in ("human", "ai")
    ]
    return turns[:-1][-limit:] if turns else []
