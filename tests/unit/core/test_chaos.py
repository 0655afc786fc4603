"""Fault injection per dependency: `core.chaos`."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from core.chaos import ChaosController, FaultSpec
from core.faults import DependencyFault


def _hang_in_thread(chaos: ChaosController, name: str) -> tuple[threading.Thread, list[BaseException]]:
    raised: list[BaseException] = []

    def call() -> None:
        try:
            chaos.before_call(name)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, raised


def _wait_for_call(chaos: ChaosController, name: str, n: int = 1) -> None:
    deadline = time.monotonic() + 2
    while chaos.calls.get(name, 0) < n and time.monotonic() < deadline:
        time.sleep(0.005)


# FaultSpec -----------------------------------------------------------------------------------------------


def test_a_default_spec_is_inactive():
    assert not FaultSpec().active()
    assert not FaultSpec(retry_after_s=9.0, hang_s=1.0).active()


@pytest.mark.parametrize(
    "field",
    [
        "error_rate",
        "rate_limit_rate",
        "hang_rate",
        "malformed_rate",
        "truncated_rate",
        "empty_rate",
        "latency_s",
    ],
)
def test_any_rate_or_latency_makes_a_spec_active(field):
    assert FaultSpec(**{field: 0.1}).active()


# set / clear / specs -------------------------------------------------------------------------------------


def test_a_dependency_without_a_spec_is_untouched_and_not_counted():
    chaos = ChaosController(seed=1)
    assert chaos.before_call("database") is None
    assert chaos.calls == {}


def test_set_records_a_spec_and_none_or_an_inactive_spec_removes_it():
    chaos = ChaosController()
    chaos.set("database", FaultSpec(error_rate=0.5))
    chaos.set("vector_index", FaultSpec(latency_s=0.1))
    assert chaos.specs() == {"database": FaultSpec(error_rate=0.5), "vector_index": FaultSpec(latency_s=0.1)}
    chaos.set("database", None)
    chaos.set("vector_index", FaultSpec())
    assert chaos.specs() == {}


def test_clear_removes_every_spec():
    chaos = ChaosController()
    chaos.set("database", FaultSpec(error_rate=1.0))
    chaos.set("llm:a", FaultSpec(error_rate=1.0))
    chaos.clear()
    assert chaos.specs() == {}
    assert chaos.before_call("database") is None


# before_call ---------------------------------------------------------------------------------------------


def test_an_error_rate_of_one_always_raises_a_server_fault():
    chaos = ChaosController(seed=3)
    chaos.set("database", FaultSpec(error_rate=1.0))
    for _ in range(20):
        with pytest.raises(DependencyFault) as raised:
            chaos.before_call("database")
        assert raised.value.kind == "server"
    assert chaos.calls["database"] == 20


def test_a_rate_limit_carries_the_configured_retry_after():
    chaos = ChaosController(seed=3)
    chaos.set("llm:a", FaultSpec(rate_limit_rate=1.0, retry_after_s=2.5))
    with pytest.raises(DependencyFault) as raised:
        chaos.before_call("llm:a")
    assert raised.value.kind == "rate_limit"
    assert raised.value.retry_after == 2.5


@pytest.mark.parametrize("kind", ["malformed", "truncated", "empty"])
def test_output_corruptions_are_returned_for_the_caller_to_apply(kind):
    chaos = ChaosController(seed=3)
    chaos.set("llm:a", FaultSpec(**{f"{kind}_rate": 1.0}))
    assert chaos.before_call("llm:a") == kind


def test_the_first_rate_in_order_wins_when_several_would_fire():
    chaos = ChaosController(seed=3)
    chaos.set("llm:a", FaultSpec(error_rate=1.0, rate_limit_rate=1.0, empty_rate=1.0))
    with pytest.raises(DependencyFault) as raised:
        chaos.before_call("llm:a")
    assert raised.value.kind == "server"


def test_rates_split_calls_in_proportion():
    chaos = ChaosController(seed=11)
    chaos.set("llm:a", FaultSpec(error_rate=0.3, empty_rate=0.2))
    seen: Counter[str] = Counter()
    for _ in range(2000):
        try:
            seen[str(chaos.before_call("llm:a"))] += 1
        except DependencyFault as fault:
            seen[fault.kind] += 1
    assert seen["server"] / 2000 == pytest.approx(0.3, abs=0.04)
    assert seen["empty"] / 2000 == pytest.approx(0.2, abs=0.04)
    assert seen["None"] / 2000 == pytest.approx(0.5, abs=0.04)


def test_the_same_seed_gives_the_same_faults():
    def run(seed: int) -> list[str]:
        chaos = ChaosController(seed=seed)
        chaos.set("llm:a", FaultSpec(error_rate=0.5))
        out = []
        for _ in range(50):
            try:
                chaos.before_call("llm:a")
                out.append("ok")
            except DependencyFault:
                out.append("fault")
        return out

    assert run(5) == run(5)
    assert "ok" in run(5) and "fault" in run(5)


def test_latency_is_added_to_calls_that_get_through():
    chaos = ChaosController(seed=1)
    chaos.set("vector_index", FaultSpec(latency_s=0.05))
    started = time.perf_counter()
    assert chaos.before_call("vector_index") is None
    assert time.perf_counter() - started >= 0.05


def test_a_hang_times_out_after_hang_s():
    chaos = ChaosController(seed=1)
    chaos.set("database", FaultSpec(hang_rate=1.0, hang_s=0.05))
    started = time.perf_counter()
    with pytest.raises(DependencyFault) as raised:
        chaos.before_call("database")
    assert raised.value.kind == "timeout"
    assert 0.05 <= time.perf_counter() - started < 1


def test_clear_wakes_a_hung_call_at_once():
    chaos = ChaosController(seed=1)
    chaos.set("database", FaultSpec(hang_rate=1.0, hang_s=30.0))
    thread, raised = _hang_in_thread(chaos, "database")
    _wait_for_call(chaos, "database")
    started = time.perf_counter()
    chaos.clear()
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert time.perf_counter() - started < 1
    assert isinstance(raised[0], DependencyFault) and raised[0].kind == "timeout"


def test_clear_wakes_a_hung_call_even_after_another_dependency_was_set():
    chaos = ChaosController(seed=1)
    chaos.set("database", FaultSpec(hang_rate=1.0, hang_s=30.0))
    thread, _ = _hang_in_thread(chaos, "database")
    _wait_for_call(chaos, "database")
    chaos.set("vector_index", FaultSpec(error_rate=1.0))
    chaos.clear()
    thread.join(timeout=2)
    assert not thread.is_alive()


def test_a_hang_after_clear_hangs_again():
    chaos = ChaosController(seed=1)
    chaos.clear()
    chaos.set("database", FaultSpec(hang_rate=1.0, hang_s=0.1))
    started = time.perf_counter()
    with pytest.raises(DependencyFault):
        chaos.before_call("database")
    assert time.perf_counter() - started >= 0.1
