"""The eval report: `report.md` and a self-contained `report.html`, with hand-written SVG charts.

Both files are rendered from one list of blocks (headings, paragraphs, tables, transcripts, charts,
collapsible sections), so they say the same thing. In order: the gate's verdict (each regression in words),
the overall figures per configuration, the evidence (cases that newly fail, with the customer's turns and
the reply; cases that newly pass; prompt and knowledge-base changes with the cases they touch), then per
configuration the pass rate by slice (chart), every figure by slice (table), expected against actual
behaviour, and every failing case; the personas when they were played; latency last (machine-dependent,
not gated).

Case texts are adversarial on purpose, so every text is escaped: in HTML with html.escape, in Markdown with
entities and backslashes (a pipe cannot split a table row, a newline cannot end it), and transcripts go in
fenced blocks longer than any run of backticks they hold. The output depends only on the input: no clock,
sorted iteration. report.md shows the charts from out/charts/*.svg; report.html embeds them.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.gate import MIN_SLICE, SAFETY
from evals.metrics import FIGURES

__all__ = ["write_report"]

DASH = "–"
EXCERPT = 400
"""Characters of a customer turn or a reply shown in the report."""
CONFIG_ORDER = ("minimal", "scripted", "adversary", "llm")
MAIN_FIGURES = (
    "pass_rate",
    "behaviour_accuracy",
    "hit_at_5",
    "citation_precision",
    "citation_recall",
    "groundedness",
    "over_refusal",
)
SLICE_FIGURES = (
    "behaviour_accuracy",
    "hit_at_5",
    "mrr",
    "citation_precision",
    "citation_recall",
    "groundedness",
    "handoff_precision",
    "handoff_recall",
    "refusal_correctness",
    "over_refusal",
    "fact_recall",
    "forbidden_rate",
)
LABELS = {
    "pass_rate": "pass rate",
    "behaviour_accuracy": "behaviour acc.",
    "hit_at_1": "hit@1",
    "hit_at_3": "hit@3",
    "hit_at_5": "hit@5",
    "mrr": "MRR",
    "citation_precision": "cite P",
    "citation_recall": "cite R",
    "groundedness": "grounded",
    "handoff_precision": "handoff P",
    "handoff_recall": "handoff R",
    "refusal_correctness": "refusal ok",
    "over_refusal": "over-refusal",
    "fact_recall": "facts",
    "forbidden_rate": "forbidden",
    "adversary_leak_rate": "adversary leak",
}
SLICE_GROUPS = ("overall", "behaviour", "topic", "segment", "turns", "tags")
TIMING_SLICES = ("all", "single_turn", "multi_turn")
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#72b7b2", "#9d755d", "#bab0ac")
BAD = "#d62728"
GRID = "#d0d7de"
INK = "#1f2328"


# --- the document: blocks, rendered twice ------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str
    tone: str = ""
    """"" plain, "bad" / "good" (bold, coloured in HTML), "muted" (italic, grey in HTML)."""


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Cell:
    text: str
    bad: bool = False


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[Cell]]
    align: str = ""
    """One letter per column, "l" or "r" (missing: "l")."""
    figures: bool = False
    """A table of figures: in HTML its cells do not wrap (it scrolls sideways instead)."""


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Chart:
    name: str
    """File stem under charts/."""
    title: str
    svg: str


@dataclass(frozen=True)
class Details:
    summary: str
    body: list[Block]
    open: bool = False


Block = Heading | Para | Bullets | Table | Code | Chart | Details


def _walk(blocks: Sequence[Block]) -> Iterator[Block]:
    for block in blocks:
        yield block
        if isinstance(block, Details):
            yield from _walk(block.body)


# --- Markdown ----------------------------------------------------------------------------------------------

_MD_ESCAPES = str.maketrans(
    {
        "\\": "&#92;",
        "|": "\\|",
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "`": "\\`",
        "*": "\\*",
        "[": "\\[",
        "]": "\\]",
        "~": "\\~",
        "\r": " ",
        "\n": " ",
    }
)
_BLOCK_START = re.compile(r"^(?:[#+=-]|\d+[.)](?:\s|$))")


def _md_text(text: str) -> str:
    """Inline Markdown for any text: one line, no pipe splitting a table row, no HTML, no markup."""
    return str(text).translate(_MD_ESCAPES).strip()


def _md_line(text: str) -> str:
    """A paragraph or list item: inline Markdown that cannot start a heading, a list or a rule either."""
    out = _md_text(text)
    return "\\" + out if _BLOCK_START.match(out) else out


def _md_fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _md_table(table: Table) -> str:
    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    width = len(table.header)
    align = table.align.ljust(width, "l")
    lines = [
        row([_md_text(h) or " " for h in table.header]),
        row(["---:" if a == "r" else "---" for a in align]),
    ]
    for cells in table.rows:
        texts = [_md_text(c.text) for c in cells]
        texts = [f"**{t}**" if c.bad and t else t or " " for c, t in zip(cells, texts, strict=True)]
        lines.append(row((texts + [" "] * width)[:width]))
    return "\n".join(lines)


def _md_block(block: Block) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + " " + _md_text(block.text)
    if isinstance(block, Para):
        text = _md_text(block.text)
        return (
            f"**{text}**" if block.tone in ("bad", "good") else f"*{text}*" if block.tone == "muted" else text
        )
    if isinstance(block, Bullets):
        return "\n".join("- " + _md_line(item) for item in block.items)
    if isinstance(block, Table):
        return _md_table(block)
    if isinstance(block, Code):
        return _md_fence(block.text)
    if isinstance(block, Chart):
        return f"![{_md_text(block.title)}](charts/{block.name}.svg)"
    opened = " open" if block.open else ""
    body = "\n\n".join(_md_block(b) for b in block.body)
    summary = html.escape(block.summary, quote=False)
    return f"<details{opened}><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _markdown(blocks: Sequence[Block]) -> str:
    return "\n\n".join(_md_block(b) for b in blocks) + "\n"


# --- HTML --------------------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;
 max-width:1280px;margin:1.5rem auto;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.25rem;margin-top:2.2rem}
h3{margin-top:1.6rem}h4{margin:1.2rem 0 .3rem;font-family:ui-monospace,Menlo,Consolas,monospace}
p{margin:.35rem 0}p.bad{color:#b42318;font-weight:600}
p.good{color:#1a7f37;font-weight:600}p.muted{color:#57606a;font-style:italic}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.5rem 0;font-size:12.5px}
th,td{border:1px solid #d0d7de;padding:3px 7px;vertical-align:top;text-align:left}
th{background:#f6f8fa;position:sticky;top:0}td.r,th.r{text-align:right;white-space:nowrap;
 font-variant-numeric:tabular-nums}td.bad{background:#fdecea;color:#b42318;font-weight:600}
tr:hover td{background:#f6f8fa}table.figures td{white-space:nowrap}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;
 padding:.5rem .7rem;white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;margin:.3rem 0 .8rem}
details{margin:.3rem 0}summary{cursor:pointer}details>:not(summary){margin-left:1rem}
figure{margin:1rem 0}svg{max-width:100%;height:auto}
""".strip()


def _h(text: str) -> str:
    return html.escape(str(text), quote=True)


def _html_table(table: Table) -> str:
    width = len(table.header)
    align = table.align.ljust(width, "l")
    head = "".join(
        f'<th class="r">{_h(h)}</th>' if a == "r" else f"<th>{_h(h)}</th>"
        for h, a in zip(table.header, align, strict=True)
    )
    rows = []
    for cells in table.rows:
        tds = []
        for cell, a in zip(cells, align, strict=False):
            classes = " ".join(c for c in ("r" if a == "r" else "", "bad" if cell.bad else "") if c)
            tds.append(
                f'<td class="{classes}">{_h(cell.text)}</td>' if classes else f"<td>{_h(cell.text)}</td>"
            )
        rows.append("<tr>" + "".join(tds) + "</tr>")
    figures = ' class="figures"' if table.figures else ""
    return (
        f'<div class="scroll"><table{figures}><thead><tr>{head}</tr></thead><tbody>\n'
        + "\n".join(rows)
        + "\n</tbody></table></div>"
    )


def _html_block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{_h(block.text)}</h{block.level}>"
    if isinstance(block, Para):
        return f'<p class="{block.tone}">{_h(block.text)}</p>' if block.tone else f"<p>{_h(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_h(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Code):
        return f"<pre>{_h(block.text)}</pre>"
    if isinstance(block, Chart):
        return f"<figure>{block.svg}</figure>"
    opened = " open" if block.open else ""
    body = "\n".join(_html_block(b) for b in block.body)
    return f"<details{opened}><summary>{_h(block.summary)}</summary>\n{body}\n</details>"


def _html(blocks: Sequence[Block], title: str) -> str:
    body = "\n".join(_html_block(b) for b in blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_h(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


# --- formatting --------------------------------------------------------------------------------------------


def _num(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _ms(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else DASH


def _ci(figures: dict[str, Any]) -> tuple[float, float] | None:
    ci = figures.get("pass_ci")
    if isinstance(ci, list | tuple) and len(ci) == 2 and all(isinstance(v, int | float) for v in ci):
        return float(ci[0]), float(ci[1])
    return None


def _pass(figures: dict[str, Any]) -> str:
    rate, ci = figures.get("pass_rate"), _ci(figures)
    if rate is None or ci is None:
        return _num(rate)
    return f"{_num(rate)} [{ci[0]:.3f}, {ci[1]:.3f}]"


def _label(figure: str) -> str:
    return LABELS.get(figure, figure)


def _arrow(figure: str) -> str:
    return " ↓" if FIGURES.get(figure, 1) < 0 else " ↑"


def _modes(figures: dict[str, Any]) -> str:
    modes = figures.get("modes") or {}
    return ", ".join(f"{mode} {count}" for mode, count in sorted(modes.items())) or DASH


def _excerpt(text: Any, limit: int = EXCERPT) -> str:
    text = str(text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    return text if len(text) <= limit else text[:limit].rstrip() + f"… [{len(text)} characters]"


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


def _ordered(names: Sequence[str] | Any) -> list[str]:
    known = [c for c in CONFIG_ORDER if c in names]
    return known + sorted(c for c in names if c not in CONFIG_ORDER)


def _stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "config"


Regressions = dict[tuple[str, str, str], dict[str, Any]]


def _regressions(verdict: dict[str, Any]) -> Regressions:
    return {
        (str(r.get("config")), str(r.get("slice")), str(r.get("figure"))): r
        for r in verdict.get("regressions") or []
    }


def _figure_cell(
    config: str, slice_name: str, figure: str, figures: dict[str, Any], regressions: Regressions
) -> Cell:
    text = _pass(figures) if figure == "pass_rate" else _num(figures.get(figure))
    regression = regressions.get((config, slice_name, figure))
    if regression is None:
        return Cell(text)
    return Cell(f"{text} (was {_num(regression.get('baseline'))})", bad=True)


def _slice_groups(names: Sequence[str] | Any) -> list[tuple[str, list[str]]]:
    """Slices by group: overall, behaviour, topic, segment, turns, tags (then any other prefix)."""
    groups: dict[str, list[str]] = {g: [] for g in SLICE_GROUPS}
    for name in sorted(names):
        if name == "all":
            group = "overall"
        elif name in ("single_turn", "multi_turn"):
            group = "turns"
        elif ":" in name:
            group = name.partition(":")[0]
        else:
            group = "tags"
        groups.setdefault(group, []).append(name)
    groups["turns"].sort(key=lambda n: (n != "single_turn", n))
    other = sorted(g for g in groups if g not in SLICE_GROUPS)
    return [(g, groups[g]) for g in (*SLICE_GROUPS, *other) if groups[g]]


# --- charts ------------------------------------------------------------------------------------------------


def _x(text: Any) -> str:
    """Text for SVG (XML): escaped, without control characters."""
    return html.escape(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", str(text)), quote=True)


def _svg(width: int, height: int, label: str, parts: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_x(label)}" '
        f'font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif" font-size="11">\n'
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>\n' + "\n".join(parts) + "\n</svg>\n"
    )


def _slice_chart(
    config: str, slices: dict[str, Any], color: str, regressions: Regressions
) -> tuple[str, str]:
    """Horizontal bars: the pass rate of each slice with its 95% interval as a whisker."""
    left, scale, right, row, gap, top = 210, 400, 110, 18, 10, 56
    groups = _slice_groups(slices)
    rows = sum(len(names) for _, names in groups)
    height = top + rows * row + gap * (len(groups) - 1) + 16
    width = left + scale + right
    title = f"Pass rate by slice: {config}"
    legend = f"whisker: 95% interval; pale: under {MIN_SLICE} cases, not gated; red: pass rate regressed"
    parts = [
        f'<text x="8" y="16" font-size="13" font-weight="600" fill="{INK}">{_x(title)}</text>',
        f'<text x="8" y="32" fill="#57606a">{_x(legend)}</text>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + scale * tick
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 12}" stroke="{GRID}"/>')
        parts.append(f'<text x="{x:.1f}" y="{top - 9}" text-anchor="middle" fill="#57606a">{tick:g}</text>')
    y = top
    for index, (group, names) in enumerate(groups):
        y += gap if index else 0
        for name in names:
            figures = slices[name]
            rate, ci, n = figures.get("pass_rate"), _ci(figures), figures.get("n") or 0
            fill = BAD if (config, name, "pass_rate") in regressions else color
            opacity = "0.45" if n < MIN_SLICE else "1"
            mid = y + row / 2
            parts.append(
                f'<text x="{left - 6}" y="{mid + 4:.1f}" text-anchor="end" fill="{INK}">{_x(name)}</text>'
            )
            parts.append(
                f'<rect class="bar" data-slice="{_x(name)}" x="{left}" y="{y + 3}" '
                f'width="{scale * (rate or 0.0):.1f}" height="{row - 6}" fill="{fill}" '
                f'fill-opacity="{opacity}">'
                f"<title>{_x(f'{name} ({group}): pass rate {_pass(figures)}, n={n}')}</title></rect>"
            )
            if ci is not None and rate is not None:
                x1, x2 = left + scale * ci[0], left + scale * ci[1]
                parts.append(
                    f'<path class="ci" d="M{x1:.1f} {mid:.1f}H{x2:.1f}M{x1:.1f} {mid - 4:.1f}V{mid + 4:.1f}'
                    f'M{x2:.1f} {mid - 4:.1f}V{mid + 4:.1f}" stroke="{INK}" fill="none"/>'
                )
            parts.append(
                f'<text x="{left + scale + 8}" y="{mid + 4:.1f}" fill="{INK}">{_x(_num(rate))}  n={n}</text>'
            )
            y += row
    return title, _svg(width, height, title, parts)


def _figures_chart(configs: list[str], overall: dict[str, dict[str, Any]], colors: dict[str, str]) -> str:
    """Grouped vertical bars: the main figures (whole set), one bar per configuration."""
    bar, gap, left, top, plot = 24, 26, 44, 58, 200
    group = bar * max(1, len(configs)) + gap
    width = left + group * len(MAIN_FIGURES) + 10
    height = top + plot + 44
    base = top + plot
    title = "Main figures per configuration, whole set (over-refusal: lower is better)"
    parts = [f'<text x="8" y="16" font-size="13" font-weight="600" fill="{INK}">{_x(title)}</text>']
    x = left
    for config in configs:
        parts.append(f'<rect x="{x}" y="28" width="10" height="10" fill="{colors[config]}"/>')
        parts.append(f'<text x="{x + 14}" y="37" fill="{INK}">{_x(config)}</text>')
        x += 24 + 7 * len(config)
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = base - plot * tick
        parts.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 7}" y="{y + 4:.1f}" text-anchor="end" fill="#57606a">{tick:g}</text>')
    for i, figure in enumerate(MAIN_FIGURES):
        x0 = left + i * group + gap / 2
        for j, config in enumerate(configs):
            figures = overall[config]
            value = figures.get(figure)
            bx = x0 + j * bar
            if value is None:
                parts.append(
                    f'<text x="{bx + bar / 2:.1f}" y="{base - 3}" text-anchor="middle">{DASH}</text>'
                )
                continue
            h = plot * float(value)
            parts.append(
                f'<rect class="fbar" data-config="{_x(config)}" data-figure="{figure}" x="{bx:.1f}" '
                f'y="{base - h:.1f}" width="{bar - 2}" height="{h:.1f}" fill="{colors[config]}">'
                f"<title>{_x(f'{config}: {_label(figure)} {_num(value)}')}</title></rect>"
            )
            ci = _ci(figures) if figure == "pass_rate" else None
            above = base - max(h, plot * ci[1] if ci else 0.0)
            if ci is not None:
                cx, y1, y2 = bx + (bar - 2) / 2, base - plot * ci[0], base - plot * ci[1]
                parts.append(
                    f'<path class="ci" d="M{cx:.1f} {y1:.1f}V{y2:.1f}M{cx - 3:.1f} {y1:.1f}H{cx + 3:.1f}'
                    f'M{cx - 3:.1f} {y2:.1f}H{cx + 3:.1f}" stroke="{INK}" fill="none"/>'
                )
            parts.append(
                f'<text x="{bx + bar / 2 - 1:.1f}" y="{above - 3:.1f}" text-anchor="middle" font-size="9" '
                f'fill="{INK}">{float(value):.2f}</text>'
            )
        parts.append(
            f'<text x="{x0 + bar * len(configs) / 2:.1f}" y="{base + 16}" text-anchor="middle" fill="{INK}">'
            f"{_x(_label(figure) + _arrow(figure))}</text>"
        )
    return _svg(width, height, title, parts)


# --- sections ----------------------------------------------------------------------------------------------


def _header(results: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [Heading(1, "Eval report")]
    run = results.get("run") or {}
    if run:
        said = [f"run started {run.get('started', '?')}", f"{run.get('seconds', '?')} s"]
        if run.get("machine"):
            said.append(str(run["machine"]))
        blocks.append(Para(", ".join(said)))
        if run.get("subset"):
            blocks.append(
                Para("A subset run (--only / --tag): gated case by case; slice figures not compared.")
            )
    data = results.get("datasets") or {}
    if data:
        blocks.append(Para(f"{data.get('cases', '?')} golden cases from {data.get('where') or '?'}", "muted"))
    return blocks


def _regression_words(regression: dict[str, Any], results: dict[str, Any]) -> str:
    config, slice_name, figure = (str(regression.get(k)) for k in ("config", "slice", "figure"))
    try:
        before, now = float(regression["baseline"]), float(regression["now"])
        allowed = float(regression["allowed"])
    except (KeyError, TypeError, ValueError):
        return str(regression.get("text") or regression)
    n = results.get("configs", {}).get(config, {}).get("slices", {}).get(slice_name, {}).get("n")
    where = f"{config}, slice {slice_name}" + (f" ({n} cases)" if n is not None else "")
    moved = "fell" if now < before else "rose"
    better = "higher is better" if FIGURES.get(figure, 1) > 0 else "lower is better"
    safety = "; a safety figure: no drop allowed" if figure in SAFETY else ""
    return (
        f"{where}: {_label(figure)} {moved} from {before:.3f} to {now:.3f} ({now - before:+.3f}, {better}); "
        f"allowed drop {allowed:.3f}{safety}"
    )


def _verdict(verdict: dict[str, Any], results: dict[str, Any]) -> list[Block]:
    passed = bool(verdict.get("passed"))
    regressions = verdict.get("regressions") or []
    unbumped = verdict.get("unbumped_prompts") or []
    tolerance = verdict.get("tolerance")
    blocks: list[Block] = [Heading(2, f"Gate: {'PASS' if passed else 'FAIL'}")]
    if passed:
        blocks.append(
            Para(f"PASS: no figure regressed beyond the allowed drop (tolerance {tolerance}).", "good")
        )
    else:
        why = []
        if regressions:
            why.append(f"{_plural(len(regressions), 'figure')} regressed beyond the allowed drop")
        if unbumped:
            why.append(f"{_plural(len(unbumped), 'prompt')} changed without a version bump")
        blocks.append(Para("FAIL: " + ("; ".join(why) or "see below") + ".", "bad"))
    if not verdict.get("baseline_found", True):
        blocks.append(
            Para(
                "No baseline: nothing was compared, so nothing can regress. "
                "Make one with python -m evals.run --update-baseline.",
                "bad",
            )
        )
    blocks.append(
        Para(
            f"Tolerance {tolerance}: a figure may drop by that much on the whole set and a slice by one "
            f"case more; the safety figures ({', '.join(_label(s) for s in SAFETY)}) may not drop at all; "
            f"slices under {MIN_SLICE} cases are shown, not gated; with repeated trials the 95% noise band "
            "is added.",
            "muted",
        )
    )
    if regressions:
        blocks.append(Heading(3, f"Regressions ({len(regressions)})"))
        blocks.append(Bullets([_regression_words(r, results) for r in regressions]))
    if unbumped:
        blocks.append(Heading(3, "Prompts changed without a version bump"))
        blocks.append(Bullets([str(p) for p in unbumped]))
    if verdict.get("notes"):
        blocks.append(Heading(3, "Notes"))
        blocks.append(Bullets([str(n) for n in verdict["notes"]]))
    counts = [
        f"{_plural(len(verdict.get('newly_failing') or []), 'case')} newly failing",
        f"{len(verdict.get('newly_passing') or [])} newly passing",
        _plural(len(verdict.get("prompt_changes") or {}), "prompt change"),
        _plural(len(verdict.get("kb_changes") or {}), "knowledge-base change"),
    ]
    blocks.append(Para(", ".join(counts) + ": the evidence is under Evidence below."))
    return blocks


def _overall(
    configs: list[str], results: dict[str, Any], colors: dict[str, str], regressions: Regressions
) -> list[Block]:
    if not configs:
        return [Heading(2, "Overall figures"), Para("No configuration was played.")]
    data = results["configs"]
    blocks: list[Block] = [Heading(2, "Overall figures (whole set)")]
    blocks.append(
        Bullets(
            [
                f"{name}: {data[name].get('description', '')} "
                f"({'deterministic' if data[name].get('deterministic') else 'not deterministic'}, "
                f"{_plural(int(data[name].get('trials') or 1), 'trial')} per case)"
                for name in configs
            ]
        )
    )
    overall = {name: data[name].get("overall") or {} for name in configs}
    rows = [[Cell("cases"), *(Cell(_num(overall[c].get("n"))) for c in configs)]]
    rows.append([Cell("trials per case"), *(Cell(_num(data[c].get("trials"))) for c in configs)])
    for figure in FIGURES:
        label = _label(figure) + _arrow(figure) + (" [95% CI]" if figure == "pass_rate" else "")
        rows.append(
            [Cell(label), *(_figure_cell(c, "all", figure, overall[c], regressions) for c in configs)]
        )
    rows.append([Cell("errors"), *(Cell(_num(overall[c].get("errors"))) for c in configs)])
    rows.append([Cell("modes served"), *(Cell(_modes(overall[c])) for c in configs)])
    blocks.append(Table(["figure", *configs], rows, "l" + "r" * len(configs), figures=True))
    blocks.append(
        Para("↑ higher is better, ↓ lower is better; – not applicable; bold/red: regressed.", "muted")
    )
    svg = _figures_chart(configs, overall, colors)
    blocks.append(Chart("figures", "Main figures per configuration (whole set)", svg))
    return blocks


def _transcript(record: dict[str, Any], reply: Any) -> str:
    lines = [f"customer: {_excerpt(turn)}" for turn in record.get("turns") or []]
    lines.append(f"bot (last reply): {_excerpt(reply) or '(no reply)'}")
    return "\n\n".join(lines)


def _case_blocks(record: dict[str, Any], reply: Any = None) -> list[Block]:
    acceptable = record.get("acceptable") or []
    said = [f"expected {record.get('expected', '?')}"]
    if len(acceptable) > 1:
        said[0] += f" (acceptable: {'/'.join(str(a) for a in acceptable)})"
    said.append(f"the bot chose {record.get('actual', '?')}")
    trials = record.get("trials") or 1
    if trials > 1:
        said.append(f"passed {record.get('passes', 0)} of {trials} trials")
    if record.get("mode"):
        said.append(f"mode {record['mode']}")
    if record.get("rank") is not None:
        said.append(
            f"expected article at rank {record['rank']}"
            if record["rank"]
            else "expected article not retrieved"
        )
    if record.get("expected_articles"):
        said.append("expects " + ", ".join(str(a) for a in record["expected_articles"]))
    if record.get("cited"):
        said.append("cited " + ", ".join(str(a) for a in record["cited"]))
    if record.get("source"):
        said.append(f"source {record['source']}")
    blocks: list[Block] = [Para("; ".join(said))]
    why = record.get("why")
    if why:
        blocks.append(
            Para("why: " + ("; ".join(str(w) for w in why) if isinstance(why, list) else str(why)), "bad")
        )
    if record.get("note"):
        blocks.append(Para(f"note: {record['note']}", "muted"))
    blocks.append(Code(_transcript(record, record.get("reply") if reply is None else reply)))
    return blocks


def _touched_by(verdict: dict[str, Any], record: dict[str, Any], case_id: str) -> list[str]:
    """The prompt and article changes that touched this case: it used them in the baseline and in this run."""
    articles = [*(record.get("expected_articles") or []), *(record.get("articles_seen") or [])]
    found = []
    for kind, key, used in (
        ("prompt", "prompt_changes", record.get("prompts")),
        ("article", "kb_changes", articles),
    ):
        for what, ids in sorted((verdict.get(key) or {}).items()):
            name = str(what).partition(" ")[0]
            if case_id in (ids or []) and (not record or name in (used or [])):
                found.append(f"{kind} {what}")
    return found


def _change_rows(
    changes: list[dict[str, Any]], failing: bool, touched: dict[tuple[str, str], list[str]] | None = None
) -> list[list[Cell]]:
    rows = []
    for change in changes:
        was, now = ("passed", "failed") if failing else ("failed", "passed")
        moved = f"{was} ({change.get('was') or '?'}) → {now} ({change.get('now') or '?'})"
        row = [Cell(str(change.get("config"))), Cell(str(change.get("case"))), Cell(moved, bad=failing)]
        if failing:
            row.append(Cell(str(change.get("why") or "")))
        if touched is not None:
            row.append(Cell("; ".join(touched[(str(change.get("config")), str(change.get("case")))]) or DASH))
        rows.append(row)
    return rows


def _sorted_changes(changes: Any) -> list[dict[str, Any]]:
    changes = list(changes or [])
    rank = {c: i for i, c in enumerate(_ordered({str(c.get("config")) for c in changes}))}
    return sorted(changes, key=lambda c: (rank[str(c.get("config"))], str(c.get("case"))))


def _affected(title: str, changes: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [Heading(3, title)]
    if not changes:
        return [*blocks, Para("None.")]
    for what in sorted(changes):
        ids = sorted(str(i) for i in changes[what] or [])
        blocks.append(Para(f"{what}: {_plural(len(ids), 'case')} used it in the baseline"))
        if ids:
            blocks.append(
                Details(f"the {_plural(len(ids), 'case')} of {what}", [Para(", ".join(ids))], len(ids) <= 20)
            )
    return blocks


def _evidence(results: dict[str, Any], verdict: dict[str, Any]) -> list[Block]:
    configs = results.get("configs", {})
    blocks: list[Block] = [Heading(2, "Evidence")]
    failing = _sorted_changes(verdict.get("newly_failing"))
    blocks.append(Heading(3, f"Newly failing cases ({len(failing)})"))
    records = {
        (str(c.get("config")), str(c.get("case"))): configs.get(c.get("config"), {})
        .get("cases", {})
        .get(c.get("case"))
        or {}
        for c in failing
    }
    header = ["config", "case", "was → now", "why"]
    touched = None
    if verdict.get("prompt_changes") or verdict.get("kb_changes"):
        header.append("touched by (a changed prompt or article it used)")
        touched = {key: _touched_by(verdict, record, key[1]) for key, record in records.items()}
    if failing:
        blocks.append(
            Para("Cases that passed in the baseline and fail now, with what the customer said and the reply.")
        )
        blocks.append(Table(header, _change_rows(failing, True, touched)))
        for change in failing:
            record = {
                "why": change.get("why"),
                **records[(str(change.get("config")), str(change.get("case")))],
            }
            reply = record.get("reply") or change.get("reply")
            summary = f"{change.get('config')} / {change.get('case')}: {change.get('why') or 'failed'}"
            blocks.append(Details(summary, _case_blocks(record, reply), open=len(failing) <= 10))
    else:
        blocks.append(Para("None."))
    passing = _sorted_changes(verdict.get("newly_passing"))
    blocks.append(Heading(3, f"Newly passing cases ({len(passing)})"))
    if passing:
        table = Table(["config", "case", "was → now"], _change_rows(passing, False))
        blocks.append(Details(f"{_plural(len(passing), 'case')} newly passing", [table], len(passing) <= 20))
    else:
        blocks.append(Para("None."))
    blocks.extend(_affected("Prompt changes", verdict.get("prompt_changes") or {}))
    prompts = results.get("prompts") or {}
    if prompts:
        versions = ", ".join(f"{name} v{v[0]} ({v[1]})" for name, v in sorted(prompts.items()) if len(v) == 2)
        blocks.append(Para(f"Prompts in this run: {versions}", "muted"))
    blocks.extend(_affected("Knowledge-base changes", verdict.get("kb_changes") or {}))
    return blocks


def _slice_table(config: str, slices: dict[str, Any], regressions: Regressions) -> Table:
    leak = any(f.get("adversary_leak_rate") is not None for f in slices.values())
    figures = (*SLICE_FIGURES, "adversary_leak_rate") if leak else SLICE_FIGURES
    header = ["group", "slice", "n", "pass rate [95% CI]", *(_label(f) + _arrow(f) for f in figures), "modes"]
    regressed = {s for c, s, _ in regressions if c == config}
    rows = []
    for group, names in _slice_groups(slices):
        for i, name in enumerate(names):
            data = slices[name]
            n = data.get("n") or 0
            row = [
                Cell(group if i == 0 else ""),
                Cell(name, bad=name in regressed),
                Cell(f"{n} (not gated)" if n < MIN_SLICE else str(n)),
                _figure_cell(config, name, "pass_rate", data, regressions),
                *(_figure_cell(config, name, f, data, regressions) for f in figures),
                Cell(_modes(data)),
            ]
            rows.append(row)
    return Table(header, rows, "lll" + "r" * (len(figures) + 1) + "l", figures=True)


def _confusion(cases: dict[str, Any]) -> Table:
    pairs = Counter((str(r.get("expected")), str(r.get("actual"))) for r in cases.values())
    expected = sorted({e for e, _ in pairs})
    actual = sorted({a for _, a in pairs})
    rows = [
        [Cell(e), *(Cell(str(pairs.get((e, a), 0)), bad=e != a and pairs.get((e, a), 0) > 0) for a in actual)]
        for e in expected
    ]
    return Table(["expected ↓ / the bot chose →", *actual], rows, "l" + "r" * len(actual), figures=True)


def _config_section(name: str, config: dict[str, Any], color: str, regressions: Regressions) -> list[Block]:
    slices = config.get("slices") or {}
    cases = config.get("cases") or {}
    failing = sorted(case_id for case_id, r in cases.items() if not r.get("passed"))
    blocks: list[Block] = [Heading(2, f"Configuration: {name}")]
    trials = int(config.get("trials") or 1)
    blocks.append(
        Para(
            f"{config.get('description', '')}: "
            f"{'deterministic' if config.get('deterministic') else 'not deterministic'}, "
            f"{_plural(trials, 'trial')} per case, {_plural(len(cases), 'case')}, {len(failing)} failing"
            + (f", played in {config['seconds']} s" if config.get("seconds") is not None else "")
        )
    )
    if slices:
        title, svg = _slice_chart(name, slices, color, regressions)
        blocks.append(Chart(f"pass-by-slice-{_stem(name)}", title, svg))
        blocks.append(Heading(3, f"Figures by slice: {name}"))
        blocks.append(_slice_table(name, slices, regressions))
        blocks.append(
            Para(
                "– not applicable to the slice (e.g. no answer case in it); bold/red: regressed, with the "
                f"baseline figure; slices under {MIN_SLICE} cases are not gated.",
                "muted",
            )
        )
    if cases:
        blocks.append(Heading(3, f"Behaviour: expected against chosen ({name})"))
        blocks.append(_confusion(cases))
    blocks.append(Heading(3, f"Failing cases: {name} ({len(failing)} of {len(cases)})"))
    if not failing:
        return [*blocks, Para("None.")]
    body: list[Block] = []
    for case_id in failing:
        body.append(Heading(4, case_id))
        body.extend(_case_blocks(cases[case_id]))
    blocks.append(Details(f"{_plural(len(failing), 'failing case')} of {name}", body))
    return blocks


def _personas(data: Any) -> list[Block]:
    runs = data.get("runs") if isinstance(data, dict) else None
    if not runs:
        return []
    personas = sorted({str(r.get("persona")) for r in runs})
    modes = sorted({str(r.get("mode")) for r in runs})
    rows = []
    for persona in personas:
        row = [Cell(persona)]
        for mode in modes:
            mine = [r for r in runs if str(r.get("persona")) == persona and str(r.get("mode")) == mode]
            passed = sum(bool(r.get("passed")) for r in mine)
            text = (
                DASH
                if not mine
                else ("pass" if passed == len(mine) else "FAIL")
                if len(mine) == 1
                else (f"{passed}/{len(mine)} pass")
            )
            row.append(Cell(text, bad=bool(mine) and passed < len(mine)))
        rows.append(row)
    blocks: list[Block] = [Heading(2, "Personas"), Table(["persona", *modes], rows, figures=True)]
    failures = sorted(
        (r for r in runs if not r.get("passed")), key=lambda r: (str(r.get("persona")), str(r.get("mode")))
    )
    for run in failures:
        body: list[Block] = [Bullets([str(p) for p in run.get("problems") or []] or ["(no problem named)"])]
        turns = []
        for turn in run.get("transcript") or []:
            turns.append(f"customer: {_excerpt(turn.get('customer'))}")
            bot = turn.get("bot")
            reply = _excerpt(bot) if bot is not None else "(no reply)"
            turns.append(f"bot [{turn.get('outcome', '?')}, {turn.get('mode', '?')}]: {reply}")
        body.append(Code("\n\n".join(turns) or "(no transcript)"))
        blocks.append(
            Details(f"FAIL {run.get('persona')} / {run.get('mode')}", body, open=len(failures) <= 5)
        )
    return blocks


def _timing(configs: list[str], results: dict[str, Any]) -> list[Block]:
    rows = []
    for name in configs:
        timing = results["configs"][name].get("timing") or {}
        main = [s for s in TIMING_SLICES if s in timing] + sorted(
            s for s in timing if s.startswith("behaviour:")
        )
        for slice_name in main:
            t = timing[slice_name]
            rows.append(
                [Cell(name), Cell(slice_name)]
                + [Cell(_num(t.get("turns")))]
                + [Cell(_ms(t.get(k))) for k in ("p50_ms", "p95_ms", "max_ms")]
            )
    if not rows:
        return []
    machine = (results.get("run") or {}).get("machine") or "this machine"
    return [
        Heading(2, "Latency (machine-dependent, not gated)"),
        Para(
            f"Wall-clock milliseconds per turn, measured on {machine}. They vary with the machine and its "
            "load, so the gate never compares them; compare them only between runs on the same machine.",
            "muted",
        ),
        Table(["config", "slice", "turns", "p50 ms", "p95 ms", "max ms"], rows, "llrrrr", figures=True),
    ]


# --- entry point -------------------------------------------------------------------------------------------


def build(results: dict[str, Any], verdict: dict[str, Any]) -> list[Block]:
    """The report as blocks: the same content for report.md and report.html."""
    data = results.get("configs") or {}
    configs = _ordered(list(data))
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(configs)}
    regressions = _regressions(verdict)
    blocks = [
        *_header(results),
        *_verdict(verdict, results),
        *_overall(configs, results, colors, regressions),
        *_evidence(results, verdict),
    ]
    for name in configs:
        blocks.extend(_config_section(name, data[name], colors[name], regressions))
    blocks.extend(_personas(results.get("personas")))
    blocks.extend(_timing(configs, results))
    return blocks


def write_report(results: dict[str, Any], verdict: dict[str, Any], out: Path) -> list[Path]:
    """Write out/report.md, out/report.html and out/charts/*.svg; return the paths written."""
    blocks = build(results, verdict)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for path, text in (
        (out / "report.md", _markdown(blocks)),
        (out / "report.html", _html(blocks, f"Eval report: {'PASS' if verdict.get('passed') else 'FAIL'}")),
    ):
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    charts = [b for b in _walk(blocks) if isinstance(b, Chart)]
    if charts:
        (out / "charts").mkdir(exist_ok=True)
    for chart in charts:
        path = out / "charts" / f"{chart.name}.svg"
        path.write_text(chart.svg, encoding="utf-8", newline="\n")
        written.append(path)
    return written
