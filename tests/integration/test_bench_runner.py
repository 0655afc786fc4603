"""`python -m evals.bench retrieval` on small files of the benchmark shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.bench.__main__ import main

pytestmark = pytest.mark.slow

KB = [
    {
        "id": "h/1/faq/0",
        "title": "Is parking free at Quillfeather Inn?",
        "text": "Parking at Quillfeather Inn is free.",
        "metadata": {"domain": "hotel", "entity": "QUILLFEATHER INN", "type": "faq"},
    },
    {
        "id": "h/1/faq/1",
        "title": "Are pets allowed?",
        "text": "No pets are allowed at Quillfeather Inn.",
        "metadata": {"domain": "hotel", "entity": "QUILLFEATHER INN", "type": "faq"},
    },
    {
        "id": "h/2/faq/0",
        "title": "Is parking free at Marrowby Lodge?",
        "text": "Parking at Marrowby Lodge costs 10 pounds.",
        "metadata": {"domain": "hotel", "entity": "MARROWBY LODGE", "type": "faq"},
    },
    {
        "id": "h/2/faq/1",
        "title": "Are pets allowed?",
        "text": "Dogs are welcome at Marrowby Lodge.",
        "metadata": {"domain": "hotel", "entity": "MARROWBY LODGE", "type": "faq"},
    },
]
QUERIES = [
    {
        "id": "q1",
        "history": [
            {"role": "customer", "text": "I need a room."},
            {"role": "agent", "text": "Marrowby Lodge has rooms free."},
        ],
        "query": "Can I bring my dog there?",
        "answerable": True,
        "gold_ids": ["h/2/faq/1"],
    },
    {
        "id": "q2",
        "history": [],
        "query": "Is parking free at Quillfeather Inn?",
        "answerable": True,
        "gold_ids": ["h/1/faq/0"],
    },
    {
        "id": "q3",
        "history": [],
        "query": "Book it for 3 nights from Friday, please.",
        "answerable": False,
        "gold_ids": [],
    },
]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_runner_prints_and_writes_every_figure_with_baselines(tmp_path, capsys):
    kb, queries, out = (
        _jsonl(tmp_path / "kb.jsonl", KB),
        _jsonl(tmp_path / "q.jsonl", QUERIES),
        tmp_path / "r.json",
    )
    code = main(
        [
            "retrieval",
            "--kb",
            str(kb),
            "--queries",
            str(queries),
            "--json",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    keys = {
        "hit_at_1",
        "hit_at_5",
        "mrr",
        "answerable_precision",
        "answerable_recall",
        "p50_ms",
        "p95_ms",
        "n",
    }
    assert keys <= set(report)
    assert keys <= set(report["baselines"]["bm25"]) and keys <= set(report["baselines"]["dense"])
    assert report["n"] == 2
    assert report["hit_at_1"] == 1.0  # the dog question needs the lodge named two turns earlier
    assert "ratio vs dense" in capsys.readouterr().out


def test_runner_rejects_a_malformed_file_with_a_clear_message(tmp_path, capsys):
    kb = tmp_path / "kb.jsonl"
    kb.write_text('{"id": "a", "text": "ok"}\nnot json\n')
    queries = _jsonl(tmp_path / "q.jsonl", QUERIES)
    code = main(["retrieval", "--kb", str(kb), "--queries", str(queries), "--cache-dir", str(tmp_path / "c")])
    assert code == 2
    assert "kb.jsonl:2: not JSON" in capsys.readouterr().err


def test_runner_rejects_a_missing_file(tmp_path, capsys):
    code = main(["retrieval", "--kb", str(tmp_path / "nope.jsonl"), "--queries", str(tmp_path / "q.jsonl")])
    assert code == 2
    assert "is not a file" in capsys.readouterr().err


def test_ladder_benchmark_prints_overhead_and_failover_figures(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HISTORY_MAX_MESSAGES", "8")
    out = tmp_path / "ladder.json"
    assert main(["ladder", "--turns", "4", "--timeout", "0.3", "--long-turns", "12", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    long = report["long_conversation"]
    assert long["turns"] == 12 and long["cpu_ms_last"]["n"] == 4 and long["cpu_ms_last"]["p50"] > 0
    assert long["history_max_messages"] == 8 and long["thread_messages"] <= 8
    assert (long["checkpoints_before_sweep"], long["checkpoints_after_sweep"]) == (12, 1)
    assert long["checkpoint_kb_after_sweep"] < long["checkpoint_kb_before_sweep"]
    assert report["modes"] == {"full": 4}
    assert report["overhead_ms"]["n"] == 4 and report["overhead_ms"]["p95"] > 0
    assert report["failover_modes"] == {"degraded": 5}
    assert report["hang_to_minimal_modes"] == {"minimal": 5}
    # the hung primary is abandoned at its timeout, not waited out (it would take 30 x the timeout)
    assert report["failover_ms"]["max"] < 0.3 * 1000 * 5
    printed = capsys.readouterr().out
    assert "non-LLM overhead per turn" in printed and "failover (primary hangs)" in printed
    assert "long conversation, 12 turns" in printed


def test_ladder_benchmark_rejects_nonsense_arguments(capsys):
    assert main(["ladder", "--turns", "0"]) == 2
    assert "--turns" in capsys.readouterr().err
    assert main(["ladder", "--long-turns", "-1"]) == 2
