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


def _leaving(messages: Sequence[AnyMessage], *, adding: int, limit: int) -> tuple[list[AnyMessage], int]:
    """The oldest messages that leave so the thread holds at most `limit` once `adding` more join it, cut
    before a customer message (a thread never starts with an answer), and how many `earlier_turns` entries
    they are (what `summary_upto` counts)."""
    excess = len(messages) + adding - limit
    if excess <= 0:
        return [], 0
    cut = excess
    while cut < len(messages) and messages[cut].type != "human":
        cut += 1
    if cut >= len(messages):
        return [], 0
    leaving = list(messages[:cut])
    return leaving, len(earlier_turns([*leaving, HumanMessage(content="")], limit=len(leaving) + 1))


def leaving_entries(messages: Sequence[AnyMessage], *, adding: int, limit: int) -> int:
    """How many earlier-turn entries leave the thread at the end of this turn (see `trimmed`): the summary
    has to cover at least these first."""
    return _leaving(messages, adding=adding, limit=limit)[1]


def trimmed(
    messages: Sequence[AnyMessage], *, adding: int, limit: int, summarised: int, hard_limit: int
) -> tuple[list[RemoveMessage], int]:
    """What leaves the thread so that it holds at most `limit` messages once `adding` more join it, and the
    new `summary_upto` (the summarised entries that left are no longer counted; the summary keeps them).

    Turns leave once the summary covers them: in Full mode the turn summarises what is about to leave
    (contextualise). While it has not (the optional summary call failed or ran out of time) they stay, up to
    `hard_limit` messages; past that, or with no model to write a summary, they leave all the same."""
    leaving, entries = _leaving(messages, adding=adding, limit=limit)
    if not leaving:
        return [], summarised
    if entries > summarised and len(messages) + adding <= hard_limit:
        return [], summarised
    return [RemoveMessage(id=str(m.id)) for m in leaving], max(0, summarised - entries)
