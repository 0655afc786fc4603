"""`python -m evals.scenarios [--mode minimal|adversarial|both] [--only NAME]`: the guardrail scenarios
over the configured knowledge base (seed it first: `make seed`). Exit 1 when any scenario fails."""

from __future__ import annotations

import argparse
import sys

from core.config import get_settings
from core.logging import configure_logging
from evals.scenarios import SCENARIOS, run_scenario
from evals.scenarios.runner import MODES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.scenarios", description=__doc__)
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both")
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every turn's reply")
    args = parser.parse_args(argv)
    configure_logging("ERROR")
    names = {s.name for s in SCENARIOS}
    unknown = set(args.only or []) - names
    if unknown:
        print(
            f"error: no scenario {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}",
            file=sys.stderr,
        )
        return 2
    from knowledge.service import KnowledgeBase

    settings = get_settings()
    kb = KnowledgeBase(settings)
    if len(kb) == 0:
        print("error: the knowledge base is empty; run `make seed` first", file=sys.stderr)
        return 2
    modes = MODES if args.mode == "both" else (args.mode,)
    failed = 0
    for scenario in SCENARIOS:
        if args.only and scenario.name not in args.only:
            continue
        for mode in modes:
            result = run_scenario(scenario, mode=mode, kb=kb, settings=settings)
            failed += not result.passed
            stopped = ", ".join(dict.fromkeys(result.stopped_by)) or "nothing needed stopping"
            print(
                f"{'PASS' if result.passed else 'FAIL'}  {scenario.name:32} {mode:12} stopped by: {stopped}"
            )
            for problem in result.problems:
                print(f"      - {problem}")
            if args.verbose:
                for t in result.turns:
                    print(f"      > {t.text[:100]}")
                    print(f"      < [{t.outcome}] {(t.reply or '(held for a person)')[:300]!r}")
    print(f"{failed} failed" if failed else "all scenarios passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
