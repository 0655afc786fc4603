"""A durable local queue for what must not be lost while the database is down.

Entries are JSON lines appended under an exclusive file lock and fsynced before `append` returns, so a
crash right after cannot lose them. `replay` hands entries, oldest first, to a handler that must be
idempotent; it stops at the first failure (the database is still down) and keeps the rest for next time.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["Spool"]

logger = logging.getLogger(__name__)


def _line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, default=str, separators=(",", ":")) + "\n"


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_suffix(path.suffix + ".lock")

    @contextlib.contextmanager
    def _locked(self, *, wait: bool = True) -> Iterator[bool]:
        """Hold the spool's lock (yields True); with `wait=False`, yields False at once when another
        process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, entry: dict[str, Any]) -> None:
        """Store one entry durably (written and fsynced before returning, with the directory entry of a file
        it had to create)."""
        line = _line(entry).encode("utf-8")
        with self._locked():
            created = not self.path.exists()
            with open(self.path, "ab+") as f:
                if f.seek(0, os.SEEK_END) > 0:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        # A crash left a torn last line: end it, or this entry would join it and be lost too.
                        line = b"\n" + line
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            if created:
                self._sync_directory()

    def _sync_directory(self) -> None:
        """A new or renamed file survives a power loss only once its directory is on disk too."""
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError as exc:  # some file systems (FUSE, network) cannot sync a directory: the file is
            if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # synced already, so that is as far as it goes
                raise
        finally:
            os.close(fd)

    def _read(self, *, report: bool = True) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        entries: list[dict[str, Any]] = []
        # errors="replace": a torn multi-byte character must spoil only its own line, not the whole file.
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    # A torn line from a crash mid-write: it was never acknowledged; keep reading.
                    if report:
                        logger.error("spool %s line %d unreadable; skipped", self.path, n)
        return entries

    def pending(self) -> list[dict[str, Any]]:
        with self._locked():
            return self._read()

    def set_aside(self, entry: dict[str, Any], *, reason: str) -> None:
        """Keep an entry that can never be applied in a dead-letter file beside the spool, for a person."""
        dead = self.path.with_name(self.path.stem + ".dead.jsonl")
        with open(dead, "a", encoding="utf-8") as f:
            f.write(_line({**entry, "set_aside_because": reason}))
            f.flush()
            os.fsync(f.fileno())

    def __len__(self) -> int:
        """Entries waiting, counted without the lock: a replay holds the lock while it writes every entry to
        the database, and a health check or /metrics must not wait for that. A replay's rewrite is an atomic
        rename; a line still being written (or torn by a crash) does not parse, is not counted, and is not
        reported here (a reader under the lock reports it)."""
        return len(self._read(report=False))

    def replay(self, handler: Callable[[dict[str, Any]], None], *, wait: bool = True) -> int:
        """Apply entries oldest first; remove those applied. Returns how many were applied. `wait=False`:
        0 at once while another process holds the spool (its replay, or an append)."""
        with self._locked(wait=wait) as held:
            if not held:
                return 0
            entries = self._read()
            done = 0
            for entry in entries:
                try:
                    handler(entry)
                except Exception:
                    logger.warning(
                        "spool replay stopped after %d of %d entries", done, len(entries), exc_info=True
                    )
                    break
                done += 1
            if done:
                rest = entries[done:]
                tmp = self.path.with_suffix(self.path.suffix + ".tmp")
                with open(tmp, "w", encoding="utf-8") as f:
                    for entry in rest:
                        f.write(
                            json.dumps(entry, ensure_ascii=False, default=str, separators=(",", ":")) + "\n"
                        )
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
                self._sync_directory()
            return done
