"""Earlier turns of the conversation, as the knowledge package's `Turn`s."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AnyMessage, HumanMessage, RemoveMessage

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


def trimmed(
    messages: Sequence[AnyMessage], *, adding: int, limit: int, summarised: int
) -> tuple[list[RemoveMessage], int]:
    """What leaves the thread so that it holds at most `limit` messages once `adding` more join it: the
    oldest, up to a customer message (a thread never starts with an answer). Also the new count of
    summarised earlier turns (`summary_upto`, which counts `earlier_turns` entries from the start).

    In Full mode the summary folds in the turns that fall out of the model's context at every turn, long
    before they leave the thread (`history_max_messages` holds more than LLM_CONTEXT_TOKENS sends), so what
    leaves is already summarised; with no model there is no summary to wait for."""
    excess = len(messages) + adding - limit
    if excess <= 0:
        return [], summarised
    cut = excess
    while cut < len(messages) and messages[cut].type != "human":
        cut += 1
    if cut >= len(messages):
        return [], summarised
    leaving = messages[:cut]
    entries = len(earlier_turns([*leaving, HumanMessage(content="")], limit=len(leaving) + 1))
    return [RemoveMessage(id=str(m.id)) for m in leaving], max(0, summarised - entries)
