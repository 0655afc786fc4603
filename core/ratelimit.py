"""Token buckets per key (a customer, a client address), for the HTTP API's per-customer limits.

`RateLimiter` keeps its buckets in the process: it answers without a round trip, so each replica turns a
flood away cheaply. On PostgreSQL the same limit also holds across replicas: `take_shared` keeps one bucket
per key in the `rate_buckets` table, by the database server's clock, so N replicas behind a round-robin
balancer allow a customer the configured rate, not N times it. When the database does not answer, each
replica's own buckets decide alone.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import sqlalchemy as sa

__all__ = [
    "RateLimited",
    "RateLimiter",
    "shared_bucket_cte",
    "shared_key",
    "shared_params",
    "sweep_shared",
    "take_shared",
    "waiting_shared",
]


class RateLimited(Exception):
    """The shared bucket was empty: nothing was stored; `wait` seconds until a token is free."""

    def __init__(self, limiter: RateLimiter, wait: float) -> None:
        super().__init__(f"{limiter.name}: wait {wait:.1f} s")
        self.limiter, self.wait = limiter, wait


class RateLimiter:
    """`per_minute` tokens a minute, at most `burst` at once; `take(key)` says allowed or how long to wait."""

    def __init__(
        self,
        name: str,
        *,
        per_minute: float,
        burst: float,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        """Names the limit's buckets in the shared table (`messages`, `logins`)."""
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
                wait = self.wait_for(tokens)
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:  # the least recently seen keys go first
                self._buckets.popitem(last=False)
            return wait

    def waiting(self, key: str) -> float:
        """0.0 when `key` has a token now; otherwise the seconds until it has one. Takes nothing."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        return 0.0 if tokens >= 1.0 else self.wait_for(tokens)

    def wait_for(self, tokens: float) -> float:
        """Seconds until a bucket holding `tokens` (fewer than one) has one."""
        return max(0.0, (1.0 - float(tokens)) / self.rate)

    @property
    def full_after_s(self) -> float:
        """An empty bucket is full again after this long: one idle longer is as good as none."""
        return self.burst / self.rate


_NOW = "EXTRACT(EPOCH FROM now())::float8"
_REFILLED = f"LEAST(:burst, b.tokens + GREATEST(0, {_NOW} - b.at) * :rate)"
_TAKE = sa.text(
    f"""
    INSERT INTO rate_buckets AS b (key, tokens, at, taken) VALUES (:key, :burst - 1, {_NOW}, true)
    ON CONFLICT (key) DO UPDATE SET
        taken = {_REFILLED} >= 1,
        tokens = {_REFILLED} - CASE WHEN {_REFILLED} >= 1 THEN 1 ELSE 0 END,
        at = {_NOW}
    RETURNING taken, tokens
    """
)
"""One statement, atomic on its own: concurrent requests for one key, on any replica, queue on its row."""
_PEEK = sa.text(f"SELECT {_REFILLED} AS tokens FROM rate_buckets AS b WHERE b.key = :key")
"""A bucket's tokens now, taking none (no row: a full bucket)."""
_SWEEP = sa.text(f"DELETE FROM rate_buckets WHERE at < {_NOW} - :idle_s")
_KEY_MAX = 240


def shared_key(limit: str, key: str) -> str:
    """The table's key for one limit's bucket: `messages:<customer id>`; a long one is shortened to a hash."""
    full = f"{limit}:{key}"
    if len(full) <= _KEY_MAX:
        return full
    return f"{limit}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def shared_bucket_cte() -> sa.CTE:
    """`_TAKE` as a CTE (`bucket`, with `taken`) for a statement that stores something only when a token was
    taken: the limit costs no round trip of its own. Its parameters: `shared_params`."""
    return _TAKE.columns(sa.column("taken", sa.Boolean), sa.column("tokens", sa.Float)).cte("bucket")


def shared_params(limiter: RateLimiter, key: str) -> dict[str, object]:
    return {"key": shared_key(limiter.name, key), "rate": limiter.rate, "burst": limiter.burst}


def take_shared(conn: sa.Connection, limiter: RateLimiter, key: str) -> float:
    """Take a token from `key`'s bucket in the shared table (PostgreSQL, outside a transaction), at
    `limiter`'s rate and burst: 0.0 when taken, otherwise the seconds until one is free (nothing taken)."""
    row = conn.execute(_TAKE, shared_params(limiter, key)).one()
    return 0.0 if row.taken else limiter.wait_for(row.tokens)


def waiting_shared(conn: sa.Connection, limiter: RateLimiter, key: str) -> float:
    """`RateLimiter.waiting` on the shared table: 0.0 when `key` has a token now, else the seconds until it
    has one. Takes nothing."""
    tokens = conn.execute(_PEEK, shared_params(limiter, key)).scalar()
    return 0.0 if tokens is None or tokens >= 1.0 else limiter.wait_for(tokens)


def sweep_shared(conn: sa.Connection, idle_s: float) -> int:
    """Delete the buckets idle for `idle_s` (full again by then): the table holds the recently active keys."""
    return conn.execute(_SWEEP, {"idle_s": idle_s}).rowcount
