"""Checkpoint retention: each conversation keeps its latest checkpoint only.

LangGraph saves a new checkpoint for every turn (and every step of a resume), each with the whole thread
state: the messages so far, the turn log, the passages. Nothing reads the older ones (no time travel, no
replay), so left alone they grow the database with the square of a conversation's length. The latest
checkpoint and its pending writes (a handoff's interrupt) are all a thread needs, so the rest is deleted:

- in the background: each process remembers the threads its turns wrote, and a sweep every
  CHECKPOINT_PRUNE_S prunes them, a batch at a time in a few statements;
- for a backlog (an upgrade, a replica that died before its sweep): `python -m agent.checkpoints prune`
  finds every thread with more than one checkpoint.

A prune needs no lock against a turn on the same thread: it deletes only what is older than the latest
checkpoint it can see (checkpoints, their writes, and blob versions older than the ones the latest refers
to), and whatever a running turn writes is newer than that. The kept checkpoint's parent id may then name a
deleted checkpoint; nothing here follows it. (LangGraph's own `prune(strategy="keep_latest")` does the same
thread by thread, in about ten statements each and only on PostgreSQL; the graph has no DeltaChannel, which
would need the older checkpoints.)
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver

logger = logging.getLogger(__name__)

__all__ = [
    "CheckpointJanitor",
    "Sweep",
    "count_checkpoints",
    "payload_bytes",
    "prune_threads",
    "threads_with_history",
]

# Each statement deletes only what is older than the latest checkpoint of the thread and namespace.
_POSTGRES_LATEST = """SELECT thread_id, checkpoint_ns, max(checkpoint_id) AS latest FROM checkpoints
         WHERE thread_id = ANY(%(threads)s) GROUP BY thread_id, checkpoint_ns"""
_POSTGRES_OLDER = """x.thread_id = k.thread_id AND x.checkpoint_ns = k.checkpoint_ns
         AND x.checkpoint_id < k.latest"""
_POSTGRES_PRUNE = (
    f"DELETE FROM checkpoint_writes x USING ({_POSTGRES_LATEST}) k WHERE {_POSTGRES_OLDER}",
    # the blob versions the latest checkpoint refers to, and newer ones (a turn saving meanwhile), stay
    """DELETE FROM checkpoint_blobs b USING (
         SELECT DISTINCT ON (thread_id, checkpoint_ns) thread_id, checkpoint_ns,
                checkpoint -> 'channel_versions' AS versions
         FROM checkpoints WHERE thread_id = ANY(%(threads)s)
         ORDER BY thread_id, checkpoint_ns, checkpoint_id DESC) k
       WHERE b.thread_id = k.thread_id AND b.checkpoint_ns = k.checkpoint_ns
         AND b.version < (k.versions ->> b.channel)""",
    f"DELETE FROM checkpoints x USING ({_POSTGRES_LATEST}) k WHERE {_POSTGRES_OLDER}",
)
_SQLITE_PRUNE = (
    """DELETE FROM writes WHERE thread_id IN ({marks}) AND checkpoint_id < (
         SELECT max(c.checkpoint_id) FROM checkpoints c
         WHERE c.thread_id = writes.thread_id AND c.checkpoint_ns = writes.checkpoint_ns)""",
    """DELETE FROM checkpoints WHERE thread_id IN ({marks}) AND checkpoint_id < (
         SELECT max(c.checkpoint_id) FROM checkpoints c
         WHERE c.thread_id = checkpoints.thread_id AND c.checkpoint_ns = checkpoints.checkpoint_ns)""",
)


@contextlib.contextmanager
def _cursor(saver: BaseCheckpointSaver) -> Iterator[Any]:
    """A cursor of the checkpointer's own connection (SQLite: under its lock, committed at the end)."""
    if isinstance(saver, SqliteSaver):
        with saver.cursor() as cur:
            yield cur
    elif isinstance(saver, PostgresSaver):
        with saver._cursor() as cur:
            yield cur
    else:
        raise TypeError(f"no checkpoint retention for {type(saver).__name__}")


def _values(row: Any) -> list[Any]:
    """A row's values in column order, from either driver (psycopg here gives dicts, sqlite3 tuples)."""
    return list(row.values()) if isinstance(row, dict) else list(row)


def prune_threads(saver: BaseCheckpointSaver, thread_ids: Sequence[str]) -> int:
    """Delete every checkpoint of these threads but the latest of each namespace, with their writes (and
    on PostgreSQL the blobs only they referred to); the threads read and resume as before. Returns how
    many checkpoints went."""
    threads = sorted({str(t) for t in thread_ids})
    if not threads:
        return 0
    with _cursor(saver) as cur:
        if isinstance(saver, SqliteSaver):
            marks = ", ".join("?" * len(threads))
            for sql in _SQLITE_PRUNE:
                cur.execute(sql.format(marks=marks), threads)
        else:
            for sql in _POSTGRES_PRUNE:
                cur.execute(sql, {"threads": threads})
        return max(0, int(cur.rowcount))  # the last statement deletes the checkpoints


def threads_with_history(saver: BaseCheckpointSaver, *, after: str = "", limit: int = 1000) -> list[str]:
    """Up to `limit` threads, in id order from after `after`, that have more than one checkpoint."""
    mark = "?" if isinstance(saver, SqliteSaver) else "%s"
    sql = (
        f"SELECT thread_id FROM checkpoints WHERE thread_id > {mark} GROUP BY thread_id, checkpoint_ns "
        f"HAVING count(*) > 1 ORDER BY thread_id LIMIT {mark}"
    )
    with _cursor(saver) as cur:
        cur.execute(sql, (after, limit))
        return sorted({str(_values(row)[0]) for row in cur.fetchall()})


def count_checkpoints(saver: BaseCheckpointSaver) -> tuple[int, int]:
    """(checkpoints, threads) stored."""
    with _cursor(saver) as cur:
        cur.execute("SELECT count(*) AS checkpoints, count(DISTINCT thread_id) AS threads FROM checkpoints")
        checkpoints, threads = _values(cur.fetchone())
    return int(checkpoints), int(threads)


_PAYLOAD_SQL = {
    "sqlite": (
        "SELECT coalesce(sum(length(checkpoint) + length(metadata)), 0) FROM checkpoints",
        "SELECT coalesce(sum(length(value)), 0) FROM writes",
    ),
    "postgres": (
        "SELECT coalesce(sum(pg_column_size(checkpoint) + pg_column_size(metadata)), 0) AS n"
        " FROM checkpoints",
        "SELECT coalesce(sum(pg_column_size(blob)), 0) AS n FROM checkpoint_blobs",
        "SELECT coalesce(sum(pg_column_size(blob)), 0) AS n FROM checkpoint_writes",
    ),
}


def payload_bytes(saver: BaseCheckpointSaver) -> int:
    """Bytes of checkpoint data stored (PostgreSQL: as compressed), the tables' free space aside."""
    total = 0
    with _cursor(saver) as cur:
        for sql in _PAYLOAD_SQL["sqlite" if isinstance(saver, SqliteSaver) else "postgres"]:
            cur.execute(sql)
            total += int(_values(cur.fetchone())[0] or 0)
    return total


@dataclass(frozen=True)
class Sweep:
    pruned: int
    """Threads pruned."""
    checkpoints: int
    """Checkpoints deleted."""
    failed: int
    """Threads that could not be (kept for the next sweep)."""
    left: int
    """Threads still waiting for a sweep (over the batch limit, or failed)."""


class CheckpointJanitor:
    """The threads this process's turns wrote since the last sweep, and the sweep that prunes them.

    `available()` says whether the database answers: while it does not, no sweep is tried and the threads
    wait for the next one."""

    def __init__(self, saver: BaseCheckpointSaver, *, available: Callable[[], bool] = lambda: True) -> None:
        self.saver = saver
        self._available = available
        self._touched: set[str] = set()
        self._guard = threading.Lock()
        self.deleted = 0
        """Checkpoints deleted by this process's sweeps so far."""
        self.failures = 0
        """Threads whose prune failed (each was retried at the next sweep)."""

    def touched(self, thread_id: str) -> None:
        """A turn or resume writes this thread's checkpoint."""
        with self._guard:
            self._touched.add(thread_id)

    def waiting(self) -> int:
        with self._guard:
            return len(self._touched)

    def sweep(self, *, batch: int = 200, limit: int = 5000) -> Sweep:
        """Prune up to `limit` touched threads, `batch` at a time; a failed batch waits for the next sweep."""
        if not self._available():
            return Sweep(0, 0, 0, self.waiting())
        with self._guard:
            chosen = sorted(self._touched)[:limit]
            self._touched.difference_update(chosen)
        pruned = deleted = failed = 0
        for start in range(0, len(chosen), batch):
            threads = chosen[start : start + batch]
            try:
                deleted += prune_threads(self.saver, threads)
                pruned += len(threads)
            except Exception as exc:
                if not failed:
                    logger.warning("checkpoint prune failed (retried next sweep): %r", exc)
                failed += len(threads)
                with self._guard:
                    self._touched.update(threads)
        with self._guard:
            self.deleted += deleted
            self.failures += failed
        if deleted or failed:
            logger.info("pruned %d checkpoints of %d conversations (%d failed)", deleted, pruned, failed)
        return Sweep(pruned, deleted, failed, self.waiting())


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
    saver = make_checkpointer(settings.checkpoint_url)  # an operator's tool: no statement limit (a backlog)
    ensure_checkpoint_tables(saver)
    before, threads = count_checkpoints(saver)
    before_kb = payload_bytes(saver) / 1024
    if args.command == "stats":
        print(f"{before} checkpoints of {threads} conversations, {before_kb:.0f} KB of data")
        return 0
    pruned = 0
    last = ""
    while batch := threads_with_history(saver, after=last, limit=args.batch):
        prune_threads(saver, batch)  # safe beside serving replicas: only what a turn superseded goes
        pruned += len(batch)
        last = batch[-1]
    after, threads = count_checkpoints(saver)
    print(
        f"pruned {pruned} conversations: {before} checkpoints ({before_kb:.0f} KB) before, {after} "
        f"({payload_bytes(saver) / 1024:.0f} KB) after, for {threads} conversations"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
