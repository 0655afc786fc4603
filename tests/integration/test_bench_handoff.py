"""`python -m evals.bench handoff` as a command, on small files of the benchmark shape."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.bench_cli import run_bench, write_lines

# Labels chosen so the figures are known: 3 TP, 1 FP, 1 FN over 8 labelled rows.
ROWS = [
    {"id": "a1", "text": "please connect me to a human agent", "requests_human": True, "source": "S1"},
    {"id": "a2", "text": "can I speak with a real person", "requests_human": True, "source": "S1"},
    {"id": "a3", "text": "what time does the pool open", "requests_human": True, "source": "S1"},  # FN
    {"id": "b1", "text": "operator please", "requests_human": True, "source": "S2"},
    {"id": "b2", "text": "let me talk to your supervisor", "requests_human": False, "source": "S2"},  # FP
    {"id": "b3", "text": "where is my parcel", "requests_human": False, "source": "S2"},
    {"id": "n1", "text": "transfer me to someone", "requests_human": None, "source": "S2"},  # unlabelled
    {
        "id": "c1",
        "text": "I want to lodge a formal complaint",
        "requests_human": False,
        "complaint": True,
        "source": "S1",
    },
    {"id": "c2", "text": "my order is late", "requests_human": False, "complaint": True, "source": "S1"},
]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_bench("handoff", *args)


@pytest.fixture
def cases(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "messages.jsonl", [json.dumps(r) for r in ROWS])


def test_runner_writes_precision_recall_per_source_and_complaint_recall(cases, tmp_path):
    out = tmp_path / "out" / "handoff.json"
    done = _run("--cases", str(cases), "--json", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert {"precision", "recall", "per_source", "n", "complaint_recall", "p95_ms"} <= set(report)
    assert (report["tp"], report["fp"], report["fn"]) == (3, 1, 1)
    assert report["precision"] == pytest.approx(0.75) and report["recall"] == pytest.approx(0.75)
    assert report["n"] == 8  # the unlabelled row is not counted
    s1, s2 = report["per_source"]["S1"], report["per_source"]["S2"]
    assert (s1["tp"], s1["fp"], s1["fn"], s1["n"]) == (2, 0, 1, 5)
    assert s1["precision"] == pytest.approx(1.0) and s1["recall"] == pytest.approx(2 / 3)
    assert (s2["tp"], s2["fp"], s2["fn"], s2["n"]) == (1, 1, 0, 3)
    assert s2["precision"] == pytest.approx(0.5) and s2["recall"] == pytest.approx(1.0)
    assert report["complaint_recall"] == pytest.approx(0.5)
    assert report["skipped_lines"] == 0
    assert "precision" in done.stdout and "S2" in done.stdout and "complaint recall" in done.stdout


def test_a_malformed_line_and_a_row_without_text_are_reported_and_skipped(tmp_path):
    lines = [json.dumps(r) for r in ROWS]
    lines.insert(2, "{not json")
    lines.insert(5, json.dumps({"id": "x", "requests_human": True, "source": "S1"}))
    cases = write_lines(tmp_path / "messy.jsonl", lines)
    out = tmp_path / "messy.json"
    done = _run("--cases", str(cases), "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "messy.jsonl:3: not JSON" in done.stderr
    assert "messy.jsonl:6: a message needs 'text'" in done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(out.read_text())
    assert report["skipped_lines"] == 2 and "2 malformed lines skipped" in done.stdout
    assert (report["tp"], report["fp"], report["fn"], report["n"]) == (3, 1, 1, 8)


def test_a_file_without_complaint_labels_reports_no_complaint_recall(tmp_path):
    rows = [{"id": "1", "text": "human please", "requests_human": True, "source": "X"}]
    cases = write_lines(tmp_path / "small.jsonl", [json.dumps(r) for r in rows])
    out = tmp_path / "small.json"
    assert _run("--cases", str(cases), "--json", str(out)).returncode == 0
    report = json.loads(out.read_text())
    assert report["complaint_recall"] is None and report["precision"] == 1.0 and report["recall"] == 1.0


def test_a_missing_file_exits_2_with_a_message(tmp_path):
    done = _run("--cases", str(tmp_path / "nope.jsonl"))
    assert done.returncode == 2
    assert "nope.jsonl is not a file" in done.stderr and "Traceback" not in done.stderr


def test_a_file_that_is_not_text_exits_2_with_a_message(tmp_path):
    cases = tmp_path / "binary.jsonl"
    cases.write_bytes(b"\xff\xfe\x00\x81 not utf-8")
    done = _run("--cases", str(cases))
    assert done.returncode == 2
    assert "binary.jsonl: cannot read" in done.stderr and "Traceback" not in done.stderr
