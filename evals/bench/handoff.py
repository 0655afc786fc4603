"""Handoff benchmark on any messages file of the shape in shared/benchmarks/README.md.

One message a line: `{"id", "text", "requests_human": true|false|null, "complaint": true|false, "source"}`.
Precision and recall of the explicit-request trigger over the rows labelled true/false (null rows are
skipped), overall and per source; complaint recall over the rows labelled `complaint: true`.
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

from evals.bench.jsonl import Loaded, read_jsonl, row_text
from handoff.triggers.complaint import complaint
from handoff.triggers.explicit import explicit_request


@dataclass(frozen=True)
class Message:
    id: str
    text: str
    requests_human: bool | None
    complaint: bool | None
    source: str


def load_messages(path: Path) -> Loaded[Message]:
    """Read the messages; malformed lines are described in `problems` and skipped."""
    return read_jsonl(path, _message)


def _message(row: Any, n: int) -> Message:
    row, text = row_text(row, "message")
    human = row.get("requests_human")
    if human is not None and not isinstance(human, bool):
        raise ValueError("'requests_human' must be true, false or null")
    grievance = row.get("complaint")
    if grievance is not None and not isinstance(grievance, bool):
        raise ValueError("'complaint' must be true or false")
    return Message(
        id=str(row.get("id", n)),
        text=text,
        requests_human=human,
        complaint=grievance,
        source=str(row.get("source") or "unknown"),
    )


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def _prf(tp: int, fp: int, fn: int, n: int) -> dict[str, Any]:
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "n": n,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def evaluate(
    messages: list[Message],
    *,
    explicit: Callable[[str], object | None] = explicit_request,
    grievance: Callable[[str], object | None] = complaint,
) -> dict[str, Any]:
    """The figures for these messages (the triggers are parameters so the arithmetic can be tested alone)."""
    counts: dict[str, list[int]] = {}  # source -> [tp, fp, fn, n]
    complaints: dict[str, list[int]] = {}  # source -> [fired, n]
    latencies: list[float] = []
    for msg in messages:
        t0 = time.perf_counter()
        fired = explicit(msg.text) is not None
        filed = grievance(msg.text) is not None if msg.complaint else False
        latencies.append((time.perf_counter() - t0) * 1000)
        if msg.requests_human is not None:
            c = counts.setdefault(msg.source, [0, 0, 0, 0])
            c[0] += fired and msg.requests_human
            c[1] += fired and not msg.requests_human
            c[2] += (not fired) and msg.requests_human
            c[3] += 1
        if msg.complaint:
            k = complaints.setdefault(msg.source, [0, 0])
            k[0] += filed
            k[1] += 1
    tp, fp, fn, n = (sum(c[i] for c in counts.values()) for i in range(4))
    report: dict[str, Any] = {
        **_prf(tp, fp, fn, n),
        "n_messages": len(messages),
        "per_source": {s: _prf(*c) for s, c in sorted(counts.items())},
        "complaint_recall": None,
        "complaint_n": 0,
        "p95_ms": float(np.percentile(latencies, 95)) if latencies else 0.0,
    }
    if complaints:
        fired_total = sum(k[0] for k in complaints.values())
        n_total = sum(k[1] for k in complaints.values())
        report["complaint_recall"] = _ratio(fired_total, n_total)
        report["complaint_n"] = n_total
        report["complaint_per_source"] = {
            s: {"recall": _ratio(k[0], k[1]), "n": k[1]} for s, k in sorted(complaints.items())
        }
    return report


def run_handoff(*, cases_path: Path) -> dict[str, Any]:
    """Load, report skipped lines on stderr, evaluate and print the table."""
    loaded = load_messages(cases_path)
    for problem in loaded.problems:
        print(f"skipped {problem}", file=sys.stderr)
    report = evaluate(loaded.items)
    report["skipped_lines"] = len(loaded.problems)
    _print(report)
    return report


def _print(report: dict[str, Any]) -> None:
    labelled = report["n"]
    print(
        f"handoff: {report['n_messages']} messages, {labelled} labelled for the explicit request"
        + (f", {report['skipped_lines']} malformed lines skipped" if report["skipped_lines"] else "")
    )
    print(f"{'explicit request':20}{'precision':>11}{'recall':>9}{'n':>7}{'tp':>6}{'fp':>6}{'fn':>6}")
    rows = [("all", report), *report["per_source"].items()]
    for name, r in rows:
        print(
            f"{name:20}{r['precision']:>11.3f}{r['recall']:>9.3f}{r['n']:>7}{r['tp']:>6}{r['fp']:>6}{r['fn']:>6}"
        )
    if report["complaint_recall"] is None:
        print("complaint recall: no rows labelled complaint: true")
    else:
        per = report["complaint_per_source"]
        split = ", ".join(f"{s} {v['recall']:.3f} (n={v['n']})" for s, v in per.items())
        print(f"complaint recall: {report['complaint_recall']:.3f} (n={report['complaint_n']}); {split}")
    print(f"p95 per message: {report['p95_ms']:.2f} ms")
