"""The durable local queue used while the database is down: `core.spool`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.config import PROJECT_ROOT
from core.spool import Spool


class DatabaseDown(Exception):
    pass


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool" / "pending.jsonl")


def test_an_empty_spool_has_nothing_pending_and_creates_no_file(spool):
    assert spool.pending() == []
    assert len(spool) == 0
    assert not spool.path.exists()


def test_appended_entries_are_pending_oldest_first(spool):
    spool.append({"kind": "conversation", "n": 1})
    spool.append({"kind": "turn", "n": 2, "text": "Où est ma commande ? 📦"})
    assert spool.pending() == [
        {"kind": "conversation", "n": 1},
        {"kind": "turn", "n": 2, "text": "Où est ma commande ? 📦"},
    ]
    assert len(spool) == 2


def test_entries_survive_a_new_spool_object_on_the_same_file(spool):
    spool.append({"n": 1})
    assert Spool(spool.path).pending() == [{"n": 1}]


def test_each_entry_is_one_line_even_with_newlines_in_its_text(spool):
    spool.append({"text": "line one\nline two\r\nline\u2028three"})
    assert spool.path.read_text(encoding="utf-8").count("\n") == 1
    assert spool.pending() == [{"text": "line one\nline two\r\nline\u2028three"}]


def test_values_json_cannot_hold_are_stored_as_text(spool):
    spool.append({"at": Path("/x/y")})
    assert spool.pending() == [{"at": "/x/y"}]


def test_replay_applies_every_entry_in_order_and_empties_the_spool(spool):
    for n in range(3):
        spool.append({"n": n})
    applied: list[int] = []
    assert spool.replay(lambda e: applied.append(e["n"])) == 3
    assert applied == [0, 1, 2]
    assert spool.pending() == []


def test_replay_stops_at_the_first_failure_and_keeps_the_rest_in_order(spool):
    for n in range(5):
        spool.append({"n": n})
    applied: list[int] = []

    def handler(entry):
        if entry["n"] == 2:
            raise DatabaseDown()
        applied.append(entry["n"])

    assert spool.replay(handler) == 2
    assert applied == [0, 1]
    assert spool.pending() == [{"n": 2}, {"n": 3}, {"n": 4}]


def test_replay_failing_on_the_first_entry_changes_nothing(spool):
    spool.append({"n": 0})
    before = spool.path.read_bytes()

    def handler(entry):
        raise DatabaseDown()

    assert spool.replay(handler) == 0
    assert spool.path.read_bytes() == before


def test_entries_appended_after_a_partial_replay_come_after_the_kept_ones(spool):
    for n in range(3):
        spool.append({"n": n})

    def handler(entry):
        if entry["n"] == 1:
            raise DatabaseDown()

    spool.replay(handler)
    spool.append({"n": 3})
    assert [e["n"] for e in spool.pending()] == [1, 2, 3]


def test_replay_of_an_empty_spool_applies_nothing(spool):
    assert spool.replay(lambda e: None) == 0


def test_a_torn_line_is_skipped_and_the_others_are_read(spool):
    spool.append({"n": 1})
    with open(spool.path, "a", encoding="utf-8") as f:
        f.write('{"n": 2, "text": "half\n')
    spool.append({"n": 3})
    assert spool.pending() == [{"n": 1}, {"n": 3}]


def test_an_entry_appended_after_a_crash_mid_line_is_not_lost(spool):
    """A crash can leave a line without its newline; the next acknowledged entry must not join it."""
    spool.append({"n": 1})
    with open(spool.path, "a", encoding="utf-8") as f:
        f.write('{"n": 2, "te')
    spool.append({"n": 3})
    assert spool.pending() == [{"n": 1}, {"n": 3}]


def test_a_crash_in_the_middle_of_a_multibyte_character_does_not_make_the_spool_unreadable(spool):
    spool.append({"n": 1})
    torn = json.dumps({"n": 2, "text": "café"}, ensure_ascii=False).encode()
    with open(spool.path, "ab") as f:
        f.write(torn[: torn.index("é".encode()) + 1])  # the first byte of a two-byte character
    spool.append({"n": 3})
    assert spool.pending() == [{"n": 1}, {"n": 3}]
    assert spool.replay(lambda e: None) == 2
    assert spool.pending() == []


def test_replay_drops_torn_lines_when_it_rewrites_the_file(spool):
    spool.append({"n": 1})
    with open(spool.path, "a", encoding="utf-8") as f:
        f.write("garbage\n")
    spool.append({"n": 2})
    assert spool.replay(lambda e: None) == 2
    assert spool.path.read_text(encoding="utf-8") == ""


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from core.spool import Spool

    spool = Spool(Path(sys.argv[1]))
    worker = int(sys.argv[2])
    for n in range(int(sys.argv[3])):
        spool.append({"worker": worker, "n": n, "pad": "x" * 9000})
    """
)


def test_concurrent_appends_from_several_processes_lose_nothing_and_tear_nothing(spool):
    workers, each = 4, 40  # 9 kB lines: more than one page each
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(spool.path), str(w), str(each)], cwd=PROJECT_ROOT
        )
        for w in range(workers)
    ]
    assert all(p.wait(timeout=30) == 0 for p in procs)
    lines = spool.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == workers * each
    entries = [json.loads(line) for line in lines]  # raises if any line is torn or interleaved
    for w in range(workers):
        assert [e["n"] for e in entries if e["worker"] == w] == list(range(each))
    assert all(len(e["pad"]) == 9000 for e in entries)


def test_entries_appended_by_other_processes_while_replaying_are_never_lost(spool):
    workers, each = 3, 60
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(spool.path), str(w), str(each)], cwd=PROJECT_ROOT
        )
        for w in range(workers)
    ]
    applied: list[tuple[int, int]] = []
    while any(p.poll() is None for p in procs):
        spool.replay(lambda e: applied.append((e["worker"], e["n"])))
    assert all(p.wait(timeout=30) == 0 for p in procs)
    spool.replay(lambda e: applied.append((e["worker"], e["n"])))
    assert sorted(applied) == [(w, n) for w in range(workers) for n in range(each)]


def test_counting_the_entries_does_not_wait_for_a_replay_in_progress(spool):
    import threading
    import time

    for n in range(3):
        spool.append({"n": n})
    started, release = threading.Event(), threading.Event()

    def slow(entry: dict) -> None:  # a database write that takes its time
        started.set()
        release.wait(5)

    replay = threading.Thread(target=spool.replay, args=(slow,), daemon=True)
    replay.start()
    try:
        assert started.wait(5)
        t0 = time.monotonic()
        assert len(spool) == 3
        assert time.monotonic() - t0 < 1  # not held up by the replay's lock
    finally:
        release.set()
        replay.join(5)
    assert len(spool) == 0


def test_a_torn_last_line_is_not_counted(spool):
    spool.append({"n": 1})
    with open(spool.path, "ab") as f:
        f.write(b'{"n": 2, "te')  # a crash mid-write
    assert len(spool) == 1 and [e["n"] for e in spool.pending()] == [1]


def test_a_new_file_and_a_replay_s_rename_are_synced_in_their_directory_too(spool, monkeypatch):
    """An fsynced file whose directory entry is not on disk can vanish in a power loss: the spool syncs the
    directory after creating its file and after a replay renames the rewritten one into place."""
    import os
    import stat

    synced_dirs: list[str] = []
    fsync = os.fsync

    def recording(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            synced_dirs.append("dir")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    spool.append({"n": 1})
    assert synced_dirs == ["dir"]  # the file was created
    spool.append({"n": 2})
    assert synced_dirs == ["dir"]  # appending to it changes no directory entry

    def first_only(entry: dict[str, int]) -> None:
        if entry["n"] != 1:
            raise DatabaseDown

    spool.replay(first_only)
    assert synced_dirs == ["dir", "dir"]  # the rewrite (entry 2 left) was renamed into place


def test_a_replay_that_need_not_wait_steps_aside_while_another_process_holds_the_spool(spool):
    """The spool may be shared by replicas: a turn's replay does not wait behind another process's."""
    import fcntl

    spool.append({"n": 1})
    with open(spool._lock_path, "a") as other:  # another open file description: as another process would
        fcntl.flock(other, fcntl.LOCK_EX)
        try:
            assert spool.replay(lambda entry: None, wait=False) == 0
        finally:
            fcntl.flock(other, fcntl.LOCK_UN)
    assert len(spool) == 1
    assert spool.replay(lambda entry: None, wait=False) == 1


def test_a_file_system_that_cannot_sync_a_directory_still_takes_entries(spool, monkeypatch):
    import errno
    import os
    import stat

    fsync = os.fsync

    def no_directories(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", no_directories)
    spool.append({"n": 1})
    assert [e["n"] for e in spool.pending()] == [1]
