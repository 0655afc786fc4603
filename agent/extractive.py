"""Minimal-mode answers: quote the most relevant sentences of a passage, never words of our own."""

from __future__ import annotations

import re

from knowledge.lexical import tokenize

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def _units(text: str) -> list[str]:
    """Sentences, keeping list items and lines as they are (a step list stays readable)."""
    units: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if re.match(r"^([-*]|\d+[.)])\s", line):
            units.append(line)
        else:
            units.extend(s.strip() for s in _SENTENCE.split(line) if s.strip())
    return units


def extract_quote(text: str, query: str, *, max_words: int = 120) -> str:
    """The passage itself when short; else its sentences most related to the query, in their order."""
    if len(text.split()) <= max_words:
        return text.strip()
    units = _units(text)
    wanted = set(tokenize(query))
    overlap = [len(wanted.intersection(tokenize(u))) for u in units]
    relevant = [i for i in range(len(units)) if overlap[i]] or list(range(len(units)))
    scored = sorted(relevant, key=lambda i: (-overlap[i], i))
    chosen: list[int] = []
    words = 0
    for i in scored:
        n = len(units[i].split())
        if chosen and words + n > max_words:
            continue
        chosen.append(i)
        words += n
        if words >= max_words:
            break
    chosen.sort()
    parts: list[str] = []
    for prev, i in zip([-1, *chosen], chosen, strict=False):
        if i != prev + 1 and parts:
            parts.append("…")
        parts.append(units[i])
    return "\n".join(parts)


def quote_is_from(quote: str, passage: str) -> bool:
    """Every quoted line (ellipses aside) appears verbatim in the passage."""
    flat = f" {' '.join(passage.split())} "
    return all(
        f" {' '.join(line.split())} " in flat for line in quote.splitlines() if line.strip() and line != "…"
    )
