"""The eval runner end to end over the real product (demo help center, MiniLM, Chroma, BM25, the graph):
two runs in processes with different hash seeds give identical figures; the gate passes a run against its own
baseline and fails on a seeded regression, with the evidence; a real LLM path (the local OpenAI-compatible
stub) runs trials and reports intervals; the prompt change gate refuses an unbumped wording change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evals.cases import CONTENT, DATASETS, load_cases
from evals.changes import main as changes_main
from evals.run import deterministic_part
from evals.run import main as run_main
from evals.topology.stub_llm import StubOpenAI

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = "returns-how-to-return-an-item"


def _subset(folder: Path, keep) -> Path:  # type: ignore[no-untyped-def]
    """A dataset folder with the lines of the real datasets whose case `keep` selects."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(DATASETS.glob("*.jsonl")):
        lines = [ln for ln in path.read_text().splitlines() if ln.strip() and keep(json.loads(ln))]
        if lines:
            (folder / path.name).write_text("\n".join(lines) + "\n")
    return folder


def _returns_and_refusals(case: dict) -> bool:  # type: ignore[type-arg]
    expect = case["expect"]
    return ARTICLE in expect.get("articles", []) or case["id"].startswith("oos-")


def test_two_runs_in_processes_with_different_hash_seeds_give_identical_figures(tmp_path):
    data = _subset(
        tmp_path / "data", lambda c: c["id"].startswith(("ans-returns", "ans-refunds", "conv-", "rt-"))
    )
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"run-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "evals.run",
                "--datasets",
                str(data),
                "--out",
                str(out),
                "--no-gate",
                "-q",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outs.append(json.loads((out / "results.json").read_text()))
    first, second = (deterministic_part(r) for r in outs)
    assert first["configs"]["minimal"]["overall"]["n"] > 40
    assert set(first["configs"]) == {"minimal", "scripted", "adversary"}
    assert first == second
    assert outs[0]["configs"]["minimal"]["timing"]  # latency is reported, apart from the compared figures


def test_the_gate_passes_a_run_against_its_baseline_and_fails_a_seeded_regression(tmp_path):
    data = _subset(tmp_path / "data", _returns_and_refusals)
    baseline = tmp_path / "baseline.json"
    common = ["--datasets", str(data), "--baseline", str(baseline), "--configs", "minimal,scripted", "-q"]
    assert run_main([*common, "--out", str(tmp_path / "base"), "--update-baseline"]) == 0
    recorded = json.loads(baseline.read_text())
    passing = [
        case_id
        for case_id, r in recorded["configs"]["minimal"]["cases"].items()
        if r["passed"] and ARTICLE in r["expected_articles"]
    ]
    assert passing, "precondition: some cases about the article pass today"
    assert "reply" not in next(iter(recorded["configs"]["minimal"]["cases"].values()))  # no replies committed

    assert run_main([*common, "--out", str(tmp_path / "same")]) == 0

    # The seeded regression: the article holding the return windows is gone from the help center.
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / f"{ARTICLE}.md").unlink()
    out = tmp_path / "regressed"
    assert run_main([*common, "--out", str(out), "--content", str(content)]) == 1
    results = json.loads((out / "results.json").read_text())
    assert (
        results["configs"]["minimal"]["overall"]["pass_rate"]
        < recorded["configs"]["minimal"]["overall"]["pass_rate"]
    )
    report = (out / "report.md").read_text()
    assert "FAIL" in report
    for case_id in passing:  # the evidence names every case the change broke
        assert case_id in report
    assert ARTICLE in report  # the knowledge-base change and the cases it touched
    assert (out / "report.html").exists()


def test_a_configured_llm_runs_trials_and_reports_intervals(tmp_path, monkeypatch):
    data = _subset(tmp_path / "data", lambda c: c["id"].startswith("ans-returns"))
    n_cases = len(load_cases(data))
    with StubOpenAI() as stub:
        monkeypatch.setenv(
            "LLM_OPTIONS", json.dumps({"openai:stub": {"base_url": stub.base_url, "api_key": "sk-t"}})
        )
        out = tmp_path / "llm"
        code = run_main(
            [
                "--datasets",
                str(data),
                "--configs",
                "llm",
                "--llm",
                "openai:stub",
                "--trials",
                "2",
                "--out",
                str(out),
                "--no-gate",
                "-q",
            ]
        )
        assert code == 0
        requests = len(stub.chat_requests())
    results = json.loads((out / "results.json").read_text())
    llm = results["configs"]["llm"]
    assert llm["trials"] == 2 and llm["deterministic"] is False
    assert llm["overall"]["n"] == n_cases * 2
    low, high = llm["overall"]["pass_ci"]
    assert 0.0 <= low <= llm["overall"]["pass_rate"] <= high <= 1.0
    record = next(iter(llm["cases"].values()))
    assert record["trials"] == 2 and 0 <= record["passes"] <= 2
    served_by_model = llm["overall"]["modes"].get("full", 0)
    assert served_by_model > 0 and requests >= n_cases  # answered over HTTP, in Full mode


def test_the_prompt_gate_refuses_a_wording_change_without_a_version_bump(tmp_path, capsys):
    from evals.run import prompt_fingerprint

    prompts = prompt_fingerprint()
    version, _ = prompts["answer"]
    base = {"schema": 1, "prompts": {**prompts, "answer": [version, "0" * 12]}, "configs": {}}
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(base))
    assert changes_main(["prompts", "--baseline", str(path)]) == 1
    assert "bump" in capsys.readouterr().out

    base["prompts"]["answer"] = [version - 1, "0" * 12]  # the files carry a newer version: a bump
    path.write_text(json.dumps(base))
    assert changes_main(["prompts", "--baseline", str(path)]) == 0
    assert "gate: PASS" in capsys.readouterr().out
