"""The garbage collector's pause recorder and the start-up freeze (core.heap)."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

from core import heap


def test_each_collection_is_counted_in_its_generation_and_pause_bucket() -> None:
    pauses = heap.pauses()
    assert heap.pauses() is pauses  # one recorder per process, hooked once
    assert gc.callbacks.count(pauses.callback) == 1
    before = [sum(c) for c in pauses.counts], list(pauses.seconds)
    gc.collect(0)
    gc.collect(2)
    counts = [sum(c) for c in pauses.counts]
    assert counts[0] >= before[0][0] + 1 and counts[2] >= before[0][2] + 1
    assert pauses.seconds[2] > before[1][2]


def test_a_pause_lands_in_the_first_bucket_that_holds_it() -> None:
    clock = iter([10.0, 10.003, 20.0, 20.7])
    recorder = heap.GcPauses(clock=lambda: next(clock))
    recorder.callback("start", {"generation": 1})
    recorder.callback("stop", {"generation": 1})
    recorder.callback("start", {"generation": 2})
    recorder.callback("stop", {"generation": 2})
    assert recorder.counts[1][heap.BUCKETS_S.index(0.005)] == 1  # 3 ms: not under 2.5 ms, under 5 ms
    assert recorder.counts[2][-1] == 1  # 700 ms: past every bound
    assert round(recorder.seconds[1], 6) == 0.003 and round(recorder.seconds[2], 6) == 0.7
    recorder.callback("stop", {"generation": 0})  # a stop without its start (hooked mid-collection): ignored
    assert sum(recorder.counts[0]) == 0


def test_settle_collects_start_up_garbage_then_freezes_the_rest() -> None:
    """In a fresh interpreter: the freeze must not keep a garbage cycle alive, and freezes what is left."""
    script = textwrap.dedent(
        """
        import gc, weakref
        from core import heap

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        kept = Node()
        del a, b
        frozen = heap.settle()
        assert gone() is None, "a cycle left at start-up was frozen instead of collected"
        assert frozen > 1_000 and heap.frozen_objects() > 1_000
        walked = gc.get_objects()  # what a collection still scans
        assert gc.is_tracked(kept) and all(kept is not o for o in walked) and len(walked) < frozen / 10
        print(frozen)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) > 1_000
