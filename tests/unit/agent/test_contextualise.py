"""Which model may write the history summary: the turns about to leave the thread cannot wait for the primary,
routine batches can."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from agent.context import TurnContext
from agent.history import leaving_entries
from agent.llm import AllModelsFailed
from agent.nodes.contextualise import contextualise


class PrimaryDown:
    """A ladder whose primary is down: only the fallback answers, so a primary-only call fails."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool, str]] = []

    def run(self, purpose: str, build: Any, parse: Any, **kw: Any) -> Any:
        messages, _ = build(None, False)
        self.calls.append((purpose, kw["only_primary"], str(messages[-1].content)))
        if kw["only_primary"]:
            raise AllModelsFailed([("primary", "circuit open")])
        return SimpleNamespace(value=f"summary {len(self.calls)}", usage=SimpleNamespace(as_dict=dict))


def test_only_the_chunk_leaving_the_thread_goes_to_the_fallback(settings) -> None:  # type: ignore[no-untyped-def]
    messages = []
    for n in range(15):  # 30 messages: earlier turns far past a small context window
        messages += [HumanMessage(f"question {n:02d}", id=f"h{n}"), AIMessage(f"answer {n:02d}", id=f"a{n}")]
    messages.append(HumanMessage("question 15", id="h15"))
    config = settings.model_copy(update={"history_max_messages": 24, "llm_context_tokens": 20})
    leaving = leaving_entries(messages, adding=1, limit=24)
    assert 0 < leaving < 12  # fewer than one chunk (12 entries) leaves; the window is more than two behind
    ladder = PrimaryDown()
    ctx = TurnContext(kb=None, settings=config, llm=ladder)  # type: ignore[arg-type]
    state = {"mode": "full", "messages": messages, "text": "question 15", "summary_upto": 0}
    update = contextualise(state, SimpleNamespace(context=ctx))  # type: ignore[arg-type]
    summaries = [(primary_only, prompt) for kind, primary_only, prompt in ladder.calls if kind == "summary"]
    assert [p for p, _ in summaries] == [False, True]  # the chunk that leaves; then the next batch
    assert "question 00" in summaries[0][1]  # the oldest turn, about to leave, reached the fallback
    assert update["summary"] == "summary 1" and update["summary_upto"] == 12  # the batch waits
