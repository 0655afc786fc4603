"""Benchmarks: `python -m evals.bench retrieval|ladder|handoff …` (see --help)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.logging import configure_logging


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
    args = parser.parse_args(argv)
    configure_logging("WARNING")

    if args.bench == "retrieval":
        from evals.bench.retrieval import BadInput, run_retrieval

        for path in (args.kb, args.queries):
            if not path.is_file():
                print(f"error: {path} is not a file", file=sys.stderr)
                return 2
        try:
            report = run_retrieval(
                kb_path=args.kb,
                queries_path=args.queries,
                limit=args.limit,
                cache_dir=args.cache_dir,
                baselines=not args.no_baselines,
            )
        except BadInput as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elif args.bench == "ladder":
        from evals.bench.ladder import run_ladder

        if args.turns < 1 or args.timeout <= 0:
            print("error: --turns must be >= 1 and --timeout > 0", file=sys.stderr)
            return 2
        report = run_ladder(turns=args.turns, timeout_s=args.timeout)
    elif args.bench == "handoff":
        from evals.bench.handoff import BadInput as BadCases
        from evals.bench.handoff import run_handoff

        if not args.cases.is_file():
            print(f"error: {args.cases} is not a file", file=sys.stderr)
            return 2
        try:
            report = run_handoff(cases_path=args.cases)
        except BadCases as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elif args.bench == "rails":
        from evals.bench.rails import run_rails

        if args.messages is not None and not args.messages.is_file():
            print(f"error: {args.messages} is not a file", file=sys.stderr)
            return 2
        report = run_rails(messages_path=args.messages)
    elif args.bench in ("guard", "pii"):
        if not args.cases.is_file():
            print(f"error: {args.cases} is not a file", file=sys.stderr)
            return 2
        if args.bench == "guard":
            from evals.bench.guard import BadInput as BadGuardCases
            from evals.bench.guard import run_guard

            if args.documents is not None and not args.documents.is_file():
                print(f"error: {args.documents} is not a file", file=sys.stderr)
                return 2
            try:
                report = run_guard(cases_path=args.cases, documents_path=args.documents)
            except BadGuardCases as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        else:
            from evals.bench.pii import BadInput as BadPiiCases
            from evals.bench.pii import run_pii

            try:
                report = run_pii(cases_path=args.cases)
            except BadPiiCases as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
    else:  # pragma: no cover - argparse rejects unknown names
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
