"""The retrieval rail: a passage carrying instructions for the assistant never reaches the model or the
customer, even if it got into the index without passing the ingestion scan (knowledge/scan.py)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from core.injection import scan_document

__all__ = ["screen_passages"]


@lru_cache(maxsize=4096)
def _planted(text: str) -> tuple[str, ...] | None:
    """Evidence when the passage is a planted instruction; cached, as the same passages come back often."""
    verdict = scan_document(text)
    return verdict.evidence or (verdict.category or "instruction",) if verdict.blocked else None


def screen_passages(passages: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(kept, dropped): the dropped ones with the evidence, for the turn record."""
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for p in passages:
        text = str(p.get("text", ""))
        evidence = _planted(text)
        if evidence is None:
            kept.append(p)
        else:
            dropped.append({"id": p.get("id"), "evidence": list(evidence)[:3]})
    return kept, dropped
