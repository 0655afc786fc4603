"""The golden cases (`evals/datasets/*.jsonl`): loading, checking, and slicing.

    python -m evals.cases [--datasets DIR]     check every file, print the counts per slice

The format is described in `evals/datasets/README.md`. Every problem is reported with its file and line, all
at once, so a broken dataset is fixed in one pass.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import PROJECT_ROOT

__all__ = [
    "BEHAVIOURS",
    "CONTENT",
    "DATASETS",
    "Case",
    "DatasetError",
    "check_against_kb",
    "load_cases",
    "normalise",
]

DATASETS = PROJECT_ROOT / "evals" / "datasets"
CONTENT = PROJECT_ROOT / "knowledge" / "content"
BEHAVIOURS = ("answer", "clarify", "handoff", "refuse")
SEGMENTS = ("new", "guest", "registered", "plus_member", "beans_subscriber", "canada")
TAGS = ("adversarial", "out_of_scope", "typos", "long", "non_english", "risky", "vague", "angry")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,80}$")
_KEYS = {"id", "turns", "expect", "slices", "note"}
_EXPECT_KEYS = {"behaviour", "also_ok", "articles", "must_include", "must_not_include"}
_SLICE_KEYS = {"topic", "segment", "tags"}
MAX_TURNS = 6


class DatasetError(ValueError):
    """One or more cases are malformed; the message lists every problem with its file and line."""


def normalise(text: str) -> str:
    """Lower case, straight quotes, single spaces: how facts are matched against replies and articles."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class Case:
    id: str
    turns: tuple[str, ...]
    behaviour: str
    """What a good bot does at the last turn: answer | clarify | handoff | refuse."""
    also_ok: tuple[str, ...]
    articles: tuple[str, ...]
    must_include: tuple[tuple[str, ...], ...]
    """Each fact is a tuple of acceptable spellings."""
    must_not_include: tuple[str, ...]
    topic: str
    segment: str
    tags: tuple[str, ...]
    note: str
    source: str
    """file:line, for messages."""

    @property
    def acceptable(self) -> tuple[str, ...]:
        return (self.behaviour, *self.also_ok)

    @property
    def multi_turn(self) -> bool:
        return len(self.turns) > 1

    def slices(self) -> list[str]:
        """Every slice the case counts in; "all" first."""
        return [
            "all",
            f"behaviour:{self.behaviour}",
            f"topic:{self.topic}",
            f"segment:{self.segment}",
            "multi_turn" if self.multi_turn else "single_turn",
            *self.tags,
        ]

    def fingerprint(self) -> str:
        """What the case asks and expects: a baseline entry with another fingerprint is a different case."""
        import hashlib

        data = json.dumps(
            [
                self.turns,
                self.behaviour,
                self.also_ok,
                self.articles,
                self.must_include,
                self.must_not_include,
            ]
        )
        return hashlib.sha256(data.encode()).hexdigest()[:10]


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def _parse(raw: Any, where: str, problems: list[str]) -> Case | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: a case is a JSON object")
        return None
    before = len(problems)
    unknown = set(raw) - _KEYS
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    case_id = raw.get("id")
    if not isinstance(case_id, str) or not _ID.match(case_id):
        problems.append(f"{where}: 'id' must be lowercase letters, digits and hyphens (got {case_id!r})")
    turns = raw.get("turns")
    if not _strings(turns) or not 1 <= len(turns) <= MAX_TURNS:
        problems.append(f"{where}: 'turns' must be a list of 1 to {MAX_TURNS} non-empty strings")
    expect = raw.get("expect")
    slices = raw.get("slices")
    if not isinstance(expect, dict):
        problems.append(f"{where}: 'expect' must be an object")
        expect = {}
    if not isinstance(slices, dict):
        problems.append(f"{where}: 'slices' must be an object")
        slices = {}
    for name, keys, given in (("expect", _EXPECT_KEYS, expect), ("slices", _SLICE_KEYS, slices)):
        extra = set(given) - keys
        if extra:
            problems.append(f"{where}: unknown field(s) in '{name}': {', '.join(sorted(extra))}")
    behaviour = expect.get("behaviour")
    if behaviour not in BEHAVIOURS:
        problems.append(f"{where}: 'expect.behaviour' must be one of {', '.join(BEHAVIOURS)}")
    also_ok = expect.get("also_ok", [])
    if not isinstance(also_ok, list) or any(b not in BEHAVIOURS for b in also_ok):
        problems.append(f"{where}: 'expect.also_ok' must list behaviours ({', '.join(BEHAVIOURS)})")
        also_ok = []
    for key in ("articles", "must_not_include"):
        if not (isinstance(expect.get(key, []), list) and (not expect.get(key) or _strings(expect[key]))):
            problems.append(f"{where}: 'expect.{key}' must be a list of strings")
    facts: list[tuple[str, ...]] = []
    for fact in (
        expect.get("must_include", []) if isinstance(expect.get("must_include", []), list) else [None]
    ):
        if isinstance(fact, str) and fact.strip():
            facts.append((fact,))
        elif _strings(fact) and fact:
            facts.append(tuple(fact))
        else:
            problems.append(f"{where}: each 'expect.must_include' fact is a string or a list of strings")
    topic = slices.get("topic")
    if not isinstance(topic, str) or not topic:
        problems.append(f"{where}: 'slices.topic' is required (an article category or 'none')")
    segment = slices.get("segment")
    if segment not in SEGMENTS:
        problems.append(f"{where}: 'slices.segment' must be one of {', '.join(SEGMENTS)}")
    tags = slices.get("tags", [])
    if not isinstance(tags, list) or any(t not in TAGS for t in tags):
        problems.append(f"{where}: 'slices.tags' may only hold {', '.join(TAGS)}")
    if len(problems) > before:
        return None
    return Case(
        id=case_id,
        turns=tuple(turns),
        behaviour=behaviour,
        also_ok=tuple(b for b in also_ok if b != behaviour),
        articles=tuple(expect.get("articles", [])),
        must_include=tuple(facts),
        must_not_include=tuple(expect.get("must_not_include", [])),
        topic=topic,
        segment=segment,
        tags=tuple(dict.fromkeys(tags)),
        note=str(raw.get("note", "")),
        source=where,
    )


def load_cases(directory: Path = DATASETS, *, files: Sequence[Path] | None = None) -> list[Case]:
    """Every case of every `*.jsonl` file, in file then line order; DatasetError lists all problems."""
    paths = list(files) if files is not None else sorted(directory.glob("*.jsonl"))
    if not paths:
        raise DatasetError(f"{directory}: no *.jsonl dataset files")
    problems: list[str] = []
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path.name}: cannot be read ({exc})")
            continue
        for number, line in enumerate(lines, 1):
            where = f"{path.name}:{number}"
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            case = _parse(raw, where, problems)
            if case is None:
                continue
            if case.id in seen:
                problems.append(f"{where}: id {case.id!r} is already used at {seen[case.id]}")
                continue
            seen[case.id] = where
            cases.append(case)
    if problems:
        raise DatasetError(f"{len(problems)} problem(s) in the eval datasets:\n  " + "\n  ".join(problems))
    return cases


def check_against_kb(cases: Iterable[Case], content: Path = CONTENT) -> list[str]:
    """Problems between the cases and the help center: unknown slugs, facts no expected article states,
    forbidden strings the help center itself contains (a correct reply could quote them)."""
    articles = {p.stem: normalise(p.read_text(encoding="utf-8")) for p in content.glob("*.md")}
    everything = "\n".join(articles.values())
    problems: list[str] = []
    for case in cases:
        unknown = [a for a in case.articles if a not in articles]
        if unknown:
            problems.append(f"{case.source} ({case.id}): no article {', '.join(unknown)}")
        texts = [articles[a] for a in case.articles if a in articles]
        for fact in case.must_include:
            if not any(normalise(alt) in t for alt in fact for t in texts):
                problems.append(f"{case.source} ({case.id}): no expected article states {fact[0]!r}")
        for forbidden in case.must_not_include:
            if normalise(forbidden) in everything:
                problems.append(f"{case.source} ({case.id}): the help center itself says {forbidden!r}")
        if case.behaviour == "answer" and not case.articles:
            problems.append(f"{case.source} ({case.id}): an 'answer' case names the article(s) holding it")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.cases", description=__doc__)
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--content", type=Path, default=CONTENT, help="the help center the cases are for")
    args = parser.parse_args(argv)
    try:
        cases = load_cases(args.datasets)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    problems = check_against_kb(cases, args.content)
    counts = Counter(s for c in cases for s in c.slices())
    print(f"{len(cases)} cases in {args.datasets}")
    for name, n in sorted(counts.items()):
        print(f"  {name:32} {n:4}")
    if problems:
        print(f"error: {len(problems)} problem(s):\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
