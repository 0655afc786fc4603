"""Fault injection per dependency: error rate, added latency, hangs, 429 with Retry-After, bad output.

Used by tests, evals and (dev only) a sidebar toggle. A dependency with no spec costs one dict lookup.
Output corruption (malformed or truncated JSON, empty output) is applied by the caller that knows the
output's shape (`agent.llm` for chat models); this module only draws which fault happens.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Literal

from core.faults import DependencyFault

__all__ = ["ChaosController", "Corruption", "FaultSpec"]

Corruption = Literal["malformed", "truncated", "empty"]


@dataclass(frozen=True)
class FaultSpec:
    """Rates are probabilities per call, drawn in this order; the first that fires wins."""

    error_rate: float = 0.0
    """Fail with a server error (HTTP 500)."""
    rate_limit_rate: float = 0.0
    """Fail with a 429 carrying `retry_after_s`."""
    retry_after_s: float = 1.0
    hang_rate: float = 0.0
    """Block for `hang_s` (or until released), then time out: the caller's deadline must act first."""
    hang_s: float = 30.0
    malformed_rate: float = 0.0
    truncated_rate: float = 0.0
    empty_rate: float = 0.0
    latency_s: float = 0.0
    """Added to every call that gets through."""

    def active(self) -> bool:
        return any(v for k, v in asdict(self).items() if k.endswith("_rate") or k == "latency_s")


@dataclass
class _Entry:
    spec: FaultSpec
    rng: random.Random = field(default_factory=random.Random)


class ChaosController:
    """Which faults each dependency suffers right now; thread-safe and changeable at run time."""

    def __init__(self, *, seed: int | None = None) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._released = threading.Event()
        self.calls: dict[str, int] = {}
        """How many calls each dependency received while a spec was set (for tests and the dev panel)."""

    def set(self, name: str, spec: FaultSpec | None) -> None:
        """Set (or with None, clear) the faults of one dependency."""
        with self._lock:
            if spec is None or not spec.active():
                self._entries.pop(name, None)
            else:
                self._entries[name] = _Entry(spec, random.Random(self._seed))

    def clear(self) -> None:
        """Remove every fault and wake every hung call."""
        with self._lock:
            self._entries.clear()
            self._released.set()
            self._released = threading.Event()

    def specs(self) -> dict[str, FaultSpec]:
        with self._lock:
            return {name: e.spec for name, e in self._entries.items()}

    def _draw(self, name: str) -> tuple[FaultSpec, float, threading.Event] | None:
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return None
            self.calls[name] = self.calls.get(name, 0) + 1
            # The release event is taken with the draw: a clear() after this point must wake this call.
            return entry.spec, entry.rng.random(), self._released

    def before_call(self, name: str) -> Corruption | None:
        """Apply the call-level faults of `name` (raise, hang, delay); return an output corruption."""
        drawn = self._draw(name)
        if drawn is None:
            return None
        spec, r, released = drawn
        edge = 0.0
        fault: str | None = None
        for rate, kind in (
            (spec.error_rate, "server"),
            (spec.rate_limit_rate, "rate_limit"),
            (spec.hang_rate, "hang"),
            (spec.malformed_rate, "malformed"),
            (spec.truncated_rate, "truncated"),
            (spec.empty_rate, "empty"),
        ):
            edge += rate
            if r < edge:
                fault = kind
                break
        if fault == "server":
            raise DependencyFault("server", "HTTP 500 (injected)")
        if fault == "rate_limit":
            raise DependencyFault("rate_limit", "HTTP 429 (injected)", retry_after=spec.retry_after_s)
        if fault == "hang":
            released.wait(spec.hang_s)
            raise DependencyFault("timeout", "hung (injected)")
        if spec.latency_s:
            time.sleep(spec.latency_s)
        if fault in ("malformed", "truncated", "empty"):
            return fault  # type: ignore[return-value]
        return None
