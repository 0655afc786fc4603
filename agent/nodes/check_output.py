"""Before delivery: every citation marker points to a passage of this turn, and every quote is verbatim."""

from __future__ import annotations

import re
from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.extractive import quote_is_from
from agent.nodes._timing import timed
from agent.nodes.answer import extractive_answer
from agent.prompts import minimal
from agent.state import TurnState

_MARKER = re.compile(r"\[(\d+)\]")


def citation_problems(
    reply: str, citations: list[dict[str, Any]], passages: list[dict[str, Any]]
) -> list[str]:
    """What is wrong with the reply's citations; empty when all is well."""
    problems: list[str] = []
    by_n = {c["n"]: c for c in citations}
    texts = {p["id"]: p["text"] for p in passages}
    for n in {int(m) for m in _MARKER.findall(reply)}:
        if n not in by_n:
            problems.append(f"marker [{n}] has no citation")
    for c in citations:
        if c["chunk_id"] not in texts:
            problems.append(f"citation [{c['n']}] is not a passage of this turn")
        elif not quote_is_from(c["quote"], texts[c["chunk_id"]]):
            problems.append(f"citation [{c['n']}] quotes text the passage does not contain")
    return problems


@timed("check_output")
def check_output(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    problems = citation_problems(
        state.get("reply", ""), [dict(c) for c in state.get("citations", [])], state.get("passages", [])
    )
    if not problems:
        return {"guards": {"citations": "ok"}}
    if state.get("answer_source") == "llm":  # a generated answer failed: quote the passages instead
        fallback = extractive_answer(state, runtime)
        if not citation_problems(fallback["reply"], fallback["citations"], state.get("passages", [])):
            return fallback | {
                "mode": "minimal",
                "mode_reason": "the model's answer failed the citation check; passages quoted instead",
                "guards": {"citations": {"blocked": problems, "fallback": "extractive"}},
            }
    return {
        "reply": minimal.UNKNOWN,
        "citations": [],
        "outcome": "unknown",
        "guards": {"citations": {"blocked": problems}},
    }
