"""Guard benchmark on any cases file of the shape in shared/benchmarks/README.md.

One text a line: `{"id", "text", "label": "attack"|"benign"|"out_of_policy", "source", "category"}`.
Rows whose category starts with "indirect" are texts meant to be planted in documents: the document scan
decides them (and, reported apart, what the chat screen says of them); every other row is a customer message.
Figures: detection rate on attacks, false-positive rate on benign rows, block rate on out-of-policy rows, each
per category and per source, on the two fixed halves of the file, and the latency per text. With a documents
file (kb.jsonl shape) also the flag rate of the document scan on real third-party documents.
A malformed line is reported and skipped, not fatal: one bad line should not hide the other figures.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.injection import detect_injection, scan_document
from evals.bench.jsonl import Loaded, read_jsonl, row_text

LABELS = ("attack", "benign", "out_of_policy")
INDIRECT_PREFIX = "indirect"

Decide = Callable[[str], bool]
"""A deciding function: True when the text is blocked."""


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    label: str
    source: str
    category: str

    @property
    def indirect(self) -> bool:
        """A text meant to be planted in a document the bot reads."""
        return self.category.startswith(INDIRECT_PREFIX)


def load_cases(path: Path) -> Loaded[Case]:
    """Read the cases; malformed lines are described in `problems` and skipped."""
    return read_jsonl(path, _case)


def _case(row: Any, n: int) -> Case:
    row, text = row_text(row, "case")
    label = row.get("label")
    if label not in LABELS:
        raise ValueError(f"'label' must be one of {', '.join(LABELS)}")
    return Case(
        id=str(row.get("id", n)),
        text=text,
        label=label,
        source=str(row.get("source") or "unknown"),
        category=str(row.get("category") or "uncategorised"),
    )


def load_documents(path: Path) -> Loaded[Case]:
    """Documents of the kb.jsonl shape (only "text" is used); malformed lines are skipped."""
    return read_jsonl(path, _document)


def _document(row: Any, n: int) -> Case:
    row, text = row_text(row, "document")
    return Case(str(row.get("id", n)), text, "benign", "documents", "document")


def half_of(case_id: str) -> str:
    """The fixed half a row belongs to: rules are developed on "dev" and confirmed on "held_out"."""
    return "dev" if int(hashlib.sha1(case_id.encode()).hexdigest(), 16) % 2 == 0 else "held_out"


def _screen(text: str) -> bool:
    return detect_injection(text).blocked


def _scan(text: str) -> bool:
    return scan_document(text).blocked


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _counts(n: int, blocked: int) -> dict[str, Any]:
    return {"n": n, "blocked": blocked, "rate": _ratio(blocked, n)}


def _tally(outcomes: Iterable[tuple[str, str, bool]]) -> dict[str, dict[str, dict[str, Any]]]:
    """{key: {label: {n, blocked, rate}}} from (key, label, blocked) triples."""
    table: dict[str, dict[str, list[int]]] = {}
    for key, label, blocked in outcomes:
        cell = table.setdefault(key, {}).setdefault(label, [0, 0])
        cell[0] += 1
        cell[1] += blocked
    return {
        key: {label: _counts(*cell) for label, cell in sorted(labels.items())}
        for key, labels in sorted(table.items())
    }


def _rates(decided: list[tuple[Case, bool]]) -> dict[str, Any]:
    by_label = {label: [blocked for case, blocked in decided if case.label == label] for label in LABELS}
    return {
        "detection_rate": _ratio(sum(by_label["attack"]), len(by_label["attack"])),
        "false_positive_rate": _ratio(sum(by_label["benign"]), len(by_label["benign"])),
        "out_of_policy_block_rate": _ratio(sum(by_label["out_of_policy"]), len(by_label["out_of_policy"])),
        "n_attack": len(by_label["attack"]),
        "n_benign": len(by_label["benign"]),
        "n_out_of_policy": len(by_label["out_of_policy"]),
    }


def evaluate(cases: list[Case], *, screen: Decide = _screen, scan: Decide = _scan) -> dict[str, Any]:
    """The figures for these cases; the deciding functions are parameters so a composite screen plugs in."""
    decided: list[tuple[Case, bool]] = []
    latencies: list[float] = []
    indirect_by_screen: list[tuple[str, str, bool]] = []
    for case in cases:
        decide = scan if case.indirect else screen
        t0 = time.perf_counter()
        blocked = bool(decide(case.text))
        latencies.append((time.perf_counter() - t0) * 1000)
        decided.append((case, blocked))
        if case.indirect:
            indirect_by_screen.append((case.category, case.label, bool(screen(case.text))))
    report: dict[str, Any] = {
        **_rates(decided),
        "n": len(cases),
        "per_category": _tally((c.category, c.label, b) for c, b in decided),
        "per_source": _tally((c.source, c.label, b) for c, b in decided),
        "halves": {
            half: _rates([(c, b) for c, b in decided if half_of(c.id) == half])
            for half in ("dev", "held_out")
        },
        "indirect_as_chat": _tally(indirect_by_screen),
        "p50_ms": float(np.percentile(latencies, 50)) if latencies else 0.0,
        "p95_ms": float(np.percentile(latencies, 95)) if latencies else 0.0,
    }
    return report


def evaluate_documents(docs: list[Case], *, scan: Decide = _scan) -> dict[str, Any]:
    """How often the document scan flags real documents (every flag there is a false positive)."""
    flagged = 0
    latencies: list[float] = []
    for doc in docs:
        t0 = time.perf_counter()
        flagged += bool(scan(doc.text))
        latencies.append((time.perf_counter() - t0) * 1000)
    return {
        "document_flag_rate": _ratio(flagged, len(docs)),
        "documents_flagged": flagged,
        "n_documents": len(docs),
        "document_p95_ms": float(np.percentile(latencies, 95)) if latencies else 0.0,
    }


def _product_screen() -> Decide:
    """The product's own input rails as every customer message meets them (no LLM judge: that needs a model
    and runs only in Full mode on the grey band)."""
    from agent.guards.input import screen_message
    from core.config import get_settings
    from core.policy import load_policy

    settings = get_settings()
    policy = load_policy(settings.policy_file)
    return lambda text: screen_message(text, policy, classifier=settings.guard_classifier).blocked


def run_guard(*, cases_path: Path, documents_path: Path | None = None) -> dict[str, Any]:
    """Load, report skipped lines on stderr, evaluate and print the table."""
    loaded = load_cases(cases_path)
    for problem in loaded.problems:
        print(f"skipped {problem}", file=sys.stderr)
    report = evaluate(loaded.items, screen=_product_screen())
    report["screen"] = "agent.guards.input.screen_message (heuristics, local classifier, policy topics)"
    report["skipped_lines"] = len(loaded.problems)
    if documents_path is not None:
        docs = load_documents(documents_path)
        for problem in docs.problems:
            print(f"skipped {problem}", file=sys.stderr)
        report.update(evaluate_documents(docs.items))
        report["skipped_document_lines"] = len(docs.problems)
    _print(report)
    return report


def _pct(value: float | None) -> str:
    return "   -" if value is None else f"{value:.3f}"


def _print(report: dict[str, Any]) -> None:
    print(
        f"guard: {report['n']} texts"
        + (f", {report['skipped_lines']} malformed lines skipped" if report["skipped_lines"] else "")
    )
    print(f"{'category':34}{'label':>15}{'n':>6}{'blocked':>9}{'rate':>8}")
    for category, labels in report["per_category"].items():
        for label, c in labels.items():
            print(f"{category:34}{label:>15}{c['n']:>6}{c['blocked']:>9}{_pct(c['rate']):>8}")
    print(f"{'source':34}{'label':>15}{'n':>6}{'blocked':>9}{'rate':>8}")
    for source, labels in report["per_source"].items():
        for label, c in labels.items():
            print(f"{source:34}{label:>15}{c['n']:>6}{c['blocked']:>9}{_pct(c['rate']):>8}")
    for name, r in (("all", report), *report["halves"].items()):
        print(
            f"{name:9} detection {_pct(r['detection_rate'])} (n={r['n_attack']})"
            f"  false positives {_pct(r['false_positive_rate'])} (n={r['n_benign']})"
            f"  out-of-policy blocked {_pct(r['out_of_policy_block_rate'])} (n={r['n_out_of_policy']})"
        )
    for category, labels in report["indirect_as_chat"].items():
        split = ", ".join(f"{label} {c['blocked']}/{c['n']}" for label, c in labels.items())
        print(f"{category} judged as chat messages: {split}")
    if "document_flag_rate" in report:
        print(
            f"documents flagged: {report['documents_flagged']}/{report['n_documents']}"
            f" ({_pct(report['document_flag_rate'])}), p95 {report['document_p95_ms']:.2f} ms"
        )
    print(f"latency per text: p50 {report['p50_ms']:.2f} ms, p95 {report['p95_ms']:.2f} ms")
