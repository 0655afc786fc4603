"""Change gates: what a knowledge-base publish or a prompt change does to the eval cases, before it goes live.

    python -m evals.changes kb --version-id N [--json]   a draft (in the configured database) against what
                                                         customers are served now
    python -m evals.changes prompts [--json]             the prompt files against the committed baseline

`kb` finds the affected cases (those expecting the article, and those whose question retrieves it now or with
the draft), plays each one twice, against the served knowledge base and against a read-only preview with the
draft in place, and lists what flips. Nothing is written to the served database or index: the conversations go
to a throwaway SQLite file. The studio runs it when an editor presses Publish.

`prompts` finds the prompts whose text differs from the baseline's, plays the cases that used them in the
baseline again, and lists what flips; a text change without a VERSION bump is refused outright.
`make prompts-push` runs it before pushing the prompts to Langfuse.

Exit 0 when nothing newly fails, 1 when something does (or a prompt changed without a bump), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.config import Settings
from evals.cases import Case

__all__ = ["CaseDiff", "ChangeReport", "affected_cases", "kb_change", "prompt_change"]

CONFIGS = ("minimal", "scripted")


@dataclass(frozen=True)
class CaseDiff:
    case: str
    config: str
    before: bool
    after: bool
    before_actual: str
    after_actual: str
    why: str = ""
    """Why it fails after the change (empty when it passes)."""
    reply: str = ""


@dataclass
class ChangeReport:
    change: str
    affected: list[str] = field(default_factory=list)
    diffs: list[CaseDiff] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Refusals that need no case run (a prompt changed without a version bump)."""

    @property
    def newly_failing(self) -> list[CaseDiff]:
        return [d for d in self.diffs if d.before and not d.after]

    @property
    def newly_passing(self) -> list[CaseDiff]:
        return [d for d in self.diffs if d.after and not d.before]

    @property
    def passed(self) -> bool:
        return not self.newly_failing and not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "passed": self.passed,
            "affected": self.affected,
            "newly_failing": [asdict(d) for d in self.newly_failing],
            "newly_passing": [asdict(d) for d in self.newly_passing],
            "unchanged": sum(d.before == d.after for d in self.diffs),
            "runs": len(self.diffs),
            "problems": self.problems,
        }

    def text(self) -> str:
        lines = [
            f"{self.change}: {len(self.affected)} affected case(s), {len(self.diffs)} run(s): "
            f"{len(self.newly_failing)} newly failing, {len(self.newly_passing)} newly passing"
        ]
        lines += [f"  REFUSED {p}" for p in self.problems]
        for d in self.newly_failing:
            lines.append(f"  FAILS NOW  {d.config}/{d.case}: {d.before_actual} -> {d.after_actual}; {d.why}")
            if d.reply:
                lines.append("             reply: " + " ".join(d.reply.split())[:300])
        lines += [
            f"  passes now {d.config}/{d.case}: {d.before_actual} -> {d.after_actual}"
            for d in self.newly_passing
        ]
        lines.append("gate: PASS" if self.passed else "gate: FAIL")
        return "\n".join(lines)


def affected_cases(cases: Sequence[Case], retrievers: Sequence[Any], slug: str, *, k: int) -> list[Case]:
    """Cases that expect the article, or whose last question retrieves it from any of `retrievers`."""
    from knowledge.entities import Turn

    found = []
    for case in cases:
        if slug in case.articles:
            found.append(case)
            continue
        history = [Turn(role="customer", text=t) for t in case.turns[:-1]]
        for retriever in retrievers:
            hits = retriever.search(case.turns[-1], history=history, k=k).passages
            if any(p.id.partition("#")[0] == slug for p in hits):
                found.append(case)
                break
    return found


def _conversations(settings: Settings) -> Settings:
    """The same settings, with conversations and checkpoints in a throwaway SQLite folder."""
    from core.migrate import upgrade

    folder = Path(tempfile.mkdtemp(prefix="eval-change-"))
    copy = settings.model_copy(
        update={
            "database_url": f"sqlite:///{folder / 'conversations.db'}",
            "checkpoint_url": str(folder / "checkpoints.db"),
            "data_dir": folder,
        }
    )
    upgrade(copy.database_url)
    return copy


def kb_change(
    settings: Settings,
    version_id: int,
    *,
    cases: Sequence[Case] | None = None,
    configs: Sequence[str] = CONFIGS,
    kb: Any = None,
) -> ChangeReport:
    """The affected cases before and after version `version_id` goes live, against the served KB."""
    from core.db import session_scope
    from evals.cases import load_cases
    from evals.harness import EvalEnvironment
    from evals.metrics import score
    from knowledge.models import Article, ArticleVersion
    from knowledge.service import KnowledgeBase
    from knowledge.store import version_docs

    with session_scope(settings.database_url) as s:
        version = s.get(ArticleVersion, version_id)
        if version is None:
            raise ValueError(f"no article version {version_id}")
        article = s.get(Article, version.article_id)
        assert article is not None
        slug, number = article.slug, version.version
        served = article.published_version_id == version.id
        drafts = [] if served else version_docs(s, version_id)
    report = ChangeReport(change=f"{slug} v{number}")
    if served:
        report.problems.append(f"{slug} v{number} is already what customers get; nothing to compare")
        return report
    live = kb
    if live is None:
        live = KnowledgeBase(settings)
        live.refresh(sync_index=False)  # read what is served; the index is not touched
    preview = live.previewing(drafts, replacing=slug)
    chosen = list(cases) if cases is not None else load_cases()
    affected = affected_cases(chosen, [live.retriever, preview.retriever], slug, k=settings.top_k)
    report.affected = [c.id for c in affected]
    before = EvalEnvironment(kb=live, settings=_conversations(settings))
    after = EvalEnvironment(kb=preview, settings=_conversations(settings))
    for config in configs:
        for case in affected:
            if config == "adversary" and "adversarial" not in case.tags:
                continue
            was, now = score(before.run(case, config)), score(after.run(case, config))
            report.diffs.append(
                CaseDiff(
                    case.id,
                    config,
                    was.passed,
                    now.passed,
                    was.actual,
                    now.actual,
                    "; ".join(now.why),
                    now.reply[:600],
                )
            )
    return report


def prompt_change(
    baseline: dict[str, Any],
    *,
    cases: Sequence[Case] | None = None,
    configs: Sequence[str] = CONFIGS,
    llm_models: list[str] | None = None,
) -> ChangeReport:
    """The cases that used a changed prompt in the baseline, played again with the prompt files as now."""
    from evals.cases import load_cases
    from evals.harness import DETERMINISTIC, EvalEnvironment
    from evals.metrics import score
    from evals.run import prompt_fingerprint

    now, before = prompt_fingerprint(), baseline.get("prompts", {})
    changed = [name for name, (_, digest) in now.items() if before.get(name, [None, None])[1] != digest]
    report = ChangeReport(
        change="prompts " + (", ".join(f"{n} v{now[n][0]}" for n in changed) or "(none changed)")
    )
    for name in changed:
        if name in before and before[name][0] == now[name][0]:
            report.problems.append(f"{name}: its text changed but VERSION is still {now[name][0]}; bump it")
    if not changed:
        return report
    chosen = list(cases) if cases is not None else load_cases()
    base_cases = {n: c.get("cases", {}) for n, c in baseline.get("configs", {}).items()}
    used = {
        case_id
        for records in base_cases.values()
        for case_id, record in records.items()
        if set(record.get("prompts") or []) & set(changed)
    }
    affected = [c for c in chosen if c.id in used]
    report.affected = [c.id for c in affected]
    env = EvalEnvironment(llm_models=llm_models)
    # The configurations that called the changed prompts in the baseline (the judge prompt, say, is only
    # called by the adversary's runs); `configs` when none did.
    users = [
        name
        for name, records in base_cases.items()
        if name in DETERMINISTIC and any(set(r.get("prompts") or []) & set(changed) for r in records.values())
    ]
    for config in users or list(configs):
        for case in affected:
            record = base_cases.get(config, {}).get(case.id)
            if record is None or record.get("fingerprint") != case.fingerprint():
                continue
            now_score = score(env.run(case, config))
            report.diffs.append(
                CaseDiff(
                    case.id,
                    config,
                    bool(record.get("passed")),
                    now_score.passed,
                    str(record.get("actual")),
                    now_score.actual,
                    "; ".join(now_score.why),
                    now_score.reply[:600],
                )
            )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.changes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="what", required=True)
    kb = sub.add_parser("kb", help="a draft article version against what is served")
    kb.add_argument("--version-id", type=int, required=True)
    kb.add_argument("--json", action="store_true", help="print the report as JSON (for the studio)")
    kb.add_argument("--no-env-file", action="store_true", help="settings from the environment only, not .env")
    pr = sub.add_parser("prompts", help="the prompt files against the committed baseline")
    pr.add_argument("--baseline", type=Path, default=None)
    pr.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from core.config import get_settings
    from core.logging import configure_logging
    from evals.cases import DatasetError

    configure_logging("ERROR")
    try:
        if args.what == "kb":
            from core.config import Settings

            settings = Settings(_env_file=None) if args.no_env_file else get_settings()  # type: ignore[call-arg]
            report = kb_change(settings, args.version_id)
        else:
            from evals.run import BASELINE, _read_json

            path = args.baseline or BASELINE
            baseline = _read_json(path)
            if baseline is None:
                raise ValueError(
                    f"{path}: no baseline to compare the prompts with (make eval EVAL_ARGS=--update-baseline)"
                )
            report = prompt_change(baseline)
    except (ValueError, DatasetError) as exc:
        if args.json:
            print(json.dumps({"error": str(exc)}))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict(), indent=1) if args.json else report.text())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
