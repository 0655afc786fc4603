"""Circuit breakers and the health registry: `core.breakers`."""

from __future__ import annotations

import pytest

from core.breakers import CircuitBreaker, HealthRegistry, ModeDecision
from core.chaos import ChaosController, FaultSpec
from core.faults import DependencyFault
from tests.clock import FakeClock


class CustomerError(Exception):
    """An error the customer caused (the dependency itself worked)."""


def _breaker(clock: FakeClock, *, threshold: int = 3, cooldown: float = 30.0) -> CircuitBreaker:
    return CircuitBreaker("db", failure_threshold=threshold, cooldown_s=cooldown, clock=clock)


def _open(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.failure_threshold):
        breaker.record_failure("server")


# CircuitBreaker ------------------------------------------------------------------------------------------


def test_a_new_breaker_is_closed_and_lets_every_call_through():
    breaker = _breaker(FakeClock())
    assert breaker.state == "closed"
    assert breaker.available()
    assert all(breaker.try_acquire() for _ in range(5))


def test_failures_below_the_threshold_keep_it_closed():
    breaker = _breaker(FakeClock(), threshold=3)
    breaker.record_failure("server")
    breaker.record_failure("timeout")
    assert breaker.state == "closed"
    assert breaker.try_acquire()


def test_the_threshold_of_consecutive_failures_opens_it_and_refuses_calls():
    breaker = _breaker(FakeClock(), threshold=3)
    _open(breaker)
    assert breaker.state == "open"
    assert not breaker.available()
    assert not breaker.try_acquire()


def test_a_success_resets_the_consecutive_count():
    breaker = _breaker(FakeClock(), threshold=3)
    breaker.record_failure("server")
    breaker.record_failure("server")
    breaker.record_success()
    breaker.record_failure("server")
    breaker.record_failure("server")
    assert breaker.state == "closed"
    assert breaker.snapshot().consecutive_failures == 2


def test_an_open_breaker_stays_open_until_the_cooldown_has_passed():
    clock = FakeClock()
    breaker = _breaker(clock, cooldown=30.0)
    _open(breaker)
    clock.advance(29.99)
    assert breaker.state == "open"
    clock.advance(0.01)
    assert breaker.state == "half_open"
    assert breaker.available()


def test_half_open_lets_exactly_one_probe_through_at_a_time():
    clock = FakeClock()
    breaker = _breaker(clock)
    _open(breaker)
    clock.advance(30)
    assert breaker.try_acquire()
    assert not breaker.try_acquire()
    assert not breaker.available()
    assert breaker.state == "half_open"


def test_a_successful_probe_closes_the_breaker():
    clock = FakeClock()
    breaker = _breaker(clock)
    _open(breaker)
    clock.advance(30)
    assert breaker.try_acquire()
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.snapshot().consecutive_failures == 0
    assert breaker.try_acquire() and breaker.try_acquire()


def test_a_failed_probe_opens_it_again_for_a_whole_cooldown():
    clock = FakeClock()
    breaker = _breaker(clock, threshold=5, cooldown=30.0)
    _open(breaker)
    clock.advance(30)
    assert breaker.try_acquire()
    breaker.record_failure("timeout")
    assert breaker.state == "open"
    clock.advance(29)
    assert breaker.state == "open"
    clock.advance(1)
    assert breaker.state == "half_open"
    assert breaker.try_acquire()


def test_a_released_probe_slot_lets_the_next_probe_through():
    clock = FakeClock()
    breaker = _breaker(clock)
    _open(breaker)
    clock.advance(30)
    assert breaker.try_acquire()
    breaker.release()
    assert breaker.state == "half_open"
    assert breaker.available()
    assert breaker.try_acquire()


def test_a_zero_cooldown_goes_straight_to_half_open():
    breaker = _breaker(FakeClock(), threshold=1, cooldown=0.0)
    breaker.record_failure("server")
    assert breaker.state == "half_open"


def test_force_open_opens_at_once_and_counts_as_at_the_threshold():
    clock = FakeClock()
    breaker = _breaker(clock, threshold=3)
    breaker.force_open("no credentials")
    snap = breaker.snapshot()
    assert snap.state == "open"
    assert snap.last_error == "no credentials"
    assert snap.consecutive_failures == 3
    clock.advance(30)
    assert breaker.state == "half_open"


def test_force_open_permanent_never_half_opens():
    clock = FakeClock()
    breaker = _breaker(clock)
    breaker.force_open("ImportError: no such package", permanent=True)
    clock.advance(10_000)
    assert breaker.state == "open"
    assert not breaker.available()
    assert not breaker.try_acquire()
    assert breaker.snapshot().retry_in_s is None


def test_the_snapshot_counts_totals_and_says_when_a_probe_is_due():
    clock = FakeClock()
    breaker = _breaker(clock, threshold=2, cooldown=30.0)
    breaker.record_success()
    breaker.record_failure("server")
    breaker.record_failure("rate_limit")
    clock.advance(12.5)
    snap = breaker.snapshot()
    assert snap.name == "db"
    assert snap.state == "open"
    assert snap.consecutive_failures == 2
    assert snap.last_error == "rate_limit"
    assert snap.retry_in_s == 17.5
    assert snap.total_failures == 2
    assert snap.total_successes == 1


def test_retry_in_is_only_given_while_open():
    clock = FakeClock()
    breaker = _breaker(clock, threshold=1)
    assert breaker.snapshot().retry_in_s is None
    breaker.record_failure("server")
    clock.advance(30)
    assert breaker.snapshot().retry_in_s is None


def test_the_last_error_is_cut_to_200_characters():
    breaker = _breaker(FakeClock())
    breaker.record_failure("x" * 500)
    assert breaker.snapshot().last_error == "x" * 200


@pytest.mark.parametrize(("threshold", "cooldown"), [(0, 1.0), (-1, 1.0), (1, -0.1)])
def test_nonsense_settings_are_refused(threshold, cooldown):
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=threshold, cooldown_s=cooldown)


# HealthRegistry ------------------------------------------------------------------------------------------


def test_the_registry_gives_the_same_breaker_for_the_same_name_with_its_settings():
    clock = FakeClock()
    health = HealthRegistry(failure_threshold=4, cooldown_s=7.0, clock=clock)
    breaker = health.breaker("vector_index")
    assert health.breaker("vector_index") is breaker
    assert health.breaker("embeddings") is not breaker
    assert breaker.failure_threshold == 4 and breaker.cooldown_s == 7.0


def test_a_successful_call_is_recorded():
    health = HealthRegistry(clock=FakeClock())
    with health.call("database") as corruption:
        assert corruption is None
    snap = health.breaker("database").snapshot()
    assert snap.total_successes == 1 and snap.total_failures == 0


def test_a_failing_call_is_recorded_with_its_kind_and_the_error_propagates_unchanged():
    health = HealthRegistry(clock=FakeClock())
    error = TimeoutError("slow")
    with pytest.raises(TimeoutError) as raised, health.call("database"):
        raise error
    assert raised.value is error
    snap = health.breaker("database").snapshot()
    assert snap.total_failures == 1 and snap.last_error == "timeout"


def test_a_call_to_an_open_dependency_is_refused_without_running_the_block():
    health = HealthRegistry(failure_threshold=1, clock=FakeClock())
    health.breaker("database").record_failure("server")
    ran = []
    with pytest.raises(DependencyFault) as raised, health.call("database"):
        ran.append(True)
    assert raised.value.kind == "unavailable"
    assert "database" in str(raised.value)
    assert ran == []


def test_errors_the_dependency_did_not_cause_are_not_held_against_it():
    health = HealthRegistry(failure_threshold=1, clock=FakeClock())
    for _ in range(3):
        with (
            pytest.raises(CustomerError),
            health.call("database", counts=lambda e: not isinstance(e, CustomerError)),
        ):
            raise CustomerError("duplicate key")
    snap = health.breaker("database").snapshot()
    assert snap.state == "closed" and snap.total_failures == 0


def test_an_uncounted_error_during_a_probe_gives_the_probe_slot_back():
    clock = FakeClock()
    health = HealthRegistry(failure_threshold=1, cooldown_s=10.0, clock=clock)
    health.breaker("database").record_failure("server")
    clock.advance(10)
    with pytest.raises(CustomerError), health.call("database", counts=lambda e: False):
        raise CustomerError()
    assert health.available("database")
    with health.call("database"):
        pass
    assert health.breaker("database").state == "closed"


def test_a_probe_through_the_registry_closes_the_breaker_on_success():
    clock = FakeClock()
    health = HealthRegistry(failure_threshold=2, cooldown_s=5.0, clock=clock)
    for _ in range(2):
        with pytest.raises(ConnectionError), health.call("vector_index"):
            raise ConnectionError()
    assert not health.available("vector_index")
    clock.advance(5)
    with health.call("vector_index"):
        assert not health.available("vector_index")  # the probe slot is taken while it runs
    assert health.breaker("vector_index").state == "closed"


def test_chaos_errors_are_raised_before_the_block_and_counted():
    chaos = ChaosController(seed=1)
    chaos.set("database", FaultSpec(error_rate=1.0))
    health = HealthRegistry(failure_threshold=2, clock=FakeClock(), chaos=chaos)
    ran = []
    for _ in range(2):
        with pytest.raises(DependencyFault) as raised, health.call("database"):
            ran.append(True)
        assert raised.value.kind == "server"
    assert ran == []
    assert health.breaker("database").state == "open"
    assert chaos.calls["database"] == 2


def test_chaos_corruption_is_yielded_to_the_caller():
    chaos = ChaosController(seed=1)
    chaos.set("llm:x", FaultSpec(empty_rate=1.0))
    health = HealthRegistry(clock=FakeClock(), chaos=chaos)
    with health.call("llm:x") as corruption:
        assert corruption == "empty"
    with health.call("database") as corruption:
        assert corruption is None


def test_the_snapshot_lists_every_breaker_by_name_and_healthy_means_all_closed():
    health = HealthRegistry(failure_threshold=1, clock=FakeClock())
    health.breaker("vector_index")
    health.breaker("database")
    assert [s.name for s in health.snapshot()] == ["database", "vector_index"]
    assert health.healthy()
    health.breaker("vector_index").record_failure("timeout")
    assert not health.healthy()


def test_the_last_mode_is_what_was_noted_last():
    health = HealthRegistry()
    assert health.last_mode is None
    health.note_mode(ModeDecision("full", "all dependencies healthy"))
    health.note_mode(ModeDecision("offline", "database unavailable"))
    assert health.last_mode == ModeDecision("offline", "database unavailable")
