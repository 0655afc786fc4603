"""Full mode: summarise turns too old for the context window; rewrite a follow-up as a standalone query.
Degraded mode (single-turn answers) only summarises the turns about to leave the thread, so a long Degraded
stretch does not drop them unsummarised; with the primary model down, the fallback summarises those.

Both are optional: when the model fails or is slow the turn goes on with the question as asked (and the
model that failed is not tried again this turn).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.generation import (
    SUMMARY_BATCH,
    bounded_history,
    parse_text,
    rewrite_messages,
    summary_messages,
)
from agent.history import earlier_turns, leaving_entries
from agent.llm import AllModelsFailed, ModelSlot
from agent.nodes._timing import timed
from agent.prompts import rewrite as rewrite_prompt
from agent.prompts import summarise as summarise_prompt
from agent.state import TurnState

logger = logging.getLogger(__name__)

_MAX_QUERY_CHARS = 300
_MAX_SUMMARISED_TURNS = 12
"""Turns folded into the summary at once; the summary itself carries what came before."""


def _same(messages: list[BaseMessage]) -> Callable[[ModelSlot, bool], tuple[list[BaseMessage], None]]:
    """A prompt that is the same whichever model takes it."""
    return lambda slot, primary: (messages, None)


@timed("contextualise")
def contextualise(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    history = earlier_turns(state.get("messages", []), limit=10_000)
    full = state.get("mode") == "full"
    if not (full or state.get("mode") == "degraded") or ctx.llm is None or not history:
        return {"search_query": None}
    update: dict[str, Any] = {"search_query": None, "llm_usage": {}, "prompt_versions": {}, "guards": {}}
    deadline = min(ctx.deadline, time.monotonic() + ctx.settings.llm_rewrite_timeout_s)
    summarise, rewrite = ctx.prompt(summarise_prompt), ctx.prompt(rewrite_prompt)

    older, _kept = bounded_history(history, ctx.settings.llm_context_tokens)
    # what leaves the thread at the end of this turn (history_max_messages) is summarised now, even if the
    # model's context window would still hold it
    leaving = leaving_entries(state.get("messages", []), adding=1, limit=ctx.settings.history_max_messages)
    covered = state.get("summary_upto", 0)
    # a batch at a time (the answer has the few waiting verbatim), and always before turns leave the thread
    due = (full and len(older) - covered >= SUMMARY_BATCH) or leaving > covered
    older = history[: max(len(older), leaving)]
    if due and len(older) > covered:
        summary, done, calls = state.get("summary"), covered, 0
        try:  # oldest first, a chunk a call, so no waiting turn is skipped (one call unless far behind)
            while done < len(older):
                prompt = summary_messages(
                    previous=summary, turns=older[done : done + _MAX_SUMMARISED_TURNS], prompt=summarise
                )
                result = ctx.llm.run(
                    "summary",
                    _same(prompt),
                    parse_text,
                    deadline=deadline,
                    skip=ctx.failed_models,
                    # a batch can wait for the primary; what leaves the thread now cannot: the fallback
                    # summarises a chunk holding any of it if the primary is down
                    only_primary=done >= leaving,
                    optional=True,
                )
                summary, done = result.value[:2000], min(len(older), done + _MAX_SUMMARISED_TURNS)
                calls += 1
                update["llm_usage"]["summary" if calls == 1 else f"summary-{calls}"] = result.usage.as_dict()
        except AllModelsFailed as exc:
            logger.warning("history summary skipped: %s", exc)
            update["guards"]["summary"] = {"skipped": str(exc)}
        if done > covered:  # what was folded in counts, even if a later chunk failed
            update |= {"summary": summary, "summary_upto": done}
            update["prompt_versions"][summarise.name] = summarise.version
    if not full:  # a Degraded answer is single-turn: no rewrite of the question
        return update

    try:
        result = ctx.llm.run(
            "rewrite",
            lambda slot, primary: (
                rewrite_messages(question=state["text"], history=history[-6:], prompt=rewrite),
                None,
            ),
            parse_text,
            deadline=deadline,
            skip=ctx.failed_models,
            only_primary=True,
            optional=True,
        )
    except AllModelsFailed as exc:
        logger.warning("query rewrite skipped: %s", exc)
        update["guards"]["rewrite"] = {"skipped": str(exc)}
        return update
    query = " ".join(str(result.value).split())[:_MAX_QUERY_CHARS].strip("\"'")
    update["search_query"] = query or None
    update["llm_usage"]["rewrite"] = result.usage.as_dict()
    update["prompt_versions"][rewrite.name] = rewrite.version
    return update
