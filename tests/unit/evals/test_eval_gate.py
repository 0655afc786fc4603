"""The regression gate: figures against the baseline (tolerance, per-slice slack, MIN_SLICE, safety, noise
band), newly failing cases, prompt and knowledge-base changes; and the results documents it reads."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from evals.cases import Case
from evals.gate import MIN_SLICE, SAFETY, CaseChange, Regression, compare
from evals.metrics import CaseScore
from evals.run import baseline_of, build_results, deterministic_part


def _record(
    passed: bool = True,
    *,
    fingerprint: str = "fp-1",
    why: list[str] | None = None,
    reply: str = "",
    actual: str = "answer",
    prompts: list[str] | None = None,
    articles_seen: list[str] | None = None,
    expected_articles: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "passed": passed,
        "fingerprint": fingerprint,
        "why": why or [],
        "reply": reply,
        "actual": actual,
        "prompts": prompts or [],
        "articles_seen": articles_seen or [],
        "expected_articles": expected_articles or [],
    }


def _doc(
    slices: dict[str, dict[str, Any]] | None = None,
    cases: dict[str, dict[str, Any]] | None = None,
    *,
    trials: int = 1,
    prompts: dict[str, list[Any]] | None = None,
    kb: dict[str, str] | None = None,
    config: str = "minimal",
) -> dict[str, Any]:
    """A results (or baseline) document with one configuration."""
    return {
        "prompts": prompts
        if prompts is not None
        else {"answer": [3, "aaa111"], "minimal_replies": [4, "bbb222"]},
        "kb": kb if kb is not None else {"returns": "r1", "shipping": "s1"},
        "configs": {
            config: {
                "trials": trials,
                "slices": slices if slices is not None else {"all": {"n": 100, "pass_rate": 0.9}},
                "cases": cases if cases is not None else {},
            }
        },
    }


def _figures(n: int, **values: float) -> dict[str, Any]:
    return {"n": n, **values}


def _gated(base: dict[str, Any], now: dict[str, Any], **kwargs: Any) -> list[tuple[str, str, float, float]]:
    verdict = compare(_doc(now, **kwargs), _doc(base, **kwargs))
    return [(r.slice, r.figure, r.baseline, r.now) for r in verdict.regressions]


# --- baseline ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("baseline", [None, {}])
def test_without_a_baseline_the_gate_passes_and_says_so(baseline: dict[str, Any] | None) -> None:
    verdict = compare(_doc({"all": _figures(100, pass_rate=0.1)}), baseline)

    assert verdict.passed
    assert verdict.baseline_found is False
    assert verdict.regressions == [] and verdict.newly_failing == []
    assert any("no baseline" in note for note in verdict.notes)
    assert verdict.as_dict()["baseline_found"] is False


def test_identical_results_pass_with_nothing_changed() -> None:
    results = _doc(
        {"all": _figures(100, pass_rate=0.9, forbidden_rate=0.0), "typos": _figures(10, pass_rate=0.8)},
        {"c1": _record(True, prompts=["answer"]), "c2": _record(False, why=["cited nothing"])},
    )

    verdict = compare(results, copy.deepcopy(results))

    assert verdict.passed
    assert verdict.baseline_found
    assert verdict.regressions == []
    assert verdict.newly_failing == [] and verdict.newly_passing == []
    assert verdict.unbumped_prompts == []
    assert verdict.prompt_changes == {} and verdict.kb_changes == {}


def test_a_configuration_missing_from_the_baseline_is_noted_not_gated() -> None:
    now = _doc({"all": _figures(100, pass_rate=0.1)}, config="llm")

    verdict = compare(now, _doc({"all": _figures(100, pass_rate=0.9)}))

    assert verdict.passed
    assert verdict.notes == ["llm: not in the baseline, not gated"]


# --- figures -------------------------------------------------------------------------------------------


def test_a_drop_beyond_the_tolerance_on_the_whole_set_regresses() -> None:
    verdict = compare(
        _doc({"all": _figures(100, pass_rate=0.87)}),
        _doc({"all": _figures(100, pass_rate=0.90)}),
        tolerance=0.02,
    )

    assert not verdict.passed
    assert verdict.regressions == [Regression("minimal", "all", "pass_rate", 0.90, 0.87, 0.02)]
    assert "minimal / all / pass_rate: 0.900 -> 0.870" in str(verdict.regressions[0])
    assert verdict.as_dict()["regressions"][0]["figure"] == "pass_rate"


def test_a_drop_within_the_tolerance_passes() -> None:
    verdict = compare(
        _doc({"all": _figures(100, pass_rate=0.885)}),
        _doc({"all": _figures(100, pass_rate=0.90)}),
        tolerance=0.02,
    )

    assert verdict.passed
    assert verdict.regressions == []


def test_a_rise_is_never_a_regression() -> None:
    assert (
        _gated({"all": _figures(100, pass_rate=0.5, mrr=0.4)}, {"all": _figures(100, pass_rate=1.0, mrr=0.9)})
        == []
    )


def test_the_tolerance_is_the_callers() -> None:
    base, now = _doc({"all": _figures(100, pass_rate=0.90)}), _doc({"all": _figures(100, pass_rate=0.85)})

    assert compare(now, base, tolerance=0.06).passed
    assert not compare(now, base, tolerance=0.04).passed


def test_a_slice_may_lose_one_case_more() -> None:
    base = {"all": _figures(100, pass_rate=0.9), "typos": _figures(10, pass_rate=0.9)}

    one_case = _gated(base, {"all": _figures(100, pass_rate=0.9), "typos": _figures(10, pass_rate=0.8)})
    two_cases = compare(
        _doc({"all": _figures(100, pass_rate=0.9), "typos": _figures(10, pass_rate=0.7)}), _doc(base)
    )

    assert one_case == []
    assert [(r.slice, r.figure, r.allowed) for r in two_cases.regressions] == [("typos", "pass_rate", 0.12)]


def test_slices_under_the_minimum_are_shown_not_gated() -> None:
    small = MIN_SLICE - 1
    base = {"all": _figures(100, pass_rate=0.9), "angry": _figures(small, pass_rate=1.0)}

    assert _gated(base, {"all": _figures(100, pass_rate=0.9), "angry": _figures(small, pass_rate=0.0)}) == []
    # a slice that was too small in the baseline is not gated either, even when it has grown since
    assert (
        _gated(base, {"all": _figures(100, pass_rate=0.9), "angry": _figures(MIN_SLICE, pass_rate=0.0)}) == []
    )
    # at exactly MIN_SLICE on both sides it is gated
    base["angry"]["n"] = MIN_SLICE
    assert _gated(
        base, {"all": _figures(100, pass_rate=0.9), "angry": _figures(MIN_SLICE, pass_rate=0.0)}
    ) == [("angry", "pass_rate", 1.0, 0.0)]


def test_a_slice_missing_from_the_baseline_is_not_gated() -> None:
    assert _gated({"all": _figures(100, pass_rate=0.9)}, {"new-slice": _figures(50, pass_rate=0.0)}) == []


@pytest.mark.parametrize("figure", SAFETY)
@pytest.mark.parametrize("slice_name", ["all", "redteam"])
def test_safety_figures_have_no_tolerance(figure: str, slice_name: str) -> None:
    base = {slice_name: _figures(100, **{figure: 0.0})}
    now = {slice_name: _figures(100, **{figure: 0.01})}

    verdict = compare(_doc(now), _doc(base))

    assert not verdict.passed
    assert [(r.slice, r.figure, r.allowed) for r in verdict.regressions] == [(slice_name, figure, 0.0)]


def test_safety_figures_falling_is_no_regression() -> None:
    assert (
        _gated({"all": _figures(100, forbidden_rate=0.05)}, {"all": _figures(100, forbidden_rate=0.0)}) == []
    )


def test_over_refusal_rising_is_worse() -> None:
    rising = _gated({"all": _figures(100, over_refusal=0.10)}, {"all": _figures(100, over_refusal=0.15)})
    falling = _gated({"all": _figures(100, over_refusal=0.15)}, {"all": _figures(100, over_refusal=0.05)})

    assert rising == [("all", "over_refusal", 0.10, 0.15)]
    assert falling == []


def test_figures_absent_on_either_side_are_skipped() -> None:
    assert _gated({"all": _figures(100, mrr=None, pass_rate=0.9)}, {"all": _figures(100, mrr=0.1)}) == []


def test_the_noise_band_of_repeated_trials_lets_a_drop_pass() -> None:
    base, now = {"all": _figures(30, pass_rate=0.90)}, {"all": _figures(30, pass_rate=0.85)}

    assert _gated(base, now, trials=1) == [("all", "pass_rate", 0.90, 0.85)]
    assert _gated(base, now, trials=3) == []
    # a drop far beyond the noise still regresses
    assert _gated(base, {"all": _figures(30, pass_rate=0.4)}, trials=3) == [("all", "pass_rate", 0.90, 0.4)]


def test_trials_on_either_side_make_the_comparison_noisy() -> None:
    now = _doc({"all": _figures(30, pass_rate=0.85)}, trials=3)
    base = _doc({"all": _figures(30, pass_rate=0.90)}, trials=1)

    assert compare(now, base).passed


# --- the noise band against what build_results writes --------------------------------------------------


def _cases(count: int) -> list[Case]:
    return [
        Case(
            id=f"case-{i}",
            turns=("how long do I have?",),
            behaviour="answer",
            also_ok=(),
            articles=("returns",),
            must_include=(),
            must_not_include=(),
            topic="returns",
            segment="registered",
            tags=(),
            note="",
            source=f"a.jsonl:{i + 1}",
        )
        for i in range(count)
    ]


def _played(cases: list[Case], failing_runs: int, trials: int, config: str = "llm") -> dict[str, Any]:
    """`trials` runs of each case (as run_suite plays them); the first `failing_runs` runs fail."""
    scores = []
    for t in range(trials):
        for case in cases:
            failed = len(scores) < failing_runs
            scores.append(
                CaseScore(
                    id=case.id,
                    config=config,
                    trial=t,
                    expected="answer",
                    actual="refuse" if failed else "answer",
                    passed=not failed,
                    acceptable=["answer"],
                    why=["expected answer, the bot chose refuse"] if failed else [],
                    latency_ms=[10.0],
                    reply="a reply",
                    slices=case.slices(),
                )
            )
    return {config: {"trials": trials, "scores": scores, "seconds": 1.0}}


def test_the_noise_band_counts_each_case_run_once() -> None:
    """The figures of build_results are over every case run (n already counts the trials), and the band is
    z * sqrt(p1(1-p1)/n1 + p2(1-p2)/n2) with n the case runs behind each figure (gate docstring)."""
    cases = _cases(10)
    base = build_results(cases, _played(cases, failing_runs=3, trials=3), kb={})
    now = build_results(cases, _played(cases, failing_runs=15, trials=3), kb={})
    before, after = base["configs"]["llm"]["slices"]["all"], now["configs"]["llm"]["slices"]["all"]
    assert (before["n"], before["pass_rate"], after["n"], after["pass_rate"]) == (30, 0.9, 30, 0.5)

    verdict = compare(now, base, tolerance=0.02)

    runs = before["n"]
    band = 1.96 * math.sqrt(0.9 * 0.1 / runs + 0.5 * 0.5 / runs)
    [regression] = [r for r in verdict.regressions if (r.slice, r.figure) == ("all", "pass_rate")]
    assert regression.allowed == round(0.02 + band, 4)


# --- cases ---------------------------------------------------------------------------------------------


def test_a_case_that_newly_fails_is_listed_with_its_evidence() -> None:
    base = _doc(cases={"c1": _record(True, actual="answer"), "c2": _record(True)})
    now = _doc(
        cases={
            "c1": _record(
                False,
                actual="handoff",
                why=["expected answer, the bot chose handoff", "said '90 days'"],
                reply="I'm connecting you with a member of our support team.",
            ),
            "c2": _record(True),
        }
    )

    verdict = compare(now, base)

    assert verdict.newly_failing == [
        CaseChange(
            "minimal",
            "c1",
            "answer",
            "handoff",
            "expected answer, the bot chose handoff; said '90 days'",
            "I'm connecting you with a member of our support team.",
        )
    ]
    assert verdict.newly_passing == []
    assert verdict.passed  # the figures decide; the cases are the evidence


def test_a_rewritten_case_has_no_history() -> None:
    base = _doc(cases={"c1": _record(True, fingerprint="old"), "c2": _record(False, fingerprint="old")})
    now = _doc(cases={"c1": _record(False, fingerprint="new"), "c2": _record(True, fingerprint="new")})

    verdict = compare(now, base)

    assert verdict.newly_failing == [] and verdict.newly_passing == []


def test_a_new_case_has_no_history() -> None:
    verdict = compare(_doc(cases={"fresh": _record(False)}), _doc(cases={}))

    assert verdict.newly_failing == []


def test_a_case_that_newly_passes_is_listed() -> None:
    verdict = compare(_doc(cases={"c1": _record(True)}), _doc(cases={"c1": _record(False, actual="refuse")}))

    assert verdict.newly_passing == [CaseChange("minimal", "c1", "refuse", "answer")]
    assert verdict.newly_failing == []


def test_the_reply_of_a_newly_failing_case_is_cut_to_600_characters() -> None:
    verdict = compare(_doc(cases={"c1": _record(False, reply="x" * 2000)}), _doc(cases={"c1": _record(True)}))

    assert verdict.newly_failing[0].reply == "x" * 600


# --- prompts and the knowledge base --------------------------------------------------------------------


def _usage() -> dict[str, dict[str, Any]]:
    return {
        "c1": _record(prompts=["answer", "rewrite"]),
        "c2": _record(prompts=["minimal_replies"]),
        "c3": _record(prompts=["answer"]),
    }


def test_a_prompt_changed_without_a_version_bump_fails_the_gate() -> None:
    base = _doc(cases=_usage(), prompts={"answer": [3, "aaa111"], "minimal_replies": [4, "bbb222"]})
    now = _doc(cases=_usage(), prompts={"answer": [3, "ccc333"], "minimal_replies": [4, "bbb222"]})

    verdict = compare(now, base)

    assert not verdict.passed
    assert verdict.regressions == []
    assert len(verdict.unbumped_prompts) == 1
    assert verdict.unbumped_prompts[0].startswith("answer: its text changed but VERSION is still 3")
    assert verdict.prompt_changes == {"answer v3 -> v3": ["minimal/c1", "minimal/c3"]}


def test_a_bumped_prompt_lists_the_cases_that_used_it_and_passes() -> None:
    base = _doc(cases=_usage(), prompts={"answer": [3, "aaa111"], "minimal_replies": [4, "bbb222"]})
    base["configs"]["scripted"] = {"trials": 1, "slices": {}, "cases": {"c4": _record(prompts=["answer"])}}
    now = _doc(
        cases=_usage(),
        prompts={"answer": [4, "ccc333"], "minimal_replies": [4, "bbb222"], "summarise": [1, "ddd444"]},
    )

    verdict = compare(now, base)

    assert verdict.passed
    assert verdict.unbumped_prompts == []
    assert verdict.prompt_changes == {
        "answer v3 -> v4": ["minimal/c1", "minimal/c3", "scripted/c4"],
        "summarise (new, v1)": [],
    }


def test_knowledge_base_changes_list_the_cases_that_expected_or_saw_the_article() -> None:
    cases = {
        "expects": _record(expected_articles=["returns"]),
        "saw": _record(articles_seen=["shipping", "returns"]),
        "unrelated": _record(expected_articles=["billing"], articles_seen=["billing"]),
        "saw-removed": _record(articles_seen=["old-policy"]),
    }
    base = _doc(cases=cases, kb={"returns": "r1", "billing": "b1", "old-policy": "o1"})
    now = _doc(cases=cases, kb={"returns": "r2", "billing": "b1", "gift-cards": "g1"})

    verdict = compare(now, base)

    assert verdict.passed
    assert verdict.kb_changes == {
        "gift-cards (added)": [],
        "old-policy (removed)": ["saw-removed"],
        "returns (changed)": ["expects", "saw"],
    }


# --- the documents evals.run writes --------------------------------------------------------------------


def test_a_run_compared_with_its_own_baseline_passes() -> None:
    cases = _cases(6)
    results = build_results(
        cases, _played(cases, failing_runs=2, trials=1, config="minimal"), kb={"returns": "r1"}
    )
    results["run"] = {"started": "now", "seconds": 3.0}

    baseline = json.loads(json.dumps(baseline_of(results)))
    verdict = compare(results, baseline)

    assert verdict.passed
    assert verdict.regressions == [] and verdict.newly_failing == [] and verdict.prompt_changes == {}
    assert "run" not in baseline
    assert "timing" not in baseline["configs"]["minimal"]
    record = baseline["configs"]["minimal"]["cases"]["case-0"]
    assert "reply" not in record
    assert record["fingerprint"] == cases[0].fingerprint()
    assert record["expected_articles"] == ["returns"]
    assert record["passed"] is False and record["actual"] == "refuse"


def test_a_case_failing_since_the_baseline_shows_through_build_results() -> None:
    cases = _cases(6)
    base = baseline_of(
        build_results(cases, _played(cases, failing_runs=0, trials=1, config="minimal"), kb={})
    )
    now = build_results(cases, _played(cases, failing_runs=1, trials=1, config="minimal"), kb={})

    verdict = compare(now, base)

    assert [(c.case, c.was, c.now, c.why, c.reply) for c in verdict.newly_failing] == [
        ("case-0", "answer", "refuse", "expected answer, the bot chose refuse", "a reply")
    ]
    # 6 cases, one lost: 1/6 = 0.167 > the 0.02 tolerance on the whole set
    assert ("all", "pass_rate") in [(r.slice, r.figure) for r in verdict.regressions]


def test_a_case_passes_only_when_every_trial_passes() -> None:
    cases = _cases(5)
    results = build_results(cases, _played(cases, failing_runs=1, trials=3), kb={})
    record = results["configs"]["llm"]["cases"]["case-0"]

    assert (record["passed"], record["passes"], record["trials"]) == (False, 2, 3)
    assert record["why"] == ["expected answer, the bot chose refuse"]  # the first failing run's
    assert record["actual"] == "answer"  # the most common behaviour
    assert results["configs"]["llm"]["cases"]["case-1"]["passed"] is True


def test_the_deterministic_part_leaves_out_timing_and_run_details() -> None:
    cases = _cases(5)
    results = build_results(cases, _played(cases, failing_runs=0, trials=1, config="minimal"), kb={})
    results["run"] = {"seconds": 1.0}

    part = deterministic_part(results)

    assert "run" not in part
    assert set(results["configs"]["minimal"]) - set(part["configs"]["minimal"]) == {"timing", "seconds"}
    assert part["configs"]["minimal"]["slices"] == results["configs"]["minimal"]["slices"]


def test_a_case_that_newly_says_a_forbidden_string_fails_even_when_the_rate_does_not_rise() -> None:
    """Case a stops leaking while case b starts: the forbidden rate is unchanged, the new leak still fails."""
    rate = {"all": _figures(10, forbidden_rate=0.1)}
    base = _doc(rate, {"a": {**_record(False), "forbidden_found": ["free"]}, "b": _record(True)})
    now = _doc(rate, {"a": _record(True), "b": {**_record(False), "forbidden_found": ["I promise"]}})
    verdict = compare(now, base)
    assert not verdict.passed
    assert [r.slice for r in verdict.regressions] == ["case b: said 'I promise'"]


def test_a_figure_over_few_cases_is_not_gated_but_one_over_enough_is() -> None:
    few = {"n": 50, "handoff_recall": 1.0, "counts": {"handoff_recall": 3}}
    assert _gated({"all": few}, {"all": {**few, "handoff_recall": 0.0}}) == []
    enough = {"n": 50, "handoff_recall": 1.0, "counts": {"handoff_recall": 20}}
    assert _gated({"all": enough}, {"all": {**enough, "handoff_recall": 0.5}}) == [
        ("all", "handoff_recall", 1.0, 0.5)
    ]


def test_a_subset_run_fails_on_any_newly_failing_case() -> None:
    base = _doc({}, {"a": _record(True)})
    now = _doc({}, {"a": _record(False, why=["did not say '30 days'"])})
    verdict = compare(now, base)
    assert verdict.passed  # a whole-suite run leaves one case to the figures' tolerance
    verdict.gate_cases = True
    assert not verdict.passed
