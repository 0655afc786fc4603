"""Reading benchmark files: JSON Lines, tolerant of bad lines (each is reported and skipped, so one bad line
does not hide the other figures), strict about a file that cannot be read at all."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

__all__ = ["BadInput", "Loaded", "read_jsonl", "row_text"]

T = TypeVar("T")


class BadInput(ValueError):
    """The input file cannot be read at all."""


@dataclass(frozen=True)
class Loaded(Generic[T]):
    items: list[T]
    problems: list[str]
    """One line per skipped input line, naming the file and the line number."""


def read_jsonl(path: Path, parse: Callable[[Any, int], T]) -> Loaded[T]:
    """`parse(row, line_number)` each line; it raises ValueError with a readable reason for a bad row.

    Lines are split on newlines only: str.splitlines() would also split at U+2028 or U+0085 inside strings.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read ({exc})") from exc
    items: list[T] = []
    problems: list[str] = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            items.append(parse(json.loads(line), n))
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{n}: not JSON ({exc.msg})")
        except ValueError as exc:
            problems.append(f"{path}:{n}: {exc}")
    return Loaded(items, problems)


def row_text(row: Any, what: str) -> tuple[dict[str, Any], str]:
    """The row as an object and its "text" string, or ValueError naming what the row should have been."""
    if not isinstance(row, dict):
        raise ValueError("expected a JSON object")
    text = row.get("text")
    if not isinstance(text, str):
        raise ValueError(f"a {what} needs 'text' (a string)")
    return row, text
