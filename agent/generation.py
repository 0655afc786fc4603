"""Full and Degraded modes: the messages sent to a model, and reading its structured reply back.

Passages reach the model as numbered, delimited data. Its [n] markers are renumbered in order of first
use and each becomes a citation whose quote is the passage text the citing sentences rely on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from types import ModuleType
from typing import Any, TypeVar

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ValidationError

from agent.citations import citation_for
from agent.extractive import extract_quote
from agent.llm import approx_tokens
from agent.prompts import answer as answer_prompt
from agent.prompts import rewrite as rewrite_prompt
from agent.prompts import summarise as summarise_prompt
from agent.prompts.store import Prompt
from agent.state import Citation
from core.faults import DependencyFault
from knowledge.entities import Turn

__all__ = [
    "SUMMARY_BATCH",
    "UncitedAnswer",
    "answer_messages",
    "bounded_history",
    "cite",
    "parse_answer",
    "parse_text",
    "parse_tool",
    "rewrite_messages",
    "summary_messages",
    "unsummarised_tail",
]

_Schema = TypeVar("_Schema", bound=BaseModel)

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_MARKERS_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*,\s*\d+)*\])+)")
"""Markers written after the full stop ("… days. [1]"): they belong to the sentence before them."""


class UncitedAnswer(ValueError):
    """The model's reply states facts without valid citations."""


def _passage(n: int, p: dict[str, Any]) -> str:
    title = p.get("title") or ""
    if p.get("section") and p["section"] != "Overview":
        title = f"{title} › {p['section']}"
    return answer_prompt.PASSAGE.format(n=n, title=title.replace('"', "'"), text=p["text"].strip())


def passages_block(passages: Sequence[dict[str, Any]]) -> str:
    """The numbered, delimited passages exactly as the model sees them."""
    return "\n".join(_passage(n, p) for n, p in enumerate(passages, 1))


def fit_passages(passages: Sequence[dict[str, Any]], budget_tokens: int) -> list[dict[str, Any]]:
    """The leading passages whose blocks fit the budget (at least one): exactly those the model is shown."""
    shown: list[dict[str, Any]] = []
    used = 0
    for n, p in enumerate(passages, 1):
        cost = approx_tokens(_passage(n, p))
        if shown and used + cost > budget_tokens:
            break
        shown.append(p)
        used += cost
    return shown


def bounded_history(turns: Sequence[Turn], budget_tokens: int) -> tuple[list[Turn], list[Turn]]:
    """Split earlier turns into (older, kept): the newest turns that fit the budget are kept verbatim."""
    kept: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        cost = approx_tokens(turn.text) + 4
        if used + cost > budget_tokens:
            break
        kept.append(turn)
        used += cost
    kept.reverse()
    return list(turns[: len(turns) - len(kept)]), kept


SUMMARY_BATCH = 6
"""Earlier-turn entries (three exchanges) that may pass out of the context window before the summary takes
them in: the summary call is made once per batch rather than on every turn of a long conversation, and until
then the answer gets them verbatim (`unsummarised_tail`)."""


def unsummarised_tail(turns: Sequence[Turn], older: int, summarised: int) -> list[Turn]:
    """The earlier turns the answer gets verbatim: those within the context window (after the first `older`),
    and before them the ones the summary has not taken in yet (after the first `summarised`), at most
    SUMMARY_BATCH of those."""
    start = max(min(summarised, older), older - SUMMARY_BATCH)
    return list(turns[start:])


def answer_messages(
    *,
    question: str,
    passages: Sequence[dict[str, Any]],
    history: Sequence[Turn],
    summary: str | None,
    company: str,
    single_turn: bool,
    prompt: Prompt | ModuleType = answer_prompt,
) -> list[BaseMessage]:
    """Full: summary + recent turns + passages + question. Degraded (`single_turn`): passages + question."""
    system = prompt.SYSTEM.format(company=company)
    if single_turn:
        system = f"{system}\n\n{prompt.DEGRADED_NOTE}"
    messages: list[BaseMessage] = [SystemMessage(system)]
    if not single_turn:
        if summary:
            messages.append(SystemMessage(prompt.HISTORY_SUMMARY.format(summary=summary)))
        for turn in history:
            messages.append(HumanMessage(turn.text) if turn.role == "customer" else AIMessage(turn.text))
    block = passages_block(passages)
    messages.append(HumanMessage(prompt.PASSAGES.format(passages=block, question=question)))
    return messages


def _transcript(turns: Sequence[Turn]) -> str:
    return "\n".join(f"{'Customer' if t.role == 'customer' else 'Assistant'}: {t.text}" for t in turns)


def rewrite_messages(
    *, question: str, history: Sequence[Turn], prompt: Prompt | ModuleType = rewrite_prompt
) -> list[BaseMessage]:
    return [
        SystemMessage(prompt.SYSTEM),
        HumanMessage(prompt.USER.format(history=_transcript(history), question=question)),
    ]


def summary_messages(
    *, previous: str | None, turns: Sequence[Turn], prompt: Prompt | ModuleType = summarise_prompt
) -> list[BaseMessage]:
    prefix = f"Earlier summary: {previous}\n\n" if previous else ""
    return [
        SystemMessage(prompt.SYSTEM),
        HumanMessage(prompt.USER.format(previous=prefix, history=_transcript(turns))),
    ]


def _content_text(message: AIMessageChunk) -> str:
    content = message.content
    if isinstance(content, str):
        return content.strip()
    return " ".join(
        str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
    ).strip()


def parse_text(message: AIMessageChunk) -> str:
    """A plain-text reply (a rewritten query, a summary); empty output is a fault."""
    text = _content_text(message)
    if not text:
        raise DependencyFault("empty", "no text in the reply")
    return text


def parse_tool(message: AIMessageChunk, schema: type[_Schema]) -> _Schema | None:
    """The tool call's arguments read into `schema`; None when the model sent no tool call.

    Unreadable or truncated JSON raises DependencyFault so the ladder moves on.
    """
    if message.tool_call_chunks:
        raw = message.tool_call_chunks[0].get("args") or ""
        try:
            args = json.loads(raw) if raw else {}
        except json.JSONDecodeError as exc:
            raise DependencyFault("malformed", f"{schema.__name__} arguments are not valid JSON") from exc
        try:
            return schema.model_validate(args)
        except ValidationError as exc:
            raise DependencyFault("malformed", f"{schema.__name__} arguments do not fit the schema") from exc
    for call in message.tool_calls:
        try:
            return schema.model_validate(call["args"])
        except ValidationError as exc:
            raise DependencyFault("malformed", f"{schema.__name__} arguments do not fit the schema") from exc
    if message.invalid_tool_calls:
        raise DependencyFault("malformed", f"{schema.__name__} tool call could not be read")
    return None


def parse_answer(message: AIMessageChunk) -> answer_prompt.Answer:
    """The structured Answer from a tool call; a model that replied in prose is read as prose.

    Unreadable or truncated JSON, or nothing at all, raises DependencyFault so the ladder moves on.
    """
    parsed = parse_tool(message, answer_prompt.Answer)
    if parsed is not None:
        return parsed
    text = _content_text(message)
    if not text:
        raise DependencyFault("empty", "no answer in the reply")
    cited = bool(_MARKER.search(text))
    return answer_prompt.Answer(text=text, citations=[], answerable=cited, confidence=0.5 if cited else 0.0)


def _numbers(match: re.Match[str]) -> list[int]:
    return [int(raw) for raw in match.group(1).split(",")]


def cite(text: str, passages: Sequence[dict[str, Any]]) -> tuple[str, list[Citation]]:
    """Renumber the model's [n] markers 1, 2, … by first use and build a citation for each passage.

    Raises UncitedAnswer when a marker names no passage it was given, or when nothing is cited.
    """
    order: list[int] = []
    for match in _MARKER.finditer(text):
        for n in _numbers(match):
            if not 1 <= n <= len(passages):
                raise UncitedAnswer(f"marker [{n}] names no passage of this turn")
            if n not in order:
                order.append(n)
    if not order:
        raise UncitedAnswer("the reply cites no passage")
    renumber = {old: new for new, old in enumerate(order, 1)}

    def swap(match: re.Match[str]) -> str:
        numbers = dict.fromkeys(renumber[n] for n in _numbers(match))
        return "".join(f"[{n}]" for n in numbers)

    reply = _MARKER.sub(swap, text)
    sentences = _SENTENCE_END.split(_MARKERS_AFTER_STOP.sub(r"\2\1", text))
    citations: list[Citation] = []
    for old in order:
        citing = " ".join(s for s in sentences if any(old in _numbers(m) for m in _MARKER.finditer(s)))
        passage = passages[old - 1]
        quote = extract_quote(passage["text"], _MARKER.sub("", citing))
        citations.append(citation_for(renumber[old], passage, quote))
    return reply, citations
