"""Markdown articles: front matter, then chunks cut at headings with ids stable across versions."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml

from core.text import mend

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_HEADING_START = re.compile(r"(#{1,6})\s+(.*)")
_MAX_WORDS = 260
MAX_SLUG_CHARS = 100
"""An article's slug: with an anchor and a digest it must fit a chunk id (`CHUNK_ID_CHARS`)."""
CHUNK_ID_CHARS = 120
_MAX_FRONT_MATTER_CHARS = 20_000


class ArticleFormatError(ValueError):
    """The article cannot be read; the message says what to fix."""


@dataclass(frozen=True)
class ParsedArticle:
    slug: str
    title: str
    category: str
    updated: str
    tags: list[str]
    body: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkDraft:
    chunk_id: str
    ordinal: int
    section: str
    anchor: str
    text: str


def heading(line: str, *, max_level: int = 4) -> tuple[int, str] | None:
    """`## Returns ##` -> (2, "Returns"): an ATX heading of level 1 to `max_level` and its text (a closing
    run of `#` dropped), else None. Plain string work after one anchored match: a long line of spaces costs
    linear time (a lazy pattern took cubic)."""
    match = _HEADING_START.fullmatch(line)
    if match is None or len(match.group(1)) > max_level:
        return None
    text = match.group(2).strip()
    return len(match.group(1)), text.rstrip("#").rstrip() or text


def _scalar(value: Any, *, name: str, slug: str) -> str:
    if isinstance(value, bool | int | float | str | date) or value is None:
        return "" if value is None else str(value)
    raise ArticleFormatError(
        f"{slug}: `{name}:` in the front matter must be plain text, not a list or mapping"
    )


def _front_matter(text: str, *, slug: str) -> dict[str, Any]:
    """The front matter's keys and values. Refused with a clear message: invalid YAML, an impossible date
    (`2024-13-45`), nesting too deep, and aliases (`*a`), with which a few hundred bytes expand to
    gigabytes."""
    if len(text) > _MAX_FRONT_MATTER_CHARS:
        raise ArticleFormatError(f"{slug}: the front matter is over {_MAX_FRONT_MATTER_CHARS:,} characters")
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise ArticleFormatError(
                f"{slug}: the front matter uses YAML aliases (*name); write the values out"
            )
        loaded = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ArticleFormatError(f"{slug}: front matter is not valid YAML ({exc})") from exc
    except (ValueError, TypeError, RecursionError) as exc:  # a date that does not exist, nesting too deep
        raise ArticleFormatError(f"{slug}: front matter has a value that cannot be read ({exc})") from exc
    if not isinstance(loaded, dict):
        raise ArticleFormatError(f"{slug}: front matter must be a mapping of keys to values")
    return loaded


def slugify(text: str, *, max_chars: int = 120) -> str:
    """`Gift Cards/FAQ` -> `gift-cards-faq`, at most `max_chars` long; accents folded (`Café` -> `cafe`).
    Text in other scripts (`Оплата`, `配送`) gets `u-` and a digest of it: two such names never share a slug
    (they all became `section`, so a second import replaced the first article). Punctuation alone is
    `section`."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:max_chars].strip("-")
    if slug:
        return slug
    if not any(c.isalnum() for c in text):
        return "section"
    return "u-" + hashlib.sha1(text.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:12]


def parse_markdown(source: str, *, slug: str) -> ParsedArticle:
    """Split front matter from body; `title` is required (front matter or first `# ` heading)."""
    meta: dict[str, Any] = {}
    source = mend(source)
    body = source
    match = _FRONT.match(source)
    if match:
        meta = _front_matter(match.group(1), slug=slug)
        body = source[match.end() :]
    title = _scalar(meta.get("title"), name="title", slug=slug).strip()
    if not title:
        first = next((h for h in map(heading, body.splitlines()) if h and h[0] == 1), None)
        if first is None:
            raise ArticleFormatError(f"{slug}: no title (set `title:` in the front matter)")
        title = first[1]
    updated = meta.get("updated", "")
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    elif not isinstance(tags, list):  # `tags: 5`
        tags = [tags]
    known = {"title", "category", "updated", "tags"}
    return ParsedArticle(
        slug=slug,
        title=title,
        category=_scalar(meta.get("category"), name="category", slug=slug) or "general",
        updated=updated.isoformat()
        if isinstance(updated, date)
        else _scalar(updated, name="updated", slug=slug),
        tags=[_scalar(t, name="tags", slug=slug) for t in tags],
        body=body.strip(),
        extra={k: v for k, v in meta.items() if k not in known},
    )


def chunk_id(slug: str, anchor: str, text: str) -> str:
    """Depends only on where the text sits and what it says, so re-indexing unchanged text is a no-op."""
    digest = hashlib.sha1(f"{slug}\n{anchor}\n{text}".encode("utf-8", "surrogatepass")).hexdigest()[:10]
    room = CHUNK_ID_CHARS - len(slug) - len(digest) - 2  # a long heading's anchor is cut, never the slug
    return f"{slug}#{anchor[: max(0, room)]}-{digest}"


def _split_long(text: str) -> list[str]:
    """Keep paragraphs together; only sections longer than _MAX_WORDS are cut, at paragraph ends."""
    if len(text.split()) <= _MAX_WORDS:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        if current and len(" ".join(current).split()) + len(para.split()) > _MAX_WORDS:
            parts.append("\n\n".join(current))
            current = []
        current.append(para)
    if current:
        parts.append("\n\n".join(current))
    return parts


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def chunk_article(article: ParsedArticle) -> list[ChunkDraft]:
    """One chunk per `##`/`###` section (the intro is its own chunk), long sections cut at paragraphs. A `#`
    heading is the title repeated at the top of the body; any other opens a top-level section, and the
    headings after it nest one level deeper (people write `# Returns`, `## By post`)."""
    sections: list[tuple[list[str], list[str]]] = [([], [])]
    shift = 0
    fence = ""  # the open code fence (``` or ~~~): a `# comment` inside it is code, not a heading
    for line in article.body.splitlines():
        marker = _FENCE.match(line)
        if marker and (not fence or (marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence))):
            fence = "" if fence else marker.group(1)
        found = None if fence or marker else heading(line)
        if found and found[0] == 1:
            top = len(sections) == 1 and not any(part.strip() for part in sections[0][1])
            if top or not found[1] or found[1].casefold() == article.title.strip().casefold():
                continue  # the article's title, repeated at the top of the body
            shift = 1
        if found and found[1]:
            level = found[0] + shift
            parent = sections[-1][0][: level - 2]
            sections.append(([*parent, found[1]], []))
        else:
            sections[-1][1].append(line)
    chunks: list[ChunkDraft] = []
    seen: set[str] = set()
    for path, lines in sections:
        text = "\n".join(lines).strip()
        if not text:
            continue
        section = " › ".join(path) if path else "Overview"
        anchor = slugify(path[-1] if path else "overview")
        base, n = anchor, 2
        while anchor in seen:
            anchor, n = f"{base}-{n}", n + 1
        seen.add(anchor)
        for i, part in enumerate(_split_long(text)):
            part_anchor = anchor if i == 0 else f"{anchor}-{i + 1}"
            while i and part_anchor in seen:
                part_anchor += "-part"
            seen.add(part_anchor)
            chunks.append(
                ChunkDraft(
                    chunk_id=chunk_id(article.slug, part_anchor, part),
                    ordinal=len(chunks),
                    section=section,
                    anchor=part_anchor,
                    text=part,
                )
            )
    return chunks
