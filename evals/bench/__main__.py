"""Benchmarks: `python -m evals.bench retrieval|ladder|handoff …`, then `report` over all (see --help)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.logging import configure_logging
from evals.bench.jsonl import BadInput


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench", description=__doc__)
    sub = parser.add_subparsers(dest="bench", required=True)
    r = sub.add_parser("retrieval", help="hit@k, MRR, answerable precision/recall, latency, with baselines")
    r.add_argument("--kb", required=True, type=Path, help="kb.jsonl: one document a line")
    r.add_argument("--queries", required=True, type=Path, help="queries.jsonl: one customer turn a line")
    r.add_argument("--json", type=Path, help="also write the figures here as one JSON object")
    r.add_argument("--limit", type=int, default=0, help="only the first N queries (0 = all)")
    r.add_argument("--cache-dir", type=Path, default=None, help="where the built index is kept between runs")
    r.add_argument("--no-baselines", action="store_true")
    lad = sub.add_parser("ladder", help="non-LLM overhead per turn and failover latency (scripted models)")
    lad.add_argument("--turns", type=int, default=60)
    lad.add_argument("--timeout", type=float, default=1.0, help="per-model timeout for the failover runs (s)")
    lad.add_argument("--long-turns", type=int, default=120, help="turns of the long conversation (0 = none)")
    lad.add_argument("--json", type=Path, help="also write the figures here as one JSON object")
    h = sub.add_parser("handoff", help="precision/recall of the explicit-request trigger, complaint recall")
    h.add_argument("--cases", required=True, type=Path, help="messages.jsonl: one customer message a line")
    h.add_argument("--json", type=Path, help="also write the figures here as one JSON object")
    g = sub.add_parser("guard", help="injection/jailbreak detection, false positives on benign text, latency")
    g.add_argument("--cases", required=True, type=Path, help="attacks_and_benign.jsonl: one text a line")
    g.add_argument("--json", type=Path, help="also write the figures here as one JSON object")
    g.add_argument("--documents", type=Path, help="kb.jsonl: real documents; reports how many the scan flags")
    p = sub.add_parser("pii", help="span recall and over-masking of the PII masker, per type")
    p.add_argument("--cases", required=True, type=Path, help="cases.jsonl: one text with gold spans a line")
    p.add_argument("--json", type=Path, help="also write the figures here as one JSON object")
    rl = sub.add_parser("rails", help="latency the heuristic guardrails add per turn (p50/p95)")
    rl.add_argument("--messages", type=Path, help="JSON Lines with a 'text' field: extra customer messages")
    rl.add_argument("--json", type=Path, help="also write the figures here as one JSON object")
    kb = sub.add_parser("kb", help="full index build docs/s; publishing one edited article in a large KB")
    kb.add_argument("--kb", required=True, type=Path, help="kb.jsonl: one document a line")
    kb.add_argument("--edits", type=int, default=5, help="articles edited and published, one at a time")
    kb.add_argument("--json", type=Path, help="also write the figures here as one JSON object")
    rep = sub.add_parser("report", help="every benchmark's JSON in one report: figures, baselines, ratios")
    rep.add_argument("--dir", type=Path, default=Path("var/bench"), help="where the runners wrote their JSON")
    rep.add_argument("--baseline", type=Path, default=Path("evals/bench/baseline.json"))
    rep.add_argument("--out", type=Path, default=Path("var/bench/report.md"), help="the Markdown report")
    rep.add_argument("--json", type=Path, default=Path("var/bench/report.json"), help="the JSON summary")
    rep.add_argument("--eval", type=Path, default=Path("var/eval/results.json"), help="eval suite results")
    rep.add_argument("--eval-baseline", type=Path, default=Path("evals/baseline.json"))
    rep.add_argument(
        "--data",
        type=Path,
        default=Path("../shared/benchmarks"),
        help="shared data (to say why a run is missing)",
    )
    rep.add_argument(
        "--update-baseline", action="store_true", help="write this run's headline figures to --baseline"
    )
    rep.add_argument("--note", help="the baseline's measured_on (default: this machine's OS and CPU count)")
    args = parser.parse_args(argv)
    configure_logging("WARNING")

    given = [getattr(args, name, None) for name in ("kb", "queries", "cases", "messages", "documents")]
    for path in (p for p in given if p is not None):
        if not path.is_file():
            print(f"error: {path} is not a file", file=sys.stderr)
            return 2
    if args.bench == "kb" and args.edits < 1:
        print("error: --edits must be >= 1", file=sys.stderr)
        return 2
    if args.bench == "report" and not args.dir.is_dir():
        print(f"error: {args.dir} is not a folder (run `make bench` first)", file=sys.stderr)
        return 2
    if args.bench == "ladder" and (args.turns < 1 or args.timeout <= 0 or args.long_turns < 0):
        print("error: --turns must be >= 1, --timeout > 0 and --long-turns >= 0", file=sys.stderr)
        return 2
    try:
        report = _run(args)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def _run(args: argparse.Namespace) -> dict[str, Any]:
    """The chosen benchmark (imported only when chosen: each pulls in different parts of the product)."""
    if args.bench == "retrieval":
        from evals.bench.retrieval import run_retrieval

        return run_retrieval(
            kb_path=args.kb,
            queries_path=args.queries,
            limit=args.limit,
            cache_dir=args.cache_dir,
            baselines=not args.no_baselines,
        )
    if args.bench == "ladder":
        from evals.bench.ladder import run_ladder

        return run_ladder(turns=args.turns, timeout_s=args.timeout, long_turns=args.long_turns)
    if args.bench == "handoff":
        from evals.bench.handoff import run_handoff

        return run_handoff(cases_path=args.cases)
    if args.bench == "kb":
        from evals.bench.kb import run_kb

        return run_kb(kb_path=args.kb, edits=args.edits)
    if args.bench == "rails":
        from evals.bench.rails import run_rails

        return run_rails(messages_path=args.messages)
    if args.bench == "guard":
        from evals.bench.guard import run_guard

        return run_guard(cases_path=args.cases, documents_path=args.documents)
    if args.bench == "report":
        from evals.bench.report import run_report

        return run_report(
            bench_dir=args.dir,
            baseline_path=args.baseline,
            out_path=args.out,
            eval_path=args.eval,
            eval_baseline_path=args.eval_baseline,
            data_dir=args.data,
            update_baseline=args.update_baseline,
            note=args.note,
        )
    from evals.bench.pii import run_pii

    return run_pii(cases_path=args.cases)


if __name__ == "__main__":
    sys.exit(main())
