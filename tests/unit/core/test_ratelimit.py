"""Per-key token buckets: a burst, then the steady rate, each key on its own."""

from __future__ import annotations

from core.ratelimit import RateLimiter
from tests.clock import FakeClock


def test_a_burst_then_one_token_per_interval_per_key() -> None:
    clock = FakeClock()
    limiter = RateLimiter("t", per_minute=60, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("a")
    assert 0.9 <= wait <= 1.0  # one token a second
    assert limiter.take("b") == 0.0  # another key has its own bucket
    clock.advance(1.0)
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0


def test_the_least_recently_seen_keys_are_forgotten_past_the_bound() -> None:
    clock = FakeClock()
    limiter = RateLimiter("t", per_minute=60, burst=1, max_keys=2, clock=clock)
    limiter.take("a")
    limiter.take("b")
    limiter.take("c")  # "a" is forgotten: it starts again with a full bucket
    assert limiter.take("a") == 0.0
    assert limiter.take("c") > 0


def test_waiting_says_when_a_token_is_free_and_takes_none() -> None:
    clock = FakeClock()
    limiter = RateLimiter("login-failures", per_minute=2, burst=2, clock=clock)
    assert limiter.waiting("ann") == 0.0
    assert limiter.take("ann") == 0.0 and limiter.take("ann") == 0.0
    assert limiter.waiting("ann") == 30.0 and limiter.waiting("ann") == 30.0  # asking twice takes nothing
    clock.advance(30)
    assert limiter.waiting("ann") == 0.0 and limiter.waiting("bob") == 0.0
