"""One report over every benchmark's JSON: the figures now, the committed baseline, ratio, better or worse.

`python -m evals.bench report` reads var/bench/<name>.json for each runner in REGISTRY (and the eval suite's
var/eval/results.json when present), compares each headline figure with evals/bench/baseline.json (the eval
suite's with evals/baseline.json), and writes var/bench/report.md, a JSON summary, and the table on stdout.
`--update-baseline` writes the current headline figures to the baseline file: a deliberate refresh, with a
note of the machine they were measured on. A benchmark missing now keeps its previous baseline figures.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from evals.bench.jsonl import BadInput

Direction = Literal["higher", "lower"]
Verdict = Literal["better", "worse", "same", "new", "-"]


class ReportError(BadInput):
    """Bad input (a missing folder, a file that is not valid JSON): the message names the file."""


@dataclass(frozen=True)
class Figure:
    key: str
    """Dotted path into the benchmark's JSON object, e.g. "overhead_ms.p95"."""
    label: str
    better: Direction


@dataclass(frozen=True)
class Benchmark:
    title: str
    figures: tuple[Figure, ...]
    data: str | None = None
    """The shared file or folder the runner needs, relative to --data (None: it needs none)."""
    in_run: tuple[str, ...] = ()
    """Baselines the runner measures itself, under `baselines.<name>` with the same keys."""


def _hi(key: str, label: str) -> Figure:
    return Figure(key, label, "higher")


def _lo(key: str, label: str) -> Figure:
    return Figure(key, label, "lower")


REGISTRY: dict[str, Benchmark] = {
    "ladder": Benchmark(
        "Ladder: non-LLM overhead and failover (scripted models)",
        (
            _lo("overhead_ms.p50", "non-LLM overhead per turn, p50 ms"),
            _lo("overhead_ms.p95", "non-LLM overhead per turn, p95 ms"),
            _lo("turn_ms.p95", "whole turn (zero-latency model), p95 ms"),
            _lo("failover_over_timeout", "primary hangs -> fallback, worst / timeout"),
            _lo("fast_failover_ms.p50", "primary 500 -> fallback, p50 ms"),
            _lo("hang_to_minimal_over_budget_plus_1s", "only model hangs -> Minimal, worst / (budget + 1 s)"),
        ),
    ),
    "rails": Benchmark(
        "Rails: latency of the heuristic guardrails per turn",
        (
            _lo("per_turn.p50_ms", "input + output rails per turn, p50 ms"),
            _lo("per_turn.p95_ms", "input + output rails per turn, p95 ms"),
            _lo("input.p95_ms", "input rails, p95 ms"),
            _lo("output.p95_ms", "output rails, p95 ms"),
            _lo("input_messages_file.p95_ms", "input rails on the guard file's texts, p95 ms"),
        ),
    ),
    "guard": Benchmark(
        "Guard: injection and jailbreak detection",
        (
            _hi("detection_rate", "attack detection rate"),
            _hi("halves.held_out.detection_rate", "attack detection rate, held-out half"),
            _lo("false_positive_rate", "false positive rate, benign"),
            _lo("halves.held_out.false_positive_rate", "false positive rate, benign, held-out half"),
            _hi("out_of_policy_block_rate", "out-of-policy block rate"),
            _lo("document_flag_rate", "real documents flagged by the scan"),
            _lo("p95_ms", "latency per text, p95 ms"),
        ),
        data="guard/attacks_and_benign.jsonl",
    ),
    "pii": Benchmark(
        "PII: masking before the model",
        (
            _hi("span_recall", "span recall, supported types"),
            _hi("typed_span_recall", "span recall as the right type"),
            _lo("over_mask_rate", "over-masking (characters outside gold spans)"),
            _lo("lookalike_mask_rate", "look-alikes masked"),
            _lo("p95_ms", "latency per text, p95 ms"),
        ),
        data="pii/cases.jsonl",
    ),
    "handoff": Benchmark(
        "Handoff: explicit request for a person, complaints",
        (
            _hi("precision", "explicit request, precision"),
            _hi("recall", "explicit request, recall"),
            _hi("complaint_recall", "complaint recall"),
            _lo("p95_ms", "latency per message, p95 ms"),
        ),
        data="handoff/messages.jsonl",
    ),
    "retrieval": Benchmark(
        "Retrieval (DSTC11): project vs in-run baselines",
        (
            _hi("hit_at_1", "hit@1"),
            _hi("hit_at_5", "hit@5"),
            _hi("mrr", "MRR"),
            _hi("answerable_precision", "answerable precision"),
            _hi("answerable_recall", "answerable recall"),
            _lo("p50_ms", "latency per query, p50 ms"),
            _lo("p95_ms", "latency per query, p95 ms"),
        ),
        data="retrieval/dstc11/queries.jsonl",
        in_run=("bm25", "dense"),
    ),
    "kb": Benchmark(
        "Knowledge base: full build and single-article publish",
        (
            _hi("build_docs_per_s", "full index build, docs per second"),
            _lo("publish_p50_s", "publish one edited article, p50 s"),
            _lo("publish_max_s", "publish one edited article, worst s"),
            _lo("publish_embed_p50_s", "publish: embedding, p50 s"),
            _lo("publish_reload_p50_s", "publish: retriever reload, p50 s"),
            _lo("verify_s", "index consistency check, s"),
        ),
        data="retrieval/dstc11/kb.jsonl",
    ),
    "load": Benchmark(
        "Load: HTTP API, two replicas over PostgreSQL and Chroma, 100 customers (python -m evals.load)",
        (
            _hi("turns_per_s", "throughput, turns per second"),
            _lo("p50_ms", "latency p50 ms"),
            _lo("p95_ms", "latency p95 ms"),
            _lo("p99_ms", "latency p99 ms"),
            _lo("errors", "errors customers saw"),
            _lo("lost_messages", "lost messages"),
        ),
    ),
    "chaos": Benchmark(
        "Chaos: Chroma, the LLM server and PostgreSQL stopped during the load (python -m evals.load --chaos)",
        (
            _lo("errors", "errors customers saw"),
            _lo("lost_messages", "lost messages"),
            _lo("recovery_max_s", "slowest recovery to Full after a restart, s"),
            _hi("turns_per_s", "throughput, turns per second"),
        ),
    ),
}

EVAL = "eval"
EVAL_METRICS: dict[str, Direction] = {
    "pass_rate": "higher",
    "behaviour_accuracy": "higher",
    "hit_at_5": "higher",
    "citation_precision": "higher",
    "groundedness": "higher",
    "over_refusal": "lower",
}


def default_note() -> str:
    """The machine the figures were measured on, for the baseline's "measured_on"."""
    system = f"{platform.system()} {platform.release()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def read_json(path: Path) -> dict[str, Any]:
    """One JSON object from a file, or ReportError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ReportError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{path}: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})"
        ) from exc
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected one JSON object, found {type(data).__name__}")
    return data


def lookup(data: Any, key: str) -> float | None:
    """The number at a dotted path, or None when absent or not a number (booleans are not figures)."""
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    if isinstance(data, bool) or not isinstance(data, int | float):
        return None
    return float(data)


def ratio(now: float | None, then: float | None) -> float | None:
    if now is None or then is None or then == 0:
        return None
    return now / then


def verdict(now: float | None, then: float | None, better: Direction) -> Verdict:
    """Better or worse than the baseline given the direction; "new" when there is no baseline figure."""
    if now is None:
        return "-"
    if then is None:
        return "new"
    if now == then:
        return "same"
    return "better" if (now > then) == (better == "higher") else "worse"


def _row(
    fig: Figure, data: dict[str, Any], then: float | None, in_run: tuple[str, ...] = ()
) -> dict[str, Any]:
    now = lookup(data, fig.key)
    row: dict[str, Any] = {
        "key": fig.key,
        "label": fig.label,
        "better": fig.better,
        "now": now,
        "baseline": then,
        "ratio": ratio(now, then),
        "verdict": verdict(now, then, fig.better),
    }
    if in_run:
        row["in_run"] = {}
        for name in in_run:
            value = lookup(data, f"baselines.{name}.{fig.key}")
            row["in_run"][name] = {"value": value, "ratio": ratio(now, value)}
    return row


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _measured(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _why_missing(name: str, bench: Benchmark, path: Path, data_dir: Path) -> str:
    if bench.data is not None and not (data_dir / bench.data).exists():
        return f"the shared data is absent ({data_dir / bench.data})"
    return f"no {path}: run `make bench` (or `python -m evals.bench {name} --json {path}`)"


def build(
    *,
    bench_dir: Path,
    baseline_path: Path,
    eval_path: Path,
    eval_baseline_path: Path,
    data_dir: Path,
) -> dict[str, Any]:
    """The summary: per benchmark its status and figure rows (now, baseline, ratio, verdict)."""
    if not bench_dir.is_dir():
        raise ReportError(f"{bench_dir} is not a folder (run `make bench` first)")
    baseline = read_json(baseline_path) if baseline_path.is_file() else {}
    base_figures = baseline.get("benchmarks")
    if baseline and not isinstance(base_figures, dict):
        raise ReportError(f'{baseline_path}: no "benchmarks" object')
    base_figures = base_figures or {}

    benchmarks: dict[str, dict[str, Any]] = {}
    for name, bench in REGISTRY.items():
        path = bench_dir / f"{name}.json"
        if not path.is_file():
            benchmarks[name] = {
                "title": bench.title,
                "status": "not run",
                "why": _why_missing(name, bench, path, data_dir),
            }
            continue
        data = read_json(path)
        base = _object(base_figures.get(name))
        benchmarks[name] = {
            "title": bench.title,
            "status": "ok",
            "file": str(path),
            "measured": _measured(path),
            "in_run": list(bench.in_run),
            # the baseline file holds flat dotted keys: {"ladder": {"overhead_ms.p95": 40.1}}
            "figures": [_row(f, data, _number(base.get(f.key)), bench.in_run) for f in bench.figures],
        }
    benchmarks[EVAL] = _eval_section(eval_path, eval_baseline_path)

    counts = {v: 0 for v in ("better", "worse", "same", "new")}
    for section in benchmarks.values():
        for row in section.get("figures", []):
            if row["verdict"] in counts:
                counts[row["verdict"]] += 1
    return {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "dir": str(bench_dir),
        "baseline": {
            "path": str(baseline_path),
            "present": baseline_path.is_file(),
            "measured_on": baseline.get("measured_on"),
        },
        "eval_baseline": {"path": str(eval_baseline_path), "present": eval_baseline_path.is_file()},
        "counts": counts,
        "benchmarks": benchmarks,
    }


def _eval_section(eval_path: Path, eval_baseline_path: Path) -> dict[str, Any]:
    title = "Eval suite: per configuration"
    if not eval_path.is_file():
        return {
            "title": title,
            "status": "not run",
            "why": f"no {eval_path}: the eval suite has not been run",
        }
    results = read_json(eval_path)
    configs = results.get("configs")
    if not isinstance(configs, dict):
        raise ReportError(f'{eval_path}: no "configs" object')
    base = read_json(eval_baseline_path) if eval_baseline_path.is_file() else {}
    rows = []
    for config in sorted(configs):
        for metric, better in EVAL_METRICS.items():
            key = f"configs.{config}.overall.{metric}"
            if lookup(results, key) is not None:
                rows.append(_row(Figure(key, f"{config}: {metric}", better), results, lookup(base, key)))
    return {
        "title": title,
        "status": "ok",
        "file": str(eval_path),
        "measured": _measured(eval_path),
        "in_run": [],
        "figures": rows,
    }


def baseline_from(summary: dict[str, Any], previous: dict[str, Any], note: str) -> dict[str, Any]:
    """The new baseline: this run's headline figures; benchmarks not run now keep their previous figures."""
    kept = _object(previous.get("benchmarks"))
    figures: dict[str, dict[str, float]] = {}
    for name in REGISTRY:
        section = summary["benchmarks"].get(name, {})
        if section.get("status") == "ok":
            figures[name] = {r["key"]: r["now"] for r in section["figures"] if r["now"] is not None}
        elif isinstance(kept.get(name), dict):
            figures[name] = kept[name]
    return {
        "measured_on": note,
        "updated": summary["generated"],
        "note": "headline figures of `make bench`; refresh: `python -m evals.bench report --update-baseline`",
        "benchmarks": figures,
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 10:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _table(section: dict[str, Any]) -> list[list[str]]:
    in_run: list[str] = section.get("in_run", [])
    head = ["figure", "better", "now", "baseline", "now/baseline", "verdict"]
    for name in in_run:
        head += [name, f"now/{name}"]
    rows = [head]
    for r in section["figures"]:
        cells = [
            r["label"],
            r["better"],
            _fmt(r["now"]),
            _fmt(r["baseline"]),
            _fmt_ratio(r["ratio"]),
            r["verdict"],
        ]
        for name in in_run:
            other = r["in_run"][name]
            cells += [_fmt(other["value"]), _fmt_ratio(other["ratio"])]
        rows.append(cells)
    return rows


def markdown(summary: dict[str, Any]) -> str:
    base = summary["baseline"]
    lines = [
        "# Benchmark report",
        "",
        f"Generated {summary['generated']} from `{summary['dir']}`.",
        (
            f"Baseline: `{base['path']}`, measured on {base['measured_on'] or 'an unnamed machine'}."
            if base["present"]
            else f"Baseline: `{base['path']}` is absent; refresh it with `--update-baseline`."
        ),
        "Ratio is now / baseline; the verdict uses each figure's direction (higher or lower is better).",
        "Timings depend on the machine and its load: compare them on the machine of the baseline.",
        "",
        "Verdicts: " + ", ".join(f"{n} {v}" for v, n in summary["counts"].items()) + ".",
    ]
    for name, section in summary["benchmarks"].items():
        lines += ["", f"## {name}: {section['title']}", ""]
        if section["status"] != "ok":
            lines.append(f"not run (why: {section['why']})")
            continue
        lines.append(f"From `{section['file']}`, written {section['measured']}.")
        if not section["figures"]:
            lines += ["", "no headline figures in this file"]
            continue
        rows = _table(section)
        lines += ["", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(cells) + " |" for cells in rows[1:]]
    return "\n".join(lines) + "\n"


def text(summary: dict[str, Any]) -> str:
    """The same tables, aligned for a terminal."""
    out = []
    for name, section in summary["benchmarks"].items():
        if section["status"] != "ok":
            out.append(f"{name}: not run (why: {section['why']})")
            continue
        out.append(f"{name}: {section['title']}")
        if not section["figures"]:
            out.append("  no headline figures in this file")
            continue
        rows = _table(section)
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for cells in rows:
            first = f"  {cells[0]:<{widths[0]}}"
            out.append(first + "".join(f"  {c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True)))
    counts = summary["counts"]
    out.append("verdicts vs baseline: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    return "\n".join(out)


def run_report(
    *,
    bench_dir: Path,
    baseline_path: Path,
    out_path: Path | None,
    eval_path: Path,
    eval_baseline_path: Path,
    data_dir: Path,
    update_baseline: bool = False,
    note: str | None = None,
) -> dict[str, Any]:
    """Build the summary, print it, write the Markdown report and (when asked) the refreshed baseline.

    The summary is returned: the caller writes it with --json, as for every runner.
    """
    summary = build(
        bench_dir=bench_dir,
        baseline_path=baseline_path,
        eval_path=eval_path,
        eval_baseline_path=eval_baseline_path,
        data_dir=data_dir,
    )
    print(text(summary))
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(markdown(summary), encoding="utf-8")
        print(f"report written to {out_path}")
    if update_baseline:
        previous = read_json(baseline_path) if baseline_path.is_file() else {}
        fresh = baseline_from(summary, previous, note or default_note())
        baseline_path.parent.mkdir(parents=True, exist_ok=True)
        baseline_path.write_text(json.dumps(fresh, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"baseline written to {baseline_path} ({len(fresh['benchmarks'])} benchmarks)")
    return summary
