"""Markdown articles: front matter, then chunks cut at headings with ids stable across versions."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_HEADING = re.compile(r"^(#{1,4})\s+(.+?)\s*#*\s*$")
_MAX_WORDS = 260


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


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:120] or "section"


def parse_markdown(source: str, *, slug: str) -> ParsedArticle:
    """Split front matter from body; `title` is required (front matter or first `# ` heading)."""
    meta: dict[str, Any] = {}
    body = source
    match = _FRONT.match(source)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise ArticleFormatError(f"{slug}: front matter is not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise ArticleFormatError(f"{slug}: front matter must be a mapping of keys to values")
        meta = loaded
        body = source[match.end() :]
    title = str(meta.get("title") or "").strip()
    if not title:
        first = next((m for m in map(_HEADING.match, body.splitlines()) if m and len(m.group(1)) == 1), None)
        if first is None:
            raise ArticleFormatError(f"{slug}: no title (set `title:` in the front matter)")
        title = first.group(2)
    updated = meta.get("updated", "")
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    known = {"title", "category", "updated", "tags"}
    return ParsedArticle(
        slug=slug,
        title=title,
        category=str(meta.get("category") or "general"),
        updated=updated.isoformat() if isinstance(updated, date) else str(updated),
        tags=[str(t) for t in tags],
        body=body.strip(),
        extra={k: v for k, v in meta.items() if k not in known},
    )


def chunk_id(slug: str, anchor: str, text: str) -> str:
    """Depends only on where the text sits and what it says, so re-indexing unchanged text is a no-op."""
    digest = hashlib.sha1(f"{slug}\n{anchor}\n{text}".encode()).hexdigest()[:10]
    return f"{slug}#{anchor}-{digest}"


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


def chunk_article(article: ParsedArticle) -> list[ChunkDraft]:
    """One chunk per `##`/`###` section (the intro is its own chunk), long sections cut at paragraphs."""
    sections: list[tuple[list[str], list[str]]] = [([], [])]
    for line in article.body.splitlines():
        match = _HEADING.match(line)
        if match and len(match.group(1)) >= 2:
            level = len(match.group(1))
            parent = sections[-1][0][: level - 2]
            sections.append(([*parent, match.group(2).strip()], []))
        elif match and len(match.group(1)) == 1:
            continue  # the article title repeated in the body
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
