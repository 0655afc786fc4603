"""Checkpoint retention on a real SQLite checkpointer: the latest checkpoint and its pending writes stay."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from agent.checkpoints import CheckpointJanitor, count_checkpoints, prune_threads, threads_with_history


def _saver(tmp_path: Path) -> SqliteSaver:
    return SqliteSaver(sqlite3.connect(tmp_path / "checkpoints.db", check_same_thread=False))


def _thread(saver: Any, thread_id: str, checkpoints: int) -> RunnableConfig:
    """`checkpoints` checkpoints on the thread, each the child of the one before; the latest's config."""
    config: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    for step in range(checkpoints):
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"step": step}
        checkpoint["channel_versions"] = {"step": step + 1}
        config = saver.put(config, checkpoint, {"step": step}, {"step": step + 1})
    return config


def _ids(saver: Any, thread_id: str) -> list[str]:
    return [
        t.config["configurable"]["checkpoint_id"]
        for t in saver.list({"configurable": {"thread_id": thread_id}})
    ]


def test_pruning_keeps_the_latest_checkpoint_and_its_pending_writes_only(tmp_path):
    saver = _saver(tmp_path)
    latest = _thread(saver, "a", 3)
    older = _ids(saver, "a")[1:]
    saver.put_writes(latest, [("__interrupt__", "waiting for a person")], task_id="task-1")
    saver.put_writes(
        {"configurable": {**latest["configurable"], "checkpoint_id": older[0]}}, [("x", 1)], "t0"
    )
    _thread(saver, "b", 2)
    assert threads_with_history(saver) == ["a", "b"]

    assert prune_threads(saver, ["a"]) == 2

    assert _ids(saver, "a") == [latest["configurable"]["checkpoint_id"]]
    kept = saver.get_tuple({"configurable": {"thread_id": "a"}})
    assert kept is not None and kept.checkpoint["channel_values"] == {"step": 2}
    assert [w[1:] for w in kept.pending_writes or []] == [("__interrupt__", "waiting for a person")]
    with saver.cursor() as cur:  # the older checkpoint's writes went with it
        cur.execute("SELECT count(*) FROM writes WHERE thread_id = 'a'")
        assert cur.fetchone()[0] == 1
    assert len(_ids(saver, "b")) == 2  # other threads are left alone
    assert threads_with_history(saver) == ["b"]
    assert count_checkpoints(saver) == (3, 2)


def test_threads_with_history_pages_by_thread_id(tmp_path):
    saver = _saver(tmp_path)
    for name in ("a", "b", "c"):
        _thread(saver, name, 2)
    _thread(saver, "single", 1)
    assert threads_with_history(saver, limit=2) == ["a", "b"]
    assert threads_with_history(saver, after="b", limit=2) == ["c"]


def test_the_janitor_prunes_what_turns_touched_in_batches_and_waits_for_the_database(tmp_path):
    saver = _saver(tmp_path)
    for name in ("a", "b", "c", "d"):
        _thread(saver, name, 3)
    up = {"database": False}
    janitor = CheckpointJanitor(saver, available=lambda: up["database"])
    for name in ("a", "b", "c"):
        janitor.touched(name)

    down = janitor.sweep()
    assert (down.pruned, down.failed, down.left) == (0, 0, 3)  # nothing tried while the database is away
    assert len(_ids(saver, "a")) == 3

    up["database"] = True
    first = janitor.sweep(batch=1, limit=2)
    assert (first.pruned, first.checkpoints, first.left) == (2, 4, 1)
    second = janitor.sweep()
    assert (second.pruned, second.checkpoints, second.left) == (1, 2, 0)
    assert [len(_ids(saver, t)) for t in ("a", "b", "c", "d")] == [1, 1, 1, 3]  # "d" had no turn here


def test_a_thread_that_cannot_be_pruned_waits_for_the_next_sweep():
    saver = InMemorySaver()  # no retention for this checkpointer: every attempt fails
    _thread(saver, "a", 2)
    janitor = CheckpointJanitor(saver)
    janitor.touched("a")
    result = janitor.sweep()
    assert (result.pruned, result.failed, result.left) == (0, 1, 1)
    assert len(_ids(saver, "a")) == 2
