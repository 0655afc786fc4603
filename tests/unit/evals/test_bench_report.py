"""`python -m evals.bench report`: one report over the runners' JSON, against a committed baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.bench.__main__ import main
from evals.bench.report import REGISTRY, lookup, verdict


def _write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    bench = tmp_path / "bench"
    bench.mkdir()
    return {
        "dir": bench,
        "baseline": tmp_path / "baseline.json",
        "out": tmp_path / "out" / "report.md",
        "json": tmp_path / "out" / "report.json",
        "eval": tmp_path / "eval" / "results.json",
        "eval_baseline": tmp_path / "eval_baseline.json",
        "data": tmp_path / "shared",
    }


def _report(paths: dict[str, Path], *extra: str) -> int:
    return main(
        [
            "report",
            "--dir",
            str(paths["dir"]),
            "--baseline",
            str(paths["baseline"]),
            "--out",
            str(paths["out"]),
            "--json",
            str(paths["json"]),
            "--eval",
            str(paths["eval"]),
            "--eval-baseline",
            str(paths["eval_baseline"]),
            "--data",
            str(paths["data"]),
            *extra,
        ]
    )


def _rows(paths: dict[str, Path], bench: str) -> dict[str, dict[str, Any]]:
    summary = json.loads(paths["json"].read_text())
    return {row["key"]: row for row in summary["benchmarks"][bench]["figures"]}


def _baseline(figures: dict[str, dict[str, float]]) -> dict[str, Any]:
    return {"measured_on": "a test machine", "benchmarks": figures}


def test_the_ratio_is_now_over_baseline_and_the_verdict_follows_the_metrics_direction(paths):
    _write(paths["dir"] / "ladder.json", {"overhead_ms": {"p50": 20.0, "p95": 60.0}})
    _write(paths["dir"] / "guard.json", {"detection_rate": 0.9, "false_positive_rate": 0.05, "p95_ms": 4.0})
    _write(
        paths["baseline"],
        _baseline(
            {
                "ladder": {"overhead_ms.p50": 40.0, "overhead_ms.p95": 50.0},
                "guard": {"detection_rate": 0.8, "false_positive_rate": 0.0, "p95_ms": 4.0},
            }
        ),
    )

    assert _report(paths) == 0

    ladder = _rows(paths, "ladder")
    assert ladder["overhead_ms.p50"]["ratio"] == pytest.approx(0.5)
    assert ladder["overhead_ms.p50"]["verdict"] == "better"  # latency: lower is better
    assert ladder["overhead_ms.p95"]["ratio"] == pytest.approx(1.2)
    assert ladder["overhead_ms.p95"]["verdict"] == "worse"
    guard = _rows(paths, "guard")
    assert guard["detection_rate"]["ratio"] == pytest.approx(1.125)
    assert guard["detection_rate"]["verdict"] == "better"  # detection: higher is better
    # a baseline of 0 has no ratio, but a false-positive rate rising from 0 is still worse
    assert guard["false_positive_rate"]["ratio"] is None
    assert guard["false_positive_rate"]["verdict"] == "worse"
    assert guard["p95_ms"]["verdict"] == "same"
    summary = json.loads(paths["json"].read_text())
    assert summary["counts"]["better"] == 2
    assert summary["counts"]["worse"] == 2
    markdown = paths["out"].read_text()
    assert "| non-LLM overhead per turn, p50 ms | lower | 20.00 | 40.00 | 0.50x | better |" in markdown
    assert "measured on a test machine" in markdown


def test_retrieval_shows_the_in_run_baselines_and_the_projects_ratio_to_each(paths):
    figures = {"hit_at_1": 0.6, "mrr": 0.7, "p95_ms": 20.0}
    _write(
        paths["dir"] / "retrieval.json",
        {
            **figures,
            "baselines": {
                "bm25": {"hit_at_1": 0.2, "mrr": 0.35, "p95_ms": 1.0},
                "dense": {"hit_at_1": 0.3, "mrr": 0.0, "p95_ms": 10.0},
            },
        },
    )

    assert _report(paths) == 0

    rows = _rows(paths, "retrieval")
    assert rows["hit_at_1"]["in_run"]["bm25"] == {"value": 0.2, "ratio": pytest.approx(3.0)}
    assert rows["hit_at_1"]["in_run"]["dense"]["ratio"] == pytest.approx(2.0)
    assert rows["mrr"]["in_run"]["dense"]["ratio"] is None  # division by zero is shown as no ratio
    assert rows["p95_ms"]["in_run"]["dense"]["ratio"] == pytest.approx(2.0)
    assert rows["hit_at_1"]["verdict"] == "new"  # no committed baseline yet
    assert "| bm25 | now/bm25 | dense | now/dense |" in paths["out"].read_text()


def test_a_missing_benchmark_is_reported_as_not_run_with_the_reason(paths, capsys):
    _write(paths["dir"] / "ladder.json", {"overhead_ms": {"p50": 20.0}})
    _write(paths["data"] / "handoff" / "messages.jsonl", {"text": "a person please"})

    assert _report(paths) == 0

    summary = json.loads(paths["json"].read_text())
    pii = summary["benchmarks"]["pii"]
    assert pii["status"] == "not run"
    assert "the shared data is absent" in pii["why"]
    assert "pii/cases.jsonl" in pii["why"]
    # the data is there but the runner did not write its file: the reason says so instead
    handoff = summary["benchmarks"]["handoff"]
    assert handoff["status"] == "not run"
    assert "make bench" in handoff["why"]
    assert summary["benchmarks"]["eval"]["status"] == "not run"
    assert "not run (why: the shared data is absent" in paths["out"].read_text()
    out = capsys.readouterr().out
    assert "pii: not run (why: the shared data is absent" in out
    assert "non-LLM overhead per turn, p50 ms" in out


def test_a_corrupt_json_file_exits_2_and_names_the_file(paths, capsys):
    bad = paths["dir"] / "guard.json"
    bad.write_text('{"detection_rate": 0.9,', encoding="utf-8")

    assert _report(paths) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert str(bad) in err
    assert "not valid JSON" in err
    assert not paths["out"].exists()


def test_a_json_file_that_is_not_an_object_exits_2(paths, capsys):
    _write(paths["baseline"], [1, 2, 3])

    assert _report(paths) == 2

    assert str(paths["baseline"]) in capsys.readouterr().err


def test_a_missing_folder_exits_2(paths, capsys):
    paths["dir"] = paths["dir"] / "nowhere"

    assert _report(paths) == 2

    assert "nowhere is not a folder" in capsys.readouterr().err


def test_update_baseline_writes_figures_that_the_next_run_reads_back_as_ratio_one(paths):
    _write(paths["dir"] / "pii.json", {"span_recall": 0.96, "over_mask_rate": 0.03, "p95_ms": 0.2})
    _write(paths["dir"] / "kb.json", {"build_docs_per_s": 250.5, "publish_p50_s": 0.8, "consistent": True})
    # a benchmark not run this time keeps its previous baseline figures
    _write(paths["baseline"], _baseline({"handoff": {"recall": 0.97}, "pii": {"span_recall": 0.5}}))

    assert _report(paths, "--update-baseline", "--note", "2 cores, shared") == 0

    written = paths["baseline"].read_text()
    fresh = json.loads(written)
    assert written == json.dumps(fresh, indent=2, sort_keys=True) + "\n"
    assert fresh["measured_on"] == "2 cores, shared"
    assert fresh["benchmarks"]["pii"] == {"span_recall": 0.96, "over_mask_rate": 0.03, "p95_ms": 0.2}
    assert fresh["benchmarks"]["kb"] == {"build_docs_per_s": 250.5, "publish_p50_s": 0.8}
    assert fresh["benchmarks"]["handoff"] == {"recall": 0.97}
    # the report of that run compared with the old baseline
    assert _rows(paths, "pii")["span_recall"]["ratio"] == pytest.approx(0.96 / 0.5)

    assert _report(paths) == 0

    for bench in ("pii", "kb"):
        for row in _rows(paths, bench).values():
            if row["now"] is None:
                continue
            assert row["ratio"] == pytest.approx(1.0)
            assert row["verdict"] == "same"


def test_eval_results_are_compared_per_config_with_the_eval_baseline(paths):
    _write(
        paths["eval"],
        {
            "configs": {
                "full": {"overall": {"pass_rate": 0.9, "over_refusal": 0.1, "hit_at_5": 0.8}},
                "minimal": {"overall": {"pass_rate": 0.5}},
            }
        },
    )
    _write(
        paths["eval_baseline"],
        {"configs": {"full": {"overall": {"pass_rate": 0.8, "over_refusal": 0.05}}}},
    )

    assert _report(paths) == 0

    rows = _rows(paths, "eval")
    assert set(rows) == {
        "configs.full.overall.pass_rate",
        "configs.full.overall.over_refusal",
        "configs.full.overall.hit_at_5",
        "configs.minimal.overall.pass_rate",
    }
    assert rows["configs.full.overall.pass_rate"]["verdict"] == "better"
    assert rows["configs.full.overall.over_refusal"]["ratio"] == pytest.approx(2.0)
    assert rows["configs.full.overall.over_refusal"]["verdict"] == "worse"  # lower is better
    assert rows["configs.minimal.overall.pass_rate"]["verdict"] == "new"


def test_eval_results_without_configs_exit_2_naming_the_file(paths, capsys):
    _write(paths["eval"], {"overall": {}})

    assert _report(paths) == 2

    assert str(paths["eval"]) in capsys.readouterr().err


def test_lookup_follows_dotted_paths_and_ignores_what_is_not_a_number():
    data = {"a": {"b": 2, "flag": True, "none": None}, "c": 0.5}
    assert lookup(data, "a.b") == 2.0
    assert lookup(data, "c") == 0.5
    assert lookup(data, "a.flag") is None
    assert lookup(data, "a.none") is None
    assert lookup(data, "a.missing") is None
    assert lookup(data, "c.deeper") is None


@pytest.mark.parametrize(
    ("now", "then", "better", "expected"),
    [
        (2.0, 1.0, "higher", "better"),
        (2.0, 1.0, "lower", "worse"),
        (0.5, 1.0, "higher", "worse"),
        (0.5, 1.0, "lower", "better"),
        (1.0, 1.0, "lower", "same"),
        (1.0, None, "higher", "new"),
        (None, 1.0, "higher", "-"),
    ],
)
def test_verdict(now, then, better, expected):
    assert verdict(now, then, better) == expected


def test_every_registered_benchmark_names_three_to_eight_headline_figures():
    for name, bench in REGISTRY.items():
        assert 3 <= len(bench.figures) <= 8, name
        assert len({f.key for f in bench.figures}) == len(bench.figures), name
        assert all(f.better in ("higher", "lower") for f in bench.figures), name
