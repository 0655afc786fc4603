"""Uploaded help-center files (Markdown, HTML, PDF, plain text, FAQ CSV) as articles ready to chunk.

Every format becomes a Markdown body whose `## `/`### ` headings mark sections, so `chunk_article` cuts
chunks at the same places whatever the file type. A file that cannot be read raises `ImportFormatError`
naming the file and what to fix; what an editor should check comes back as a warning, so no text is lost
without someone being told.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import math
import re
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError

from knowledge.chunking import (
    MAX_SLUG_CHARS,
    ArticleFormatError,
    ParsedArticle,
    heading,
    parse_markdown,
    slugify,
)

SUPPORTED_SUFFIXES: tuple[str, ...] = (".md", ".markdown", ".html", ".htm", ".pdf", ".txt", ".csv")
MAX_UPLOAD_BYTES: int = 10 * 1024 * 1024
MAX_PDF_PAGES = 300
MAX_PDF_CHARS = 1_000_000
MAX_CSV_ARTICLES = 200
"""A FAQ CSV makes one article per category: more than this from one file is a mistake (an answer column
read as the category?), not a help center."""
_MAX_NESTING = 200
_LEFT_OUT_NOTED = 30
"""Text (characters) in an `aside` or `form` inside the article from which the import warns it left it out."""

_ANY_HEADING = re.compile(r"^#{2,4}\s+\S", re.M)


def _atx(line: str) -> tuple[int, str] | None:
    """A Markdown heading of level 1-6 with some text (`chunking.heading`); an empty one is none."""
    found = heading(line, max_level=6)
    return found if found and found[1] else None


def _text_codec(name: str) -> bool:
    """Whether a page's declared charset names a text encoding: not `unicode_escape` and its kind, which turn
    `\\ud800` in a page into a lone surrogate."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return False
    return info._is_text_encoding and "escape" not in info.name


_LEADING_HASH = re.compile(r"^#(?=#{0,3}\s)", re.M)
_BULLET = re.compile(r"^[•◦▪‣·∙●○■*\-–]\s+")
_NUMBERED = re.compile(r"^\d{1,3}[.)]\s+")
_UNDERLINE = re.compile(r"^\s*(={3,}|-{3,})\s*$")
_SENTENCE_END = re.compile(r"[.!?:;…][\"'”’)\]]*$")
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-–]?\s*\d{1,4}\s*[-–]?(?:\s*(?:/|of)\s*\d{1,4})?$", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_JUNK_PDF_TITLE = re.compile(r"^(microsoft \w+ - |untitled\b)|\.(docx?|pdf|pptx?|odt|rtf|txt)$", re.I)


class ImportFormatError(ArticleFormatError):
    """The uploaded file cannot be imported; the message names the file and says what to fix."""


@dataclass(frozen=True)
class Imported:
    article: ParsedArticle
    format: str
    filename: str
    warnings: tuple[str, ...] = ()


def parse_upload(filename: str, data: bytes, *, slug: str | None = None) -> list[Imported]:
    """One or more articles from one file; slug defaults to slugify(file stem).

    A FAQ CSV with a `category` column yields one article per category (slug f"{stem}-{slugify(category)}");
    every other file yields one.
    """
    suffix = Path(filename).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"'{suffix}' files" if suffix else "files without an extension"
        raise ImportFormatError(
            f"{filename}: {kind} cannot be imported; upload one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImportFormatError(
            f"{filename} is {len(data) / 1024 / 1024:.1f} MB; the limit is "
            f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB, so split it into smaller files"
        )
    if not data.strip():
        raise ImportFormatError(f"{filename} is empty; upload the file with the article's text")
    fmt, convert = _CONVERTERS[suffix]
    return convert(
        _Upload(filename, data, slug or slugify(Path(filename).stem, max_chars=MAX_SLUG_CHARS), fmt)
    )


def parse_path(path: Path) -> list[Imported]:
    """`parse_upload` for a file on disk."""
    return parse_upload(path.name, path.read_bytes())


@dataclass
class _Upload:
    filename: str
    data: bytes
    slug: str
    format: str
    warnings: list[str] = field(default_factory=list)

    @property
    def stem_title(self) -> str:
        words = re.sub(r"[-_\s]+", " ", Path(self.filename).stem).strip()
        return words[:1].upper() + words[1:] if words else "Untitled"

    def error(self, problem: str) -> ImportFormatError:
        return ImportFormatError(f"{self.filename}{problem}")

    def text(self, *, declared: str | None = None, strict: bool = False) -> str:
        """The bytes as text: UTF-8 (or UTF-16 with a BOM), else the `declared` charset, else Windows-1252
        with a warning (or, if `strict`, an error)."""
        data = self.data
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = data.decode("utf-16", errors="replace")
        elif b"\x00" in data:
            raise self.error(
                " looks like a binary file (it contains NUL bytes), not text; upload the original "
                f"{Path(self.filename).suffix.lower()} file or save it as UTF-8 text"
            )
        else:
            text = self._decode(data, declared, strict)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text.strip():
            raise self.error(" is empty; upload the file with the article's text")
        return text

    def _decode(self, data: bytes, declared: str | None, strict: bool) -> str:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if strict:
                raise self.error(
                    f" is not valid UTF-8 (byte {exc.start}); save it with UTF-8 encoding"
                ) from exc
        if declared and _text_codec(declared):
            try:
                return data.decode(declared)
            except (LookupError, UnicodeDecodeError):
                pass
        self.warnings.append("not UTF-8: read as Windows-1252; check accented letters and symbols")
        return data.decode("cp1252", errors="replace")

    def finish(
        self,
        *,
        title: str,
        body: str,
        slug: str | None = None,
        category: str = "general",
        extra: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
    ) -> Imported:
        """The article, after checking it has text; a body without headings is flagged."""
        body = body.strip()
        found = [*self.warnings, *(warnings or [])]
        if not re.sub(r"^#{1,4}\s.*$", "", body, flags=re.M).strip():
            raise self.error(" has no article text (only a title or headings); add the text and upload again")
        if not _ANY_HEADING.search(body):
            found.append("no headings found: one section")
        article = ParsedArticle(
            slug=slug or self.slug,
            title=title,
            category=category,
            updated="",
            tags=[],
            body=body,
            extra={"source_format": self.format, **(extra or {})},
        )
        return Imported(article=article, format=self.format, filename=self.filename, warnings=tuple(found))


def _escape_hashes(text: str) -> str:
    """Keep body lines that start with `# ` from being read as headings by `chunk_article`."""
    return _LEADING_HASH.sub(r"\\#", text)


# Markdown


_PICTURE = re.compile(r"(?<!\\)(?P<esc>(?:\\\\)*)!\[(?P<alt>[^\]]*)\](?:\([^)]*\)|\[[^\]]*\])?")
"""A Markdown picture: inline (`![alt](url "title")`), by reference (`![alt][ref]`, `![alt]`), its alt text
over lines; after an escaped backslash (`\\\\![`) still one."""


def _markdown(upload: _Upload) -> list[Imported]:
    try:
        article = parse_markdown(upload.text(strict=True), slug=upload.slug)
    except ImportFormatError:
        raise
    except ArticleFormatError as exc:
        raise upload.error(f": {str(exc).removeprefix(f'{upload.slug}: ')}") from exc
    body, pictures = _PICTURE.subn(lambda m: m.group("esc") + " ".join(m.group("alt").split()), article.body)
    if pictures:
        upload.warnings.append(
            f"{pictures} picture(s) left out, their alt text kept: the help center shows text, and a "
            "customer's page must not load images from the sites they name"
        )
    done = upload.finish(title=article.title, body=body)
    extra = {**article.extra, "source_format": upload.format}
    return [replace(done, article=replace(article, body=done.article.body, extra=extra))]


# HTML

_DROPPED = frozenset(
    {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "svg", "template"}
)
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "section", "article", "main", "blockquote", "figure", "figcaption", "dl", "dt", "dd",
        "address", "details", "summary", "hr", "body", "html", "center", "fieldset", "caption", "head",
    }
)  # fmt: skip
_HTML_HEADINGS = {"h1": "## ", "h2": "## ", "h3": "### ", "h4": "#### ", "h5": "#### ", "h6": "#### "}
_INLINE_MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*", "code": "`", "a": ""}
_LINE_BREAK = "\x00"  # stands for <br> until whitespace is collapsed (NUL bytes never reach the parser)


def _collapse(raw: str) -> str:
    """Whitespace runs to one space; <br> marks to newlines."""
    text = re.sub(r"\s+", " ", raw)
    return "\n".join(part.strip() for part in text.split(_LINE_BREAK)).strip()


class _HtmlToMarkdown(HTMLParser):
    """Article text of an HTML page as Markdown blocks; page chrome (nav, scripts, footers) is left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.page_title = ""
        self.blocks: list[tuple[str, str]] = []
        self.unclosed: str | None = None
        self.left_out: dict[str, int] = {}
        """Characters of text in elements left out inside the article (`aside`, `form`), by element."""
        self._buf: list[str] = []
        self._kind = "para"
        self._prefix = ""
        self._frames: list[tuple[str, list[str], str]] = []
        self._skip: tuple[str, int] | None = None
        self._in_title = False
        self._in_article = 0
        self._pre = 0
        self._lists: list[list[Any]] = []
        self._cells: list[str] | None = None
        self._in_cell = False

    @property
    def _inline_only(self) -> bool:
        return self._cells is not None or self._kind in ("heading", "title")

    def _write(self, text: str) -> None:
        (self._frames[-1][1] if self._frames else self._buf).append(text)

    def _pop_frame(self) -> None:
        tag, parts, href = self._frames.pop()
        raw = "".join(parts)
        inner = raw if self._pre else _collapse(raw)
        if inner and not self._pre and self._kind not in ("heading", "title"):
            if tag == "a" and href:
                inner = f"[{inner}]({href.replace(' ', '%20').replace(')', '%29')})"
            elif tag != "a":
                inner = f"{_INLINE_MARKS[tag]}{inner}{_INLINE_MARKS[tag]}"
        if not self._pre:
            inner = (" " if raw[:1].isspace() else "") + inner + (" " if raw[-1:].isspace() else "")
        self._write(inner)

    def _take(self) -> str:
        while self._frames:
            self._pop_frame()
        raw = "".join(self._buf)
        self._buf = []
        return raw

    def _flush(self) -> None:
        raw = self._take()
        if self._kind == "pre":
            if raw.strip():
                self.blocks.append(("pre", "```\n" + raw.strip("\n") + "\n```"))
        elif self._kind == "title":
            self.title = _collapse(raw)
        elif text := _collapse(raw):
            self.blocks.append((self._kind, self._prefix + text))
        self._kind, self._prefix = "para", ""

    def _end_cell(self) -> None:
        text = _collapse(self._take())
        if self._cells is not None and (self._in_cell or text):
            self._cells.append(text)

    def _end_row(self) -> None:
        if self._cells is None:
            return
        self._end_cell()
        if any(self._cells):
            self.blocks.append(("row", " | ".join(self._cells)))
        self._cells = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if len(self._frames) >= _MAX_NESTING or len(self._lists) >= _MAX_NESTING:  # each level costs them all
            raise ArticleFormatError(f"elements nested over {_MAX_NESTING} deep; no article needs that many")
        if self._skip is not None:
            if tag == self._skip[0]:
                self._skip = (tag, self._skip[1] + 1)
            return
        if tag in _DROPPED and not (tag == "header" and self._in_article):
            self._skip = (tag, 1)
        elif tag == "title":
            self._in_title = True
        elif tag == "br":
            self._write("\n" if self._pre else " " if self._inline_only else _LINE_BREAK)
        elif self._pre:
            return
        elif tag in _INLINE_MARKS:
            href = (dict(attrs).get("href") or "").strip()
            self._frames.append((tag, [], href if re.match(r"(https?://|mailto:)", href, re.I) else ""))
        elif tag in ("table", "tr"):
            self._end_row()
            self._flush()
            self._cells = [] if tag == "tr" else None
        elif tag in ("td", "th"):
            if self._cells is None:
                self._flush()
                self._cells = []
            self._end_cell()
            self._in_cell = True
        elif self._inline_only or (self._kind == "item" and tag in _BLOCK_TAGS):
            self._write(" ")
        else:
            self._open_block(tag, attrs)

    def _open_block(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS or tag in _HTML_HEADINGS or tag in ("pre", "ul", "ol", "li"):
            self._flush()
        if tag in ("article", "main"):
            self._in_article += 1
        elif tag == "pre":
            self._kind, self._pre = "pre", 1
        elif tag in _HTML_HEADINGS:
            self._kind = "title" if tag == "h1" and not self.title else "heading"
            self._prefix = _HTML_HEADINGS[tag]
        elif tag in ("ul", "ol"):
            start = dict(attrs).get("start") or "1"
            number = int(start) - 1 if start.isascii() and start.isdigit() and len(start) <= 6 else 0
            self._lists.append([tag, number])
        elif tag == "li":
            marker = "- "
            if self._lists and self._lists[-1][0] == "ol":
                self._lists[-1][1] += 1
                marker = f"{self._lists[-1][1]}. "
            self._kind, self._prefix = "item", "  " * max(len(self._lists) - 1, 0) + marker

    def handle_endtag(self, tag: str) -> None:
        if self._skip is not None:
            if tag == self._skip[0]:
                self._skip = (tag, self._skip[1] - 1) if self._skip[1] > 1 else None
            return
        if tag == "title":
            self._in_title = False
        elif tag == "pre" and self._pre:
            self._flush()
            self._pre = 0
        elif self._pre:
            return
        elif tag in _INLINE_MARKS:
            index = next((i for i in range(len(self._frames) - 1, -1, -1) if self._frames[i][0] == tag), None)
            while index is not None and len(self._frames) > index:
                self._pop_frame()
        elif tag in ("td", "th"):
            self._end_cell()
            self._in_cell = False
        elif tag in ("tr", "table"):
            self._end_row()
            self._flush()
        elif tag in _HTML_HEADINGS and self._kind in ("heading", "title"):
            self._flush()
        elif self._inline_only or (self._kind == "item" and tag in _BLOCK_TAGS):
            self._write(" ")
        elif tag in ("ul", "ol", "li", "article", "main") or tag in _BLOCK_TAGS:
            self._flush()
            if tag in ("ul", "ol") and self._lists:
                self._lists.pop()
            if tag in ("article", "main"):
                self._in_article = max(self._in_article - 1, 0)

    def handle_data(self, data: str) -> None:
        if self._skip is not None:
            if self._in_article and self._skip[0] in ("aside", "form") and data.strip():
                self.left_out[self._skip[0]] = self.left_out.get(self._skip[0], 0) + len(data.strip())
            return
        if self._in_title:
            self.page_title += data
        else:
            self._write(data)

    def close(self) -> None:
        super().close()
        self._end_row()
        self._flush()
        if self._skip is not None:
            self.unclosed = self._skip[0]

    def markdown(self) -> str:
        out: list[str] = []
        for i, (kind, text) in enumerate(self.blocks):
            if i:
                together = kind in ("item", "row") and self.blocks[i - 1][0] == kind
                out.append("\n" if together else "\n\n")
            out.append(text if kind == "heading" else _escape_hashes(text))
        return "".join(out)


def _html(upload: _Upload) -> list[Imported]:
    parser = _HtmlToMarkdown()
    declared = _META_CHARSET.search(upload.data[:16384])
    try:
        parser.feed(upload.text(declared=declared.group(1).decode("ascii") if declared else None))
        parser.close()
    except ArticleFormatError as exc:
        raise upload.error(f" has {exc}") from exc
    warnings = []
    if parser.unclosed:
        warnings.append(
            f"a <{parser.unclosed}> element is never closed: the text after it was left out; close the tag"
        )
    for tag, chars in parser.left_out.items():
        if chars < _LEFT_OUT_NOTED:  # a "Related:" line, a search box: page furniture
            continue
        warnings.append(
            f"the article's <{tag}> was left out ({chars} characters of text): add it if it belongs"
        )
    title = parser.title or _collapse(parser.page_title)
    if not title:
        title = upload.stem_title
        warnings.append(f"no <h1> or <title>: the title '{title}' comes from the file name")
    return [upload.finish(title=title, body=parser.markdown(), warnings=warnings)]


# PDF


@dataclass
class _Line:
    text: str
    size: float
    y: float
    page: int


def _font_size(cm: list[float], tm: list[float], font_size: float) -> float:
    """The size the text is drawn at: the font size scaled by the text and graphics matrices."""
    c = tm[2] * cm[0] + tm[3] * cm[2]
    d = tm[2] * cm[1] + tm[3] * cm[3]
    return round(abs(float(font_size)) * math.hypot(c, d) * 2) / 2


def _page_lines(page: PageObject, number: int) -> list[_Line]:
    """Text runs of one page grouped into lines, each with its main font size and baseline."""
    lines: list[_Line] = []
    parts: list[str] = []
    sizes: Counter[float] = Counter()
    baseline = 0.0

    def close() -> None:
        text = " ".join("".join(parts).split())
        if text:
            lines.append(_Line(text, max(sizes, key=lambda s: (sizes[s], s)), baseline, number))
        parts.clear()
        sizes.clear()

    def visit(text: str, cm: list[float], tm: list[float], font: Any, font_size: float) -> None:
        nonlocal baseline
        size = _font_size(cm, tm, font_size)
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        for i, piece in enumerate(text.split("\n")):
            if i:
                close()
            if not piece.strip():
                if piece and parts:
                    parts.append(" ")
                continue
            if parts and abs(y - baseline) > 0.5 * max(size, 1.0):
                close()
            if not parts:
                baseline = y - i * size * 1.2
            parts.append(piece)
            sizes[size] += len(piece.strip())

    page.extract_text(visitor_text=visit)
    close()
    return lines


def _drop_page_furniture(pages: list[list[_Line]], warnings: list[str]) -> None:
    """Remove page numbers, and a header or footer: a first or last line repeated on 3 or more pages and on
    at least half the pages with text. Digits are masked ("Page 3 of 9"), except in lines of a heading's
    size: "Step 1", "Step 2"... opening pages are the article's headings; a large running title is the
    same text on every page."""
    for lines in pages:
        for index in (-1, 0):
            if lines and _PAGE_NUMBER.match(lines[index].text):
                del lines[index]
    weight: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            weight[line.size] += len(line.text)
    body_size = max(weight, key=lambda size: (weight[size], -size)) if weight else 0.0

    def key(line: _Line) -> tuple[str, float]:
        text = line.text.lower()
        return (
            text if body_size > 0 and line.size >= body_size * 1.15 else re.sub(r"\d+", "#", text)
        ), line.size

    edges: Counter[tuple[str, float]] = Counter()
    for lines in pages:
        edges.update({key(line) for line in (lines[:1] + lines[-1:])})
    least = max(3, math.ceil(sum(1 for lines in pages if lines) / 2))
    repeated = {k for k, n in edges.items() if n >= least and len(k[0]) <= 120}
    removed: dict[tuple[str, float], str] = {}
    for lines in pages:
        for index in (-1, 0):
            if lines and key(lines[index]) in repeated:
                removed.setdefault(key(lines[index]), lines[index].text)
                del lines[index]
    for k, text in removed.items():
        warnings.append(f"left out '{text}', a header or footer repeated on {edges[k]} pages")


@dataclass
class _Block:
    kind: str  # heading | para | item
    size: float
    lines: list[_Line]

    @property
    def text(self) -> str:
        out = self.lines[0].text
        for line in self.lines[1:]:
            hyphenated = out.endswith("-") and out[-2:-1].isalpha() and line.text[:1].islower()
            out += line.text if hyphenated else " " + line.text
        return out


def _pdf_blocks(lines: list[_Line], heading_sizes: set[float], pitch: float) -> list[_Block]:
    """Headings (wrapped lines of one size joined), paragraphs (wrapped lines joined) and list items."""
    blocks: list[_Block] = []
    for line in lines:
        prev = blocks[-1] if blocks else None
        last = prev.lines[-1] if prev else None
        gap = last.y - line.y if last and last.page == line.page else None
        if line.size in heading_sizes:
            wrapped = gap is not None and 0 < gap <= 1.6 * line.size
            if prev and prev.kind == "heading" and prev.size == line.size and wrapped:
                prev.lines.append(line)
            else:
                blocks.append(_Block("heading", line.size, [line]))
            continue
        item = bool(_BULLET.match(line.text) or _NUMBERED.match(line.text))
        if gap is not None:
            continues = 0 < gap <= pitch * 1.35
        else:  # on the next page, a sentence that did not end goes on
            continues = bool(last and line.page == last.page + 1 and not _SENTENCE_END.search(last.text))
        if prev and prev.kind != "heading" and prev.size == line.size and continues and not item:
            prev.lines.append(line)
        else:
            blocks.append(_Block("item" if item else "para", line.size, [line]))
    return blocks


def _usable_pdf_title(title: str | None) -> str:
    title = " ".join((title or "").split())
    return "" if _JUNK_PDF_TITLE.search(title) else title


def _pdf_markdown(
    pages: list[list[_Line]], meta_title: str, fallback_title: str
) -> tuple[str, str, list[str]]:
    """Title and Markdown body: the body font is the most used size; larger sizes are headings."""
    warnings: list[str] = []
    _drop_page_furniture(pages, warnings)
    lines = [line for page in pages for line in page]
    if not lines:
        raise ArticleFormatError("only page numbers and running headers or footers, no article text")
    weight: Counter[float] = Counter()
    for line in lines:
        weight[line.size] += len(line.text)
    body_size = max(weight, key=lambda s: (weight[s], -s))
    if body_size <= 0:
        warnings.append("font sizes could not be read: headings were not detected")
    sizes = sorted({s for s in weight if body_size > 0 and s >= body_size * 1.15}, reverse=True)
    gaps = [
        a.y - b.y
        for a, b in itertools.pairwise(lines)
        if a.page == b.page and a.size == b.size == body_size and 0.5 * body_size < a.y - b.y < 3 * body_size
    ]
    pitch = statistics.median(gaps) if gaps else 1.2 * max(body_size, 1.0)
    blocks = _pdf_blocks(lines, set(sizes), pitch)
    title = meta_title
    first = next((b for b in blocks if sizes and b.kind == "heading" and b.size == sizes[0]), None)
    if first is None and blocks and blocks[0].kind == "para" and len(blocks[0].lines) == 1:
        first = blocks[0] if len(blocks[0].text) <= 120 else None
    if first is not None and (not title or " ".join(first.text.split()).casefold() == title.casefold()):
        title = title or first.text
        blocks.remove(first)
    if not title:
        title = fallback_title
        warnings.append(f"no title found: the title '{title}' comes from the file name")
    # The title's size also used for other headings puts the next size one level down.
    top = int(any(b.kind == "heading" and b.size == sizes[0] for b in blocks)) if sizes else 0
    levels = {size: "## " if i <= 1 - top else "### " for i, size in enumerate(sizes)}
    out: list[str] = []
    for i, block in enumerate(blocks):
        if i:
            out.append("\n" if block.kind == "item" and blocks[i - 1].kind == "item" else "\n\n")
        if block.kind == "heading":
            out.append(levels[block.size] + block.text)
        else:
            out.append(_escape_hashes(_BULLET.sub("- ", block.text)))
    return title, "".join(out), warnings


def _pdf(upload: _Upload) -> list[Imported]:
    if b"%PDF-" not in upload.data[:1024]:
        raise upload.error(" is not a PDF (it has no %PDF header); export the document as PDF again")
    try:
        reader = PdfReader(io.BytesIO(upload.data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise upload.error(" is password-protected; export it without a password")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise upload.error(f" has {len(reader.pages)} pages; split it (at most {MAX_PDF_PAGES} at once)")
        pages, chars = [], 0
        for number, page in enumerate(reader.pages, start=1):
            pages.append(_page_lines(page, number))
            chars += sum(len(line.text) for line in pages[-1])
            if chars > MAX_PDF_CHARS:  # read no further: pages can share one huge content stream
                raise upload.error(
                    f" holds over {MAX_PDF_CHARS:,} characters of text; split it into articles"
                )
        meta_title = _usable_pdf_title(reader.metadata.title if reader.metadata else None)
    except ImportFormatError:
        raise
    except DependencyError as exc:
        raise upload.error(
            f" is encrypted in a way that cannot be read here ({exc}); export it without encryption"
        ) from exc
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        detail = f"{type(exc).__name__}: {exc}"[:200]
        raise upload.error(
            f" is damaged and cannot be read as a PDF ({detail}); export it as PDF again"
        ) from exc
    if not any(pages):
        raise upload.error(
            " has no text layer (a scanned image?); run OCR on it, or export it as PDF from the original"
            " document"
        )
    empty = [str(number) for number, lines in enumerate(pages, start=1) if not lines]
    try:
        title, body, warnings = _pdf_markdown(pages, meta_title, upload.stem_title)
    except ArticleFormatError as exc:
        raise upload.error(f" has {exc}; export the article's text as PDF again") from exc
    if empty:
        warnings.insert(0, f"page(s) {', '.join(empty)} have no text (scanned images?) and were not imported")
    return [upload.finish(title=title, body=body, extra={"pages": len(pages)}, warnings=warnings)]


# Plain text


def _is_list_item(line: str) -> bool:
    return bool(_BULLET.match(line.strip()) or _NUMBERED.match(line.strip()))


def _label(lines: list[str], index: int) -> str | None:
    """A short ALL CAPS line, or one ending with ":", that opens a paragraph: its heading text."""
    line = lines[index].strip()
    opens_block = index == 0 or not lines[index - 1].strip()
    if not opens_block or len(line) > 80 or len(line.split()) > 10 or _is_list_item(line):
        return None
    after = next((candidate.strip() for candidate in lines[index + 1 :] if candidate.strip()), "")
    letters = [c for c in line if c.isalpha()]
    if after and len(letters) >= 2 and all(c.isupper() for c in letters):
        return line.rstrip(":").strip()
    if after and line.endswith(":") and len(line) > 1 and not _is_list_item(after):
        return line[:-1].strip()
    return None


def _text(upload: _Upload) -> list[Imported]:
    lines = [line.rstrip() for line in upload.text().split("\n")]
    start = next(i for i, line in enumerate(lines) if line.strip())
    first = lines[start].strip()
    atx = _atx(first)
    title = atx[1] if atx else first
    if len(title) > 120:
        title, body_lines = upload.stem_title, lines[start:]
    else:
        skip = 2 if start + 1 < len(lines) and _UNDERLINE.match(lines[start + 1]) else 1
        body_lines = lines[start + skip :]
    underlines = {
        line.strip()[0]
        for i, line in enumerate(body_lines)
        if i
        and _UNDERLINE.match(line)
        and body_lines[i - 1].strip()
        and not _UNDERLINE.match(body_lines[i - 1])
    }
    setext = {"=": "## ", "-": "### "} if len(underlines) == 2 else {c: "## " for c in underlines}
    out: list[str] = []
    index = 0
    while index < len(body_lines):
        line = body_lines[index]
        following = body_lines[index + 1] if index + 1 < len(body_lines) else ""
        atx = _atx(line)
        label = None if atx else _label(body_lines, index)
        if line.strip() and not _UNDERLINE.match(line) and _UNDERLINE.match(following):
            out += ["", setext[following.strip()[0]] + line.strip(), ""]
            index += 1
        elif atx:
            out += ["", "#" * min(max(atx[0], 2), 4) + " " + atx[1], ""]
        elif label:
            out += ["", "## " + label, ""]
        else:
            out.append(line)
        index += 1
    return [upload.finish(title=title, body=re.sub(r"\n{3,}", "\n\n", "\n".join(out)))]


# FAQ CSV

_COLUMNS = {
    "question": "question",
    "q": "question",
    "questions": "question",
    "answer": "answer",
    "a": "answer",
    "answers": "answer",
    "response": "answer",
    "category": "category",
    "title": "title",
}


@dataclass
class _Table:
    header: list[str]
    roles: dict[str, int]
    rows: list[tuple[int, list[str]]]
    delimiter: str

    def cell(self, row: list[str], role: str) -> str:
        index = self.roles.get(role)
        return row[index].strip() if index is not None and index < len(row) else ""


def _read_table(text: str, delimiter: str) -> _Table:
    """Rows numbered as a spreadsheet shows them; the first non-blank row is the header."""
    numbered = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1)]
    start = next((i for i, (_, row) in enumerate(numbered) if any(cell.strip() for cell in row)), None)
    if start is None:  # delimiters and blanks only: no columns (the caller says which are missing)
        return _Table([], {}, [], delimiter)
    header = [cell.strip() for cell in numbered[start][1]]
    roles: dict[str, int] = {}
    for i, name in enumerate(header):
        roles.setdefault(_COLUMNS.get(name.lower(), f"other {i}"), i)
    return _Table(header, roles, numbered[start + 1 :], delimiter)


def _delimiters(text: str) -> list[str]:
    """Comma, semicolon and tab, the one the first non-blank line holds most of first (ties in that order).
    Linear: csv.Sniffer takes seconds on a crafted sample, and the import view runs this on every rerun."""
    first = next((line for line in itertools.islice(io.StringIO(text), 100) if line.strip()), "")
    return sorted([",", ";", "\t"], key=lambda delimiter: -first.count(delimiter))


def _csv_table(upload: _Upload) -> _Table:
    """The first of the delimiters (`_delimiters`' order) with which the header names a question and an
    answer column."""
    text = upload.text()
    tables: list[_Table] = []
    try:
        for delimiter in _delimiters(text):
            tables.append(_read_table(text, delimiter))
            if {"question", "answer"} <= tables[-1].roles.keys():
                return tables[-1]
    except csv.Error as exc:
        raise upload.error(
            f" is not a readable CSV file ({exc}); export it from the spreadsheet again"
        ) from exc
    missing = [f"'{role}'" for role in ("question", "answer") if role not in tables[0].roles]
    found = ", ".join(f"'{name}'" for name in tables[0].header if name) or "none"
    raise upload.error(
        f": no {' or '.join(missing)} column (columns found: {found}); the first row must name the columns"
        " 'question' and 'answer' (optionally 'category' and 'title')"
    )


def _rows_have(numbers: list[int]) -> str:
    return ("row {} has" if len(numbers) == 1 else "rows {} have").format(", ".join(map(str, numbers)))


def _faq_csv(upload: _Upload) -> list[Imported]:
    table = _csv_table(upload)
    cell = table.cell
    has_category = "category" in table.roles
    no_question: list[int] = []
    no_answer: list[int] = []
    too_long: list[int] = []
    no_category: list[int] = []
    groups: dict[str, tuple[str, list[tuple[int, list[str]]]]] = {}
    for number, row in table.rows:
        if not any(value.strip() for value in row):
            continue
        if any(value.strip() for value in row[len(table.header) :]):
            too_long.append(number)
        if not cell(row, "question"):
            no_question.append(number)
        if not cell(row, "answer"):
            no_answer.append(number)
        category = cell(row, "category")
        if has_category and not category:
            no_category.append(number)
            category = "General"
        groups.setdefault(slugify(category) if category else "", (category, []))[1].append((number, row))
    problems = []
    if too_long:
        problems.append(
            f"{_rows_have(too_long)} more cells than the header (a '{table.delimiter}' in an answer "
            "without quotes?): put those answers in double quotes"
        )
    empty = [
        f"{_rows_have(rows)} no {role}"
        for role, rows in (("question", no_question), ("answer", no_answer))
        if rows
    ]
    if empty:
        problems.append("; ".join(empty) + ": fill them in or delete those rows")
    if problems:
        raise upload.error(": " + "; ".join(problems))
    if not groups:
        raise upload.error(" has column headers but no questions; add one row per question")
    if len(groups) > MAX_CSV_ARTICLES:
        raise upload.error(
            f" has {len(groups)} categories, and each becomes an article: at most {MAX_CSV_ARTICLES} come"
            " from one file; split it into several files, or use fewer categories"
        )
    warnings = []
    if no_category:
        warnings.append(f"{_rows_have(no_category)} no category: they went to 'General'")
    used = {index for role, index in table.roles.items() if not role.startswith("other ")}
    ignored = [
        name or f"column {i + 1}"
        for i, name in enumerate(table.header)
        if i not in used and any(i < len(row) and row[i].strip() for _, row in table.rows)
    ]
    if ignored:
        warnings.append(
            f"columns left out (only question, answer, category and title are read): {', '.join(ignored)}"
        )
    results = []
    for key, (category, members) in groups.items():
        seen: dict[str, int] = {}
        sections: list[str] = []
        article_warnings = list(warnings)
        for number, row in members:
            question = " ".join(cell(row, "question").split())
            if question.casefold() in seen:
                article_warnings.append(
                    f"duplicate question '{question}' (rows {seen[question.casefold()]} and {number})"
                )
            seen.setdefault(question.casefold(), number)
            sections.append(f"## {question}\n\n{_escape_hashes(cell(row, 'answer'))}")
        titles = [cell(row, "title") for _, row in members if cell(row, "title")]
        title = titles[0] if titles else f"{upload.stem_title}: {category}" if key else upload.stem_title
        results.append(
            upload.finish(
                title=title,
                body="\n\n".join(sections),
                slug=slugify(f"{upload.slug}-{key}", max_chars=MAX_SLUG_CHARS) if key else upload.slug,
                category=key or "faq",
                warnings=article_warnings,
            )
        )
    return results


_CONVERTERS: dict[str, tuple[str, Callable[[_Upload], list[Imported]]]] = {
    ".md": ("markdown", _markdown),
    ".markdown": ("markdown", _markdown),
    ".html": ("html", _html),
    ".htm": ("html", _html),
    ".pdf": ("pdf", _pdf),
    ".txt": ("text", _text),
    ".csv": ("faq_csv", _faq_csv),
}
