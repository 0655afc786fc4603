"""Run the eval suite, gate it on the committed baseline, and write the report: `make eval`.

    python -m evals.run [--configs minimal,scripted,adversary] [--llm MODEL ... --trials N]
                        [--only ID-or-PREFIX ...] [--tag TAG] [--out var/eval]
                        [--baseline evals/baseline.json] [--tolerance 0.02] [--update-baseline] [--no-gate]

Writes OUT/results.json (every figure, per configuration and slice, and every case's verdict), OUT/report.md
and OUT/report.html (with charts). Exit 0 when the gate passes, 1 when it fails (the report says why, with
the replies), 2 on bad input. The `adversary` configuration plays only the cases tagged adversarial.
With `--llm` (or LLM_MODELS set and `--configs llm`), each case runs `--trials` times against the real model
and the pass rates come with 95% intervals.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.config import PROJECT_ROOT
from evals.cases import CONTENT, DATASETS, Case, DatasetError, check_against_kb, load_cases

__all__ = ["BASELINE", "build_results", "main", "run_suite"]

BASELINE = PROJECT_ROOT / "evals" / "baseline.json"
DEFAULT_CONFIGS = ("minimal", "scripted", "adversary")
SCHEMA = 1


def kb_fingerprint(content: Path) -> dict[str, str]:
    """Article slug -> hash of its file: what the baseline's knowledge base was."""
    return {p.stem: hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in sorted(content.glob("*.md"))}


def prompt_fingerprint() -> dict[str, list[Any]]:
    from agent.prompts import REGISTRY

    return {name: [version, digest] for name, (version, digest) in sorted(REGISTRY.items())}


def cases_for(config: str, cases: Sequence[Case]) -> list[Case]:
    return [c for c in cases if "adversarial" in c.tags] if config == "adversary" else list(cases)


def run_suite(
    cases: Sequence[Case],
    configs: Sequence[str],
    *,
    env: Any,
    trials: int = 1,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Play every case in every configuration (trials times for `llm`) and judge them: per configuration
    `scores` (CaseScore list). `env` is an evals.harness.EvalEnvironment."""
    from evals.metrics import score

    out: dict[str, Any] = {}
    for config in configs:
        n = trials if config == "llm" else 1
        chosen = cases_for(config, cases)
        started = time.perf_counter()
        scores = [score(env.run(case, config, trial=t)) for t in range(n) for case in chosen]
        out[config] = {"trials": n, "scores": scores, "seconds": round(time.perf_counter() - started, 1)}
        if progress:
            passed = sum(s.passed for s in scores)
            progress(f"{config:10} {passed}/{len(scores)} case runs passed ({out[config]['seconds']} s)")
    return out


def build_results(
    cases: Sequence[Case], played: dict[str, Any], *, kb: dict[str, str], datasets: str = ""
) -> dict[str, Any]:
    """The results document: figures per configuration and slice, and each case's verdict."""
    from evals.harness import CONFIGS, DETERMINISTIC
    from evals.metrics import aggregate, timing

    by_id = {c.id: c for c in cases}
    configs: dict[str, Any] = {}
    for config, data in played.items():
        scores = data["scores"]
        slices = aggregate(scores)
        records: dict[str, Any] = {}
        for case_id in dict.fromkeys(s.id for s in scores):
            runs = [s for s in scores if s.id == case_id]
            first_failure = next((s for s in runs if not s.passed), runs[0])
            case = by_id[case_id]
            records[case_id] = {
                **first_failure.record(),
                "passed": all(s.passed for s in runs),
                "passes": sum(s.passed for s in runs),
                "trials": len(runs),
                "actual": Counter(s.actual for s in runs).most_common(1)[0][0],
                "fingerprint": case.fingerprint(),
                "expected_articles": list(case.articles),
                "source": case.source,
                "turns": list(case.turns),
                "note": case.note,
            }
        configs[config] = {
            "description": CONFIGS[config],
            "deterministic": config in DETERMINISTIC,
            "trials": data["trials"],
            "overall": slices["all"],
            "slices": slices,
            "cases": records,
            "timing": timing(scores),
            "seconds": data.get("seconds"),
        }
    return {
        "schema": SCHEMA,
        "datasets": {"cases": len(cases), "where": datasets},
        "kb": kb,
        "prompts": prompt_fingerprint(),
        "configs": configs,
    }


def deterministic_part(results: dict[str, Any]) -> dict[str, Any]:
    """The results without what differs between two identical runs (timing and run details)."""
    out = {k: v for k, v in results.items() if k != "run"}
    out["configs"] = {
        name: {k: v for k, v in config.items() if k not in ("timing", "seconds")}
        for name, config in results.get("configs", {}).items()
    }
    return out


def baseline_of(results: dict[str, Any]) -> dict[str, Any]:
    """What is committed as the baseline: the deterministic figures and each case's verdict, no replies."""
    keep = (
        "passed",
        "passes",
        "trials",
        "actual",
        "why",
        "fingerprint",
        "prompts",
        "articles_seen",
        "expected_articles",
        "rank",
        "cited",
        "forbidden_found",
        "adversary_leak",
    )
    out = deterministic_part(results)
    if "personas" in out:
        out["personas"] = {
            "runs": [
                {k: r[k] for k in ("persona", "mode", "passed", "problems")} for r in out["personas"]["runs"]
            ]
        }
    for config in out["configs"].values():
        config["cases"] = {
            case_id: {k: record.get(k) for k in keep} for case_id, record in config["cases"].items()
        }
    return out


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable results file ({exc})") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise DatasetError(f"{path}: not a baseline of this version (schema {SCHEMA}); rebuild it")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--configs",
        default=",".join(DEFAULT_CONFIGS),
        help="comma-separated: minimal, scripted, adversary, llm",
    )
    parser.add_argument(
        "--llm",
        action="append",
        default=[],
        metavar="MODEL",
        help="provider:model (repeat for fallbacks); adds the llm configuration",
    )
    parser.add_argument("--trials", type=int, default=3, help="runs per case with a real LLM (default 3)")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--content", type=Path, default=CONTENT, help="the help center to import")
    parser.add_argument("--only", action="append", default=[], help="case id or id prefix (repeatable)")
    parser.add_argument("--tag", action="append", default=[], help="only cases with this tag (repeatable)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "var" / "eval")
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    parser.add_argument("--tolerance", type=float, default=0.02, help="allowed drop of a figure (0.02)")
    parser.add_argument("--update-baseline", action="store_true", help="write this run as the new baseline")
    parser.add_argument("--no-gate", action="store_true", help="report only; exit 0 whatever the figures")
    parser.add_argument("--no-personas", action="store_true", help="skip the simulated customers")
    parser.add_argument("--quiet", "-q", action="store_true")
    args = parser.parse_args(argv)

    from evals.harness import CONFIGS

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if args.llm and "llm" not in configs:
        configs.append("llm")
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or not configs:
        print(
            f"error: unknown configuration(s) {', '.join(unknown) or '(none given)'}; "
            f"known: {', '.join(CONFIGS)}",
            file=sys.stderr,
        )
        return 2
    if args.trials < 1 or not 0 <= args.tolerance < 1:
        print("error: --trials must be >= 1 and --tolerance between 0 and 1", file=sys.stderr)
        return 2
    if not args.content.is_dir():
        print(f"error: {args.content} is not a folder of Markdown articles", file=sys.stderr)
        return 2
    partial = args.only or args.tag or args.no_personas or not set(DEFAULT_CONFIGS) <= set(configs)
    other = args.content.resolve() != CONTENT.resolve() or args.datasets.resolve() != DATASETS.resolve()
    if args.update_baseline and args.baseline.resolve() == BASELINE.resolve() and (partial or other):
        print(
            "error: the committed baseline is made from the whole suite over the demo help center "
            f"(configurations {', '.join(DEFAULT_CONFIGS)}, personas; "
            "no --only, --tag, --content or --datasets)",
            file=sys.stderr,
        )
        return 2
    try:
        cases = load_cases(args.datasets)
        baseline = None if args.update_baseline else _read_json(args.baseline)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problems = check_against_kb(cases, args.content)
    if problems and args.content.resolve() == CONTENT.resolve():
        print(
            "error: the datasets do not match the help center:\n  " + "\n  ".join(problems), file=sys.stderr
        )
        return 2
    if args.only:
        cases = [c for c in cases if any(c.id == o or c.id.startswith(o) for o in args.only)]
    if args.tag:
        cases = [c for c in cases if set(args.tag) & set(c.tags)]
    if not cases:
        print("error: no case matches --only/--tag", file=sys.stderr)
        return 2

    from core.logging import configure_logging
    from evals.gate import compare
    from evals.harness import EvalEnvironment
    from evals.report import write_report

    configure_logging("ERROR")
    say = (lambda _m: None) if args.quiet else (lambda m: print(m, flush=True))
    started = time.time()
    say(f"eval: {len(cases)} cases, configurations {', '.join(configs)}")
    try:
        from core.config import get_settings

        env = EvalEnvironment(content=args.content, llm_models=args.llm or get_settings().llm_models or None)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        played = run_suite(cases, configs, env=env, trials=args.trials, progress=say)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = build_results(cases, played, kb=kb_fingerprint(args.content), datasets=str(args.datasets))
    if not (args.no_personas or args.only or args.tag):
        from evals.personas import run_personas

        t0 = time.perf_counter()
        runs = run_personas(env.kb, env.settings)
        results["personas"] = {"runs": runs}
        say(
            f"personas   {sum(r['passed'] for r in runs)}/{len(runs)} persona x mode runs passed "
            f"({time.perf_counter() - t0:.1f} s)"
        )
    results["run"] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "subset": bool(args.only or args.tag),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True))
    if args.update_baseline:
        args.baseline.write_text(json.dumps(baseline_of(results), indent=1, sort_keys=True) + "\n")
        say(f"baseline written: {args.baseline}")
    if baseline is not None and (args.only or args.tag):
        baseline = _restricted(baseline, {c.id for c in cases})
    verdict = compare(results, baseline, tolerance=args.tolerance)
    verdict.gate_cases = bool(args.only or args.tag)  # a subset has no comparable slices: each case counts
    paths = write_report(results, verdict.as_dict(), args.out)
    say(_summary(results, verdict))
    say("report: " + ", ".join(str(p) for p in paths))
    if args.no_gate or args.update_baseline:
        return 0
    return 0 if verdict.passed else 1


def _restricted(baseline: dict[str, Any], ids: set[str]) -> dict[str, Any]:
    """A subset run is gated case by case only: the slice figures of a subset are not comparable."""
    out = dict(baseline)
    out["configs"] = {
        name: {**config, "slices": {}, "cases": {k: v for k, v in config["cases"].items() if k in ids}}
        for name, config in baseline.get("configs", {}).items()
    }
    return out


def _summary(results: dict[str, Any], verdict: Any) -> str:
    lines = []
    for name, config in results["configs"].items():
        o = config["overall"]
        low, high = o["pass_ci"]
        lines.append(
            f"{name:10} pass {o['pass_rate']:.3f} [{low:.3f}, {high:.3f}]"
            f"  behaviour {o['behaviour_accuracy']:.3f}"
            f"  hit@5 {o['hit_at_5'] or 0:.3f}  mrr {o['mrr'] or 0:.3f}  cite P/R "
            f"{o['citation_precision'] or 0:.3f}/{o['citation_recall'] or 0:.3f}  grounded "
            f"{o['groundedness'] or 0:.3f}  over-refusal {o['over_refusal'] or 0:.3f}"
        )
    if verdict.passed:
        lines.append(
            f"gate: PASS (tolerance {verdict.tolerance})"
            + ("" if verdict.baseline_found else " - no baseline to compare with")
        )
    else:
        lines.append(f"gate: FAIL ({len(verdict.regressions)} regression(s))")
        lines.extend(f"  - {r}" for r in verdict.regressions[:20])
        lines.extend(f"  - {p}" for p in verdict.unbumped_prompts)
    if verdict.newly_failing:
        lines.append(f"newly failing cases: {len(verdict.newly_failing)}")
        lines.extend(f"  - {c.config}/{c.case}: {c.why}" for c in verdict.newly_failing[:20])
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
