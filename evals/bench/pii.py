"""PII benchmark on any cases file of the shape in shared/benchmarks/README.md.

One text a line: `{"id", "text", "spans": [{"type", "start", "end"}], "entity_under_test"}`. A gold span
counts as found when every one of its characters was masked (by any type: what matters is that the value
did not reach the model). Rows with no spans are look-alikes that must stay readable: one counts as masked
when anything in it was masked, and apart when it was masked as the very type it imitates (a look-alike
row of one type may hold a real value of another, which the masker rightly hides). Types the masker
does not support on purpose (dates, URLs, ...) are reported apart, with how often they were masked anyway.
A malformed line is reported and skipped, not fatal: one bad line should not hide the other figures.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.pii import SUPPORTED_TYPES, PiiSpan, mask
from evals.bench.jsonl import Loaded, read_jsonl, row_text


@dataclass(frozen=True)
class Gold:
    type: str
    start: int
    end: int


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    spans: tuple[Gold, ...]
    entity: str
    """The entity the row was written to test (for a look-alike, the type it imitates)."""


def load_cases(path: Path) -> Loaded[Case]:
    """Read the cases; malformed lines are described in `problems` and skipped."""
    return read_jsonl(path, _case)


def _case(row: Any, n: int) -> Case:
    row, text = row_text(row, "case")
    raw_spans = row.get("spans")
    if not isinstance(raw_spans, list):
        raise ValueError("a case needs 'spans' (a list, empty for a look-alike)")
    spans: list[Gold] = []
    for raw in raw_spans:
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            raise ValueError("each span needs 'type', 'start' and 'end'")
        start, end = raw.get("start"), raw.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(text):
            raise ValueError(f"span offsets {start!r}..{end!r} are not inside the text")
        spans.append(Gold(raw["type"], start, end))
    entity = row.get("entity_under_test")
    if not isinstance(entity, str) or not entity:
        entity = spans[0].type if spans else "UNKNOWN"
    return Case(id=str(row.get("id", n)), text=text, spans=tuple(spans), entity=entity)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def evaluate(
    cases: list[Case],
    *,
    masker: Callable[[str], tuple[PiiSpan, ...]] = lambda text: mask(text).spans,
    supported: frozenset[str] = SUPPORTED_TYPES,
) -> dict[str, Any]:
    """The figures for these cases (the masker is a parameter so the arithmetic can be tested alone)."""
    per_type: dict[str, dict[str, int]] = {}
    latencies: list[float] = []
    outside_total = outside_masked = unsupported_chars = unsupported_masked = 0
    typed_hits = 0

    def slot(kind: str) -> dict[str, int]:
        return per_type.setdefault(
            kind,
            {"found": 0, "n_spans": 0, "lookalike_rows": 0, "lookalikes_masked": 0, "lookalikes_as_type": 0},
        )

    for case in cases:
        t0 = time.perf_counter()
        found = masker(case.text)
        latencies.append((time.perf_counter() - t0) * 1000)
        masked = [False] * len(case.text)
        for span in found:
            masked[span.start : span.end] = [True] * (span.end - span.start)
        gold = [False] * len(case.text)
        for g in case.spans:
            gold[g.start : g.end] = [True] * (g.end - g.start)
            covered = all(masked[g.start : g.end])
            s = slot(g.type)
            s["n_spans"] += 1
            s["found"] += covered
            if g.type not in supported:
                unsupported_chars += g.end - g.start
                unsupported_masked += sum(masked[g.start : g.end])
            elif covered and any(f.type == g.type and f.start < g.end and g.start < f.end for f in found):
                typed_hits += 1
        outside_total += gold.count(False)
        outside_masked += sum(m and not g for m, g in zip(masked, gold, strict=True))
        if not case.spans:
            s = slot(case.entity)
            s["lookalike_rows"] += 1
            s["lookalikes_masked"] += bool(found)
            s["lookalikes_as_type"] += any(f.type == case.entity for f in found)

    def recall_over(kinds: list[str]) -> tuple[float, int, int]:
        hit = sum(per_type[k]["found"] for k in kinds)
        n = sum(per_type[k]["n_spans"] for k in kinds)
        return _ratio(hit, n), hit, n

    sup = [k for k in per_type if k in supported]
    recall, hit, n_supported = recall_over(sup)
    recall_all, _, _ = recall_over(list(per_type))
    look_rows = sum(per_type[k]["lookalike_rows"] for k in sup)
    look_masked = sum(per_type[k]["lookalikes_masked"] for k in sup)
    look_as_type = sum(per_type[k]["lookalikes_as_type"] for k in sup)
    return {
        "span_recall": recall,
        "span_recall_all_types": recall_all,
        "typed_span_recall": _ratio(typed_hits, n_supported),
        "over_mask_rate": _ratio(outside_masked, outside_total),
        "lookalike_mask_rate": _ratio(look_masked, look_rows),
        "lookalike_same_type_rate": _ratio(look_as_type, look_rows),
        "unsupported_mask_rate": _ratio(unsupported_masked, unsupported_chars),
        "per_type": {
            kind: {
                "span_recall": _ratio(v["found"], v["n_spans"]) if v["n_spans"] else None,
                "n_spans": v["n_spans"],
                "supported": kind in supported,
                "lookalike_rows": v["lookalike_rows"],
                "lookalikes_masked": v["lookalikes_masked"],
                "lookalikes_masked_as_type": v["lookalikes_as_type"],
            }
            for kind, v in sorted(per_type.items())
        },
        "n": len(cases),
        "n_spans_supported": n_supported,
        "spans_found_supported": hit,
        "lookalike_rows": look_rows,
        "lookalikes_masked": look_masked,
        "p50_ms": float(np.percentile(latencies, 50)) if latencies else 0.0,
        "p95_ms": float(np.percentile(latencies, 95)) if latencies else 0.0,
    }


def run_pii(*, cases_path: Path) -> dict[str, Any]:
    """Load, report skipped lines on stderr, evaluate and print the table."""
    loaded = load_cases(cases_path)
    for problem in loaded.problems:
        print(f"skipped {problem}", file=sys.stderr)
    report = evaluate(loaded.items)
    report["skipped_lines"] = len(loaded.problems)
    _print(report)
    return report


def _print(report: dict[str, Any]) -> None:
    print(
        f"pii: {report['n']} cases, {report['n_spans_supported']} gold spans of supported types"
        + (f", {report['skipped_lines']} malformed lines skipped" if report["skipped_lines"] else "")
    )
    print(f"{'type':20}{'supported':>10}{'recall':>8}{'spans':>7}{'look-alikes':>13}{'masked':>8}")
    for kind, r in report["per_type"].items():
        recall = "-" if r["span_recall"] is None else f"{r['span_recall']:.3f}"
        print(
            f"{kind:20}{'yes' if r['supported'] else 'no':>10}{recall:>8}{r['n_spans']:>7}"
            f"{r['lookalike_rows']:>13}{r['lookalikes_masked']:>8}"
        )
    print(
        f"span recall (supported): {report['span_recall']:.3f} (typed {report['typed_span_recall']:.3f}); "
        f"all types: {report['span_recall_all_types']:.3f}"
    )
    print(
        f"look-alikes masked: {report['lookalike_mask_rate']:.3f} "
        f"({report['lookalikes_masked']}/{report['lookalike_rows']}; as the imitated type "
        f"{report['lookalike_same_type_rate']:.3f}); "
        f"over-masking: {report['over_mask_rate']:.4f} of characters outside gold spans; "
        f"unsupported types masked: {report['unsupported_mask_rate']:.3f} of their characters"
    )
    print(
        f"latency per case (mask = find + tokens): "
        f"p50 {report['p50_ms']:.3f} ms, p95 {report['p95_ms']:.3f} ms"
    )
