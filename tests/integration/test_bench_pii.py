"""`python -m evals.bench pii` as a command, on small files of the benchmark shape (rows made up here)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.bench_cli import run_bench, write_lines


def _row(rid: str, text: str, entity: str, *gold: tuple[str, str]) -> dict[str, Any]:
    """A case whose gold spans are given by (type, value); offsets are computed from the text."""
    spans = [
        {"type": kind, "start": text.index(value), "end": text.index(value) + len(value)}
        for kind, value in gold
    ]
    return {"id": rid, "text": text, "spans": spans, "entity_under_test": entity}


# Chosen so the figures are known: of 3 supported gold spans 2 are masked (the bare digits without a word
# saying "phone" are not); 1 of 2 supported look-alike rows is masked (a real MAC address in a row written
# to test IP addresses); the date is an unsupported type and stays.
MAC = "3c:22:fb:11:aa:07"
ROWS = [
    _row("e1", "mail me at sam@shop.example", "EMAIL_ADDRESS", ("EMAIL_ADDRESS", "sam@shop.example")),
    _row("c1", "card 5240 5576 1698 7168", "CREDIT_CARD", ("CREDIT_CARD", "5240 5576 1698 7168")),
    _row("c2", "card 5240 5576 1698 7169", "CREDIT_CARD"),
    _row("i1", f"router {MAC}", "IP_ADDRESS"),
    _row("p1", "ref 2125550187", "PHONE_NUMBER", ("PHONE_NUMBER", "2125550187")),
    _row("d1", "delivered on 2026-03-14", "DATE_TIME", ("DATE_TIME", "2026-03-14")),
]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_bench("pii", *args)


@pytest.fixture
def cases(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "cases.jsonl", [json.dumps(r) for r in ROWS])


def test_runner_writes_recall_over_masking_lookalikes_and_per_type(cases, tmp_path):
    out = tmp_path / "out" / "pii.json"
    done = _run("--cases", str(cases), "--json", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["n"] == 6 and report["skipped_lines"] == 0
    assert report["span_recall"] == pytest.approx(2 / 3)
    assert report["span_recall_all_types"] == pytest.approx(2 / 4)
    assert report["lookalike_mask_rate"] == pytest.approx(1 / 2)
    assert report["lookalike_same_type_rate"] == 0.0
    outside = sum(len(r["text"]) - sum(s["end"] - s["start"] for s in r["spans"]) for r in ROWS)
    assert report["over_mask_rate"] == pytest.approx(len(MAC) / outside)
    per = report["per_type"]
    assert per["EMAIL_ADDRESS"] == {
        "span_recall": 1.0,
        "n_spans": 1,
        "supported": True,
        "lookalike_rows": 0,
        "lookalikes_masked": 0,
        "lookalikes_masked_as_type": 0,
    }
    assert per["PHONE_NUMBER"]["span_recall"] == 0.0
    assert (per["CREDIT_CARD"]["lookalike_rows"], per["CREDIT_CARD"]["lookalikes_masked"]) == (1, 0)
    assert (per["IP_ADDRESS"]["lookalike_rows"], per["IP_ADDRESS"]["lookalikes_masked"]) == (1, 1)
    assert per["IP_ADDRESS"]["span_recall"] is None
    assert per["DATE_TIME"]["supported"] is False and per["DATE_TIME"]["span_recall"] == 0.0
    assert report["p95_ms"] > 0
    assert "EMAIL_ADDRESS" in done.stdout and "look-alikes masked" in done.stdout


def test_a_malformed_line_and_a_span_outside_the_text_are_reported_and_skipped(tmp_path):
    lines = [json.dumps(r) for r in ROWS]
    lines.insert(2, "{not json")
    lines.insert(
        4, json.dumps({"id": "x", "text": "short", "spans": [{"type": "US_SSN", "start": 2, "end": 40}]})
    )
    cases = write_lines(tmp_path / "messy.jsonl", lines)
    out = tmp_path / "messy.json"
    done = _run("--cases", str(cases), "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "messy.jsonl:3: not JSON" in done.stderr
    assert "messy.jsonl:5: span offsets" in done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(out.read_text())
    assert report["skipped_lines"] == 2 and "2 malformed lines skipped" in done.stdout
    assert report["n"] == 6 and report["span_recall"] == pytest.approx(2 / 3)


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
