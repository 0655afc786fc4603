"""Token buckets per key (a customer, a client address), for the HTTP API's per-customer limits.

In-process: each replica keeps its own buckets, so N replicas behind a round-robin balancer allow up to N
times the rate to one customer in the worst case. A shared limiter (Redis, the gateway) is the step up.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """`per_minute` tokens a minute, at most `burst` at once; `take(key)` says allowed or how long to wait."""

    def __init__(
        self,
        *,
        per_minute: float,
        burst: float,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1.0, burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 when a token was taken; otherwise the seconds until one is free (nothing taken)."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:  # the least recently seen keys go first
                self._buckets.popitem(last=False)
            return wait
