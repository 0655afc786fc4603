"""Circuit breakers per dependency and the health registry the UI and the API read.

A breaker is closed while its dependency works, opens after `failure_threshold` consecutive failures
(timeouts included), and after `cooldown_s` lets one probe through (half-open): the probe's success
closes it, its failure opens it again for another cool-down. Nothing here sleeps or spawns threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from core.chaos import ChaosController, Corruption
from core.faults import DependencyFault, classify

__all__ = ["BreakerSnapshot", "CircuitBreaker", "HealthRegistry", "Mode", "ModeDecision"]

State = Literal["closed", "open", "half_open"]
Mode = Literal["full", "degraded", "minimal", "offline"]
Clock = Callable[[], float]


@dataclass(frozen=True)
class BreakerSnapshot:
    name: str
    state: State
    consecutive_failures: int
    last_error: str | None
    retry_in_s: float | None
    """Seconds until an open breaker lets a probe through; None unless open."""
    total_failures: int
    total_successes: int


class CircuitBreaker:
    """Thread-safe; `clock` is injectable so tests can walk the cool-down without sleeping."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or cooldown_s < 0:
            raise ValueError("failure_threshold must be >= 1 and cooldown_s >= 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._pinned = False
        self._probe_in_flight = False
        self._last_error: str | None = None
        self._total_failures = 0
        self._total_successes = 0

    def _state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._pinned:
            return "open"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    @property
    def state(self) -> State:
        with self._lock:
            return self._state()

    def available(self) -> bool:
        """Could a call be tried now? (Does not take the half-open probe slot.)"""
        with self._lock:
            state = self._state()
            return state == "closed" or (state == "half_open" and not self._probe_in_flight)

    def try_acquire(self) -> bool:
        """Take permission for one call: always when closed, one probe at a time when half-open."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half_open" and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._pinned = False
            self._probe_in_flight = False
            self._total_successes += 1

    def record_failure(self, error: str) -> None:
        """Count a failure; `error` is a short reason (an error kind, never customer text)."""
        with self._lock:
            self._total_failures += 1
            self._last_error = error[:200]
            was_probe = self._probe_in_flight
            self._probe_in_flight = False
            self._failures += 1
            if was_probe or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()

    def release(self) -> None:
        """Give back a probe slot without a verdict (the call was abandoned before it said anything)."""
        with self._lock:
            self._probe_in_flight = False

    def force_open(self, error: str, *, permanent: bool = False) -> None:
        """Open now (a dependency known to be unusable, such as a provider without credentials).

        `permanent` keeps it open with no probe ever (nothing could answer one, e.g. a model never built).
        """
        with self._lock:
            self._failures = max(self._failures, self.failure_threshold)
            self._opened_at = self._clock()
            self._pinned = permanent
            self._last_error = error[:200]

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            state = self._state()
            retry_in = None
            if state == "open" and self._opened_at is not None and not self._pinned:
                retry_in = round(max(0.0, self.cooldown_s - (self._clock() - self._opened_at)), 2)
            return BreakerSnapshot(
                name=self.name,
                state=state,
                consecutive_failures=self._failures,
                last_error=self._last_error,
                retry_in_s=retry_in,
                total_failures=self._total_failures,
                total_successes=self._total_successes,
            )


@dataclass(frozen=True)
class ModeDecision:
    mode: Mode
    reason: str
    """Why this rung, in words an operator (and a customer, in short) can read."""


class HealthRegistry:
    """The breakers of one process, by dependency name, and the last mode the agent served in."""

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Clock = time.monotonic,
        chaos: ChaosController | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.chaos = chaos
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._last: ModeDecision | None = None

    def breaker(self, name: str) -> CircuitBreaker:
        with self._lock:
            if name not in self._breakers:
                self._breakers[name] = CircuitBreaker(
                    name,
                    failure_threshold=self.failure_threshold,
                    cooldown_s=self.cooldown_s,
                    clock=self.clock,
                )
            return self._breakers[name]

    def available(self, name: str) -> bool:
        return self.breaker(name).available()

    @contextmanager
    def call(
        self, name: str, *, counts: Callable[[BaseException], bool] = lambda exc: True
    ) -> Iterator[Corruption | None]:
        """Guard one call to a dependency: refuse while its breaker is open, inject chaos, record the verdict.

        Raises DependencyFault("unavailable") when the breaker refuses. Exceptions from the block propagate
        unchanged; those for which `counts` is false (a customer's own error) are not held against it.
        Yields the output corruption chaos asks for (None normally).
        """
        breaker = self.breaker(name)
        if not breaker.try_acquire():
            raise DependencyFault("unavailable", f"{name} circuit open")
        try:
            corruption = self.chaos.before_call(name) if self.chaos is not None else None
            yield corruption
        except GeneratorExit:
            breaker.release()
            raise
        except BaseException as exc:
            if counts(exc):
                breaker.record_failure(classify(exc).kind)
            else:
                breaker.release()
            raise
        else:
            breaker.record_success()

    def note_mode(self, decision: ModeDecision) -> None:
        with self._lock:
            self._last = decision

    @property
    def last_mode(self) -> ModeDecision | None:
        return self._last

    def snapshot(self) -> list[BreakerSnapshot]:
        with self._lock:
            breakers = list(self._breakers.values())
        return [b.snapshot() for b in sorted(breakers, key=lambda b: b.name)]

    def healthy(self) -> bool:
        return all(s.state == "closed" for s in self.snapshot())
