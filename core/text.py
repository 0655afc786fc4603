"""Text hygiene for anything a customer types: normalise, strip invisible characters, bound the length."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Zero-width and bidirectional control characters: invisible, used to smuggle or reorder text.
# ZWJ (U+200D) is left out: it joins emoji sequences; inside a word it is removed by _WORD_JOINER.
_INVISIBLE = re.compile("[\u200b\u200c\u200e\u200f\u061c\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
_WORD_JOINER = re.compile(r"(?<=\w)\u200d|\u200d(?=\w)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def mend(text: str) -> str:
    """What no database can store goes: NUL characters, and lone UTF-16 surrogates (half an emoji, from a
    cut string or a broken PDF) become U+FFFD."""
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


_LINE_UNSAFE = re.compile("[\u200b\u2060\ufeff\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """A title, category or tag as lists show it: `mend`ed, on one line, without control characters or the
    bidirectional embeddings, overrides and isolates that make a title read as another in a list (U+202E
    before "DNUFER" shows "REFUND"), spaces collapsed. Marks (U+200E/F) stay: right-to-left titles need
    them."""
    text = _LINE_UNSAFE.sub("", mend(text))
    return " ".join(_CONTROL.sub(" ", text).split())


@dataclass(frozen=True)
class CleanText:
    text: str
    """The normalised text, possibly truncated."""
    truncated: bool
    original_length: int


def clean_customer_text(raw: str, *, max_chars: int) -> CleanText:
    """NFKC-normalise, drop control and zero-width characters, collapse spaces and bound the length.

    The raw text is stored elsewhere untouched; this is what the agent processes.
    """
    text = unicodedata.normalize("NFKC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", text)
    text = _WORD_JOINER.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text).strip()
    truncated = len(text) > max_chars
    if truncated:
        cut = text[:max_chars]
        # Cut at a word boundary when one is near, so the last word is not mangled.
        space = text.rfind(" ", max(0, max_chars - 200), max_chars + 1)
        text = cut[:space] if space > 0 else cut
    return CleanText(text=text, truncated=truncated, original_length=len(raw))
