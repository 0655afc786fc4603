"""Checkpoint retention: each conversation keeps its latest checkpoint only.

LangGraph saves a new checkpoint for every turn (and every step of a resume), each with the whole thread
state: the messages so far, the turn log, the passages. Nothing reads the older ones (no time travel, no
replay), so left alone they grow the database with the square of a conversation's length. The latest
checkpoint and its pending writes (a handoff's interrupt) are all a thread needs, so the rest is deleted:

- in the background: each process remembers the threads its turns wrote, and a sweep every
  CHECKPOINT_PRUNE_S prunes them, each under the conversation's lock (never beside a turn);
- for a backlog (an upgrade, a replica that died before its sweep): `python -m agent.checkpoints prune`
  finds every thread with more than one checkpoint.

PostgreSQL uses the checkpointer's own `prune(strategy="keep_latest")`; SQLite (no such method) runs the
same deletion here.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver

logger = logging.getLogger(__name__)

__all__ = [
    "CheckpointJanitor",
    "Sweep",
    "count_checkpoints",
    "prune_thread",
    "run_janitor",
    "threads_with_history",
]

_SQLITE_PRUNE = (
    # the writes of every checkpoint but each namespace's latest (a pending interrupt sits on the latest)
    """DELETE FROM writes WHERE thread_id = ? AND checkpoint_id <> (
         SELECT max(c.checkpoint_id) FROM checkpoints c
         WHERE c.thread_id = writes.thread_id AND c.checkpoint_ns = writes.checkpoint_ns)""",
    """DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id <> (
         SELECT max(c.checkpoint_id) FROM checkpoints c
         WHERE c.thread_id = checkpoints.thread_id AND c.checkpoint_ns = checkpoints.checkpoint_ns)""",
)


@contextlib.contextmanager
def _cursor(saver: BaseCheckpointSaver) -> Iterator[Any]:
    """A cursor of the checkpointer's own connection (SQLite: under its lock, committed at the end)."""
    if isinstance(saver, SqliteSaver):
        with saver.cursor() as cur:
            yield cur
        return
    cursor = getattr(saver, "_cursor", None)
    if cursor is None:
        raise TypeError(f"no checkpoint retention for {type(saver).__name__}")
    with cursor() as cur:
        yield cur


def _value(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def prune_thread(saver: BaseCheckpointSaver, thread_id: str) -> None:
    """Delete every checkpoint of the thread but the latest of each namespace, with their writes (and on
    PostgreSQL the blobs no kept checkpoint refers to). The thread reads and resumes as before."""
    if isinstance(saver, SqliteSaver):
        with saver.cursor() as cur:
            for sql in _SQLITE_PRUNE:
                cur.execute(sql, (thread_id,))
        return
    prune = getattr(saver, "prune", None)
    if prune is None:
        raise TypeError(f"no checkpoint retention for {type(saver).__name__}")
    prune([thread_id], strategy="keep_latest")


def threads_with_history(saver: BaseCheckpointSaver, *, after: str = "", limit: int = 1000) -> list[str]:
    """Up to `limit` threads, in id order from after `after`, that have more than one checkpoint."""
    mark = "?" if isinstance(saver, SqliteSaver) else "%s"
    sql = (
        f"SELECT thread_id FROM checkpoints WHERE thread_id > {mark} GROUP BY thread_id, checkpoint_ns "
        f"HAVING count(*) > 1 ORDER BY thread_id LIMIT {mark}"
    )
    with _cursor(saver) as cur:
        cur.execute(sql, (after, limit))
        return sorted({str(_value(row)) for row in cur.fetchall()})


def count_checkpoints(saver: BaseCheckpointSaver) -> tuple[int, int]:
    """(checkpoints, threads) stored."""
    with _cursor(saver) as cur:
        cur.execute("SELECT count(*) AS checkpoints, count(DISTINCT thread_id) AS threads FROM checkpoints")
        row = cur.fetchone()
    values = list(row.values()) if isinstance(row, dict) else list(row)
    return int(values[0]), int(values[1])


@dataclass(frozen=True)
class Sweep:
    pruned: int
    """Threads pruned."""
    failed: int
    """Threads that could not be (kept for the next sweep)."""
    left: int
    """Threads still waiting for a sweep (over the batch limit, or failed)."""


class CheckpointJanitor:
    """The threads this process's turns wrote since the last sweep, and the sweep that prunes them.

    `lock(thread_id)` is the conversation lock (a turn never runs beside the pruning of its thread);
    `available()` says whether the database answers (no sweep while it does not: the threads wait)."""

    def __init__(
        self,
        saver: BaseCheckpointSaver,
        *,
        lock: Callable[[str], contextlib.AbstractContextManager[Any]],
        available: Callable[[], bool] = lambda: True,
    ) -> None:
        self.saver = saver
        self._lock = lock
        self._available = available
        self._touched: set[str] = set()
        self._guard = threading.Lock()

    def touched(self, thread_id: str) -> None:
        """A turn or resume wrote this thread's checkpoint."""
        with self._guard:
            self._touched.add(thread_id)

    def waiting(self) -> int:
        with self._guard:
            return len(self._touched)

    def sweep(self, *, limit: int = 1000) -> Sweep:
        """Prune up to `limit` touched threads; a thread that fails waits for the next sweep."""
        if not self._available():
            return Sweep(0, 0, self.waiting())
        with self._guard:
            batch = sorted(self._touched)[:limit]
            self._touched.difference_update(batch)
        pruned = failed = 0
        for thread_id in batch:
            try:
                with self._lock(thread_id):
                    prune_thread(self.saver, thread_id)
                pruned += 1
            except Exception as exc:
                failed += 1
                self.touched(thread_id)
                if failed == 1:
                    logger.warning("checkpoint prune failed for %s (retried next sweep): %r", thread_id, exc)
        if pruned or failed:
            logger.info("checkpoints pruned for %d conversations (%d failed)", pruned, failed)
        return Sweep(pruned, failed, self.waiting())


def run_janitor(janitor: CheckpointJanitor, every_s: float, stop: threading.Event) -> threading.Thread:
    """A daemon thread sweeping every `every_s` seconds until `stop` is set."""

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                janitor.sweep()
            except Exception:
                logger.warning("checkpoint sweep failed", exc_info=True)

    thread = threading.Thread(target=loop, name="checkpoint-janitor", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agent.checkpoints", description="Checkpoint retention (CHECKPOINT_URL)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("stats", help="print how many checkpoints and threads are stored")
    prune = sub.add_parser("prune", help="keep only the latest checkpoint of every conversation")
    prune.add_argument("--batch", type=int, default=500, help="threads looked up and pruned at a time")
    args = parser.parse_args(argv)

    from agent.service import ensure_checkpoint_tables, make_checkpointer
    from core.config import get_settings
    from core.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    saver = make_checkpointer(settings.checkpoint_url)
    ensure_checkpoint_tables(saver)
    before, threads = count_checkpoints(saver)
    if args.command == "stats":
        print(f"{before} checkpoints of {threads} conversations")
        return 0
    pruned = failed = 0
    last = ""
    while batch := threads_with_history(saver, after=last, limit=args.batch):
        for thread_id in batch:
            try:  # a turn meanwhile is safe: each thread is pruned in one transaction, on one snapshot
                prune_thread(saver, thread_id)
                pruned += 1
            except Exception as exc:  # a turn changed it meanwhile: it is pruned by that replica's sweep
                failed += 1
                logger.warning("could not prune %s: %r", thread_id, exc)
        last = batch[-1]
    after, threads = count_checkpoints(saver)
    print(
        f"pruned {pruned} conversations ({failed} failed): {before} checkpoints before, {after} after, "
        f"for {threads} conversations"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
