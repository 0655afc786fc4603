"""The process's garbage collector: the heap built at start-up is frozen out of collections, and every
collection's pause is recorded for /metrics.

A replica's start-up heap (the libraries, the embedding model, the knowledge base) is ~330k objects that live
as long as the process. CPython's full collections walked all of them, holding the GIL for 100-230 ms each, a
few times a minute under load: every turn in the replica stood still meanwhile. Frozen (`gc.freeze`), they are
never scanned again; a full collection walks what was made since (~20k objects, 15-30 ms).
"""

from __future__ import annotations

import gc
import threading
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["BUCKETS_S", "GcPauses", "frozen_objects", "pauses", "settle"]

# Upper bounds of the pause histogram (seconds); a last bucket takes the rest.
BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5)
_GENERATIONS = 3

_lock = threading.Lock()
_pauses: GcPauses | None = None


@dataclass
class GcPauses:
    """Collections and their pauses by generation since `pauses()` was first called in this process.

    The callback runs inside the collector, which holds the GIL and never runs twice at once: it only adds to
    preallocated lists (no lock, which a collection triggered while that lock is held would deadlock on)."""

    counts: list[list[int]] = field(
        default_factory=lambda: [[0] * (len(BUCKETS_S) + 1) for _ in range(_GENERATIONS)]
    )
    seconds: list[float] = field(default_factory=lambda: [0.0] * _GENERATIONS)
    clock: Callable[[], float] = time.perf_counter
    _started: float = 0.0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = self.clock()
            return
        if not self._started:
            return
        took = self.clock() - self._started
        self._started = 0.0
        generation = min(info.get("generation", _GENERATIONS - 1), _GENERATIONS - 1)
        self.counts[generation][bisect_left(BUCKETS_S, took)] += 1
        self.seconds[generation] += took


def pauses() -> GcPauses:
    """This process's recorder, hooked into the collector on the first call."""
    global _pauses
    with _lock:
        if _pauses is None:
            _pauses = GcPauses()
            gc.callbacks.append(_pauses.callback)
        return _pauses


def settle() -> int:
    """Collect what start-up left behind, then freeze everything still alive out of future collections.
    Call once the process has built what it keeps for its lifetime; returns the objects frozen.

    The price: a frozen object that later becomes part of a garbage cycle is never collected (say the first
    knowledge-base index, replaced at a publish). That is bounded by the start-up heap, and
    `support_gc_frozen_objects` shows it."""
    with _lock:
        gc.collect()
        gc.freeze()
        return gc.get_freeze_count()


def frozen_objects() -> int:
    """Objects in the frozen generation now (0 before any `settle`): one walk of that list, ~1 ms."""
    return gc.get_freeze_count()
