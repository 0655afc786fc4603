"""Minimal mode: answer by quoting the best passages, each with a numbered citation."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.extractive import extract_quote
from agent.nodes._timing import timed
from agent.prompts import minimal
from agent.state import Citation, TurnState


def citation_for(n: int, passage: dict[str, Any], quote: str) -> Citation:
    meta = passage.get("metadata") or {}
    return Citation(
        n=n,
        chunk_id=passage["id"],
        article=str(meta.get("article", "")),
        version=int(meta.get("version", 0)),
        version_id=int(meta.get("version_id", 0)),
        title=passage.get("title") or "",
        section=passage.get("section") or "",
        anchor=str(meta.get("anchor", "")),
        quote=quote,
    )


def quote_block(n: int, passage: dict[str, Any], quote: str) -> str:
    """A quoted passage as shown to the customer: its heading, the citation number, the quote."""
    heading = passage.get("title") or ""
    if passage.get("section") and passage["section"] != "Overview":
        heading = f"{heading} › {passage['section']}"
    body = "\n".join(f"> {line}" for line in quote.splitlines())
    return f"**{heading}** [{n}]\n\n{body}"


def _worth_quoting(first: dict[str, Any], other: dict[str, Any]) -> bool:
    """A second passage is quoted only when it is nearly as close to the question as the first."""
    a, b = first.get("dense"), other.get("dense")
    if a is None or b is None:
        return False
    return (
        b >= 0.5
        and b >= a - 0.06
        and (other.get("title"), other.get("section")) != (first.get("title"), first.get("section"))
    )


@timed("answer")
def answer_minimal(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    passages = state["passages"]
    chosen = [passages[0]]
    for other in passages[1:]:
        if len(chosen) >= runtime.context.settings.quote_max_passages:
            break
        if _worth_quoting(passages[0], other):
            chosen.append(other)
    citations: list[Citation] = []
    blocks: list[str] = []
    for n, passage in enumerate(chosen, 1):
        quote = extract_quote(passage["text"], state["text"])
        citations.append(citation_for(n, passage, quote))
        blocks.append(quote_block(n, passage, quote))
    reply = "\n\n".join([minimal.ANSWER_INTRO, *blocks, minimal.ANSWER_OUTRO])
    return {
        "reply": reply,
        "citations": citations,
        "outcome": "answered",
        "prompt_versions": {minimal.NAME: minimal.VERSION},
    }
