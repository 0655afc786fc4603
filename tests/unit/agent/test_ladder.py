"""The rung a turn starts on: `agent.ladder.decide_mode` over real breakers."""

from __future__ import annotations

import pytest

from agent.ladder import decide_mode
from agent.llm import LLMLadder, ModelSlot
from core.breakers import HealthRegistry
from core.config import Settings
from evals.scripted import ScriptedChatModel
from tests.clock import FakeClock

PRIMARY, FALLBACK = "openai:gpt-4.1-mini", "anthropic:claude-haiku"
MODELS = [PRIMARY, FALLBACK]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def health(clock) -> HealthRegistry:
    return HealthRegistry(failure_threshold=2, cooldown_s=30.0, clock=clock)


def _fail(health: HealthRegistry, name: str, kind: str = "server") -> None:
    for _ in range(health.failure_threshold):
        health.breaker(name).record_failure(kind)


def _decide(health: HealthRegistry, models: list[str] | None = None, **kw):  # type: ignore[no-untyped-def]
    args = {"dense_configured": True, "kb_ready": True, **kw}
    return decide_mode(health=health, models=MODELS if models is None else models, **args)


def test_everything_healthy_is_full(health):
    decision = _decide(health)
    assert decision.mode == "full"
    assert decision.reason == "all dependencies healthy"


def test_primary_open_is_degraded_and_names_the_fallback(health):
    _fail(health, f"llm:{PRIMARY}", "timeout")
    decision = _decide(health)
    assert decision.mode == "degraded"
    assert PRIMARY in decision.reason and f"using {FALLBACK}" in decision.reason
    assert "open, timeout" in decision.reason


def test_a_failing_fallback_alone_does_not_lower_the_mode(health):
    _fail(health, f"llm:{FALLBACK}")
    assert _decide(health).mode == "full"


def test_the_first_usable_fallback_is_named(health):
    third = "ollama:llama3"
    _fail(health, f"llm:{PRIMARY}")
    _fail(health, f"llm:{FALLBACK}")
    decision = _decide(health, [*MODELS, third])
    assert decision.mode == "degraded"
    assert f"using {third}" in decision.reason


@pytest.mark.parametrize("dependency", ["vector_index", "embeddings"])
def test_dense_retrieval_down_with_a_model_up_is_degraded_lexical(health, dependency):
    _fail(health, dependency)
    decision = _decide(health)
    assert decision.mode == "degraded"
    assert "lexical" in decision.reason
    assert PRIMARY not in decision.reason  # the model is fine; only retrieval is named


def test_dense_retrieval_not_configured_is_degraded_lexical(health):
    decision = _decide(health, dense_configured=False)
    assert decision.mode == "degraded"
    assert "lexical" in decision.reason


def test_primary_and_vector_index_down_names_both(health):
    _fail(health, f"llm:{PRIMARY}")
    _fail(health, "vector_index")
    decision = _decide(health)
    assert decision.mode == "degraded"
    assert f"using {FALLBACK}" in decision.reason and "lexical" in decision.reason


def test_no_models_configured_is_minimal(health):
    decision = _decide(health, [])
    assert decision == type(decision)("minimal", "no LLM configured")


def test_no_models_and_vector_index_down_is_minimal_lexical(health):
    _fail(health, "embeddings")
    decision = _decide(health, [])
    assert decision.mode == "minimal"
    assert "no LLM configured" in decision.reason and "lexical" in decision.reason


def test_every_model_open_is_minimal_and_says_why_the_primary_failed(health):
    _fail(health, f"llm:{PRIMARY}", "rate_limit")
    _fail(health, f"llm:{FALLBACK}")
    decision = _decide(health)
    assert decision.mode == "minimal"
    assert decision.reason.startswith(f"no LLM available ({PRIMARY}: open, rate_limit)")
    assert "lexical" not in decision.reason


def test_every_model_open_and_vector_index_down_is_minimal_lexical(health):
    _fail(health, f"llm:{PRIMARY}")
    _fail(health, f"llm:{FALLBACK}")
    _fail(health, "vector_index")
    decision = _decide(health)
    assert decision.mode == "minimal" and "lexical" in decision.reason


def test_database_open_is_offline_whatever_else_works(health):
    _fail(health, "database", "unavailable")
    decision = _decide(health)
    assert decision.mode == "offline"
    assert decision.reason == "database unavailable (open, unavailable)"


def test_database_open_wins_over_a_knowledge_base_that_is_not_ready(health):
    _fail(health, "database")
    assert _decide(health, kb_ready=False).reason.startswith("database unavailable")


def test_knowledge_base_not_ready_is_offline(health):
    decision = _decide(health, kb_ready=False)
    assert decision.mode == "offline"
    assert decision.reason == "knowledge base unavailable"


def test_a_half_open_primary_counts_as_available_so_the_agent_climbs_back(health, clock):
    _fail(health, f"llm:{PRIMARY}")
    assert _decide(health).mode == "degraded"
    clock.advance(30)
    assert health.breaker(f"llm:{PRIMARY}").state == "half_open"
    assert _decide(health).mode == "full"


def test_a_half_open_database_is_probed_not_offline(health, clock):
    _fail(health, "database")
    clock.advance(30)
    assert _decide(health).mode == "full"


def test_a_primary_whose_probe_is_in_flight_is_not_counted_on(health, clock):
    _fail(health, f"llm:{PRIMARY}")
    clock.advance(30)
    assert health.breaker(f"llm:{PRIMARY}").try_acquire()
    assert _decide(health).mode == "degraded"


def test_a_primary_that_could_not_be_built_stays_degraded_after_the_cooldown(health, clock):
    settings = Settings(llm_models=MODELS)
    slots = [
        ModelSlot(PRIMARY, None, "ImportError: langchain-openai"),
        ModelSlot(FALLBACK, ScriptedChatModel()),
    ]
    LLMLadder(slots, health=health, settings=settings)
    decision = _decide(health)
    assert decision.mode == "degraded" and "ImportError" in decision.reason
    clock.advance(3600)
    assert _decide(health).mode == "degraded"
