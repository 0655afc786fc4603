"""Models behind the ladder: deadlines, retries, failover, breakers, streaming, accounting (`agent.llm`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from agent.generation import parse_answer, parse_text
from agent.llm import AllModelsFailed, LLMLadder, ModelSlot, approx_tokens
from agent.prompts.answer import Answer
from core.breakers import HealthRegistry
from core.chaos import ChaosController, FaultSpec
from core.config import Settings
from core.faults import DependencyFault
from evals.scripted import ScriptedChatModel, answer_call
from tests.clock import FakeClock

A, B = "scripted:a", "scripted:b"
TEXT = "You can return most items within 30 days of delivery, and refunds reach your card within a week [1]."
PROMPT: list[BaseMessage] = [HumanMessage("How long do I have to return an item?")]


class APIStatusError(Exception):
    """Shaped like a provider SDK's HTTP error."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


class NoUsageModel(ScriptedChatModel):
    """A provider that reports no token usage."""

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in super()._stream(messages, *args, **kwargs):
            if not chunk.message.usage_metadata:  # type: ignore[attr-defined]
                yield chunk

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        result = super()._generate(messages, *args, **kwargs)
        for generation in result.generations:
            generation.message.usage_metadata = None  # type: ignore[attr-defined]
        return result


class Sleeps(list[float]):
    """The injected `sleep`: records each delay and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_timeout_s": 5.0,
        "llm_model_timeout_s": 2.0,
        "llm_max_retries": 2,
        "llm_backoff_s": 0.01,
        "llm_backoff_max_s": 0.02,
        **overrides,
    }
    return Settings(**values)


def _ladder(
    *models: ScriptedChatModel | None,
    health: HealthRegistry | None = None,
    sleep: Sleeps | None = None,
    **settings: Any,
) -> LLMLadder:
    names = [A, B, "scripted:c"]
    slots = [
        ModelSlot(names[i], m, None if m is not None else "ImportError: no package")
        for i, m in enumerate(models)
    ]
    return LLMLadder(
        slots,
        health=health or HealthRegistry(clock=FakeClock()),
        settings=_settings(**settings),
        sleep=sleep if sleep is not None else Sleeps(),
    )


def _build(slot: ModelSlot, is_primary: bool) -> tuple[list[BaseMessage], list[type]]:
    return PROMPT, [Answer]


def _run(ladder: LLMLadder, parse: Any = parse_answer, **kw: Any) -> Any:
    return ladder.run(
        "answer", _build, parse, deadline=time.monotonic() + ladder.settings.llm_timeout_s, **kw
    )


def _malformed() -> AIMessage:
    """A tool call whose arguments miss required fields (valid JSON, wrong shape)."""
    return AIMessage(content="", tool_calls=[{"name": "Answer", "args": {"text": "hi"}, "id": "c1"}])


# retries -------------------------------------------------------------------------------------------------


def test_a_server_error_is_retried_and_the_success_closes_the_breaker():
    a = ScriptedChatModel(script=[DependencyFault("server", "HTTP 503"), answer_call(TEXT)])
    sleeps = Sleeps()
    ladder = _ladder(a, sleep=sleeps)
    result = _run(ladder)
    assert result.value.text == TEXT
    assert result.slot.name == A and result.primary
    assert result.usage.attempts == 2
    assert result.failures == []
    assert a.calls == 2 and len(sleeps) == 1
    snap = ladder.health.breaker(f"llm:{A}").snapshot()
    assert snap.state == "closed" and snap.consecutive_failures == 0
    assert snap.total_failures == 1 and snap.total_successes == 1


def test_a_provider_5xx_exception_is_classified_and_retried():
    a = ScriptedChatModel(script=[APIStatusError(502), answer_call(TEXT)])
    assert _run(_ladder(a)).usage.attempts == 2


def test_a_rate_limit_waits_at_least_the_servers_retry_after():
    a = ScriptedChatModel(
        script=[DependencyFault("rate_limit", "HTTP 429", retry_after=0.75), answer_call(TEXT)]
    )
    sleeps = Sleeps()
    result = _run(_ladder(a, sleep=sleeps))
    assert result.usage.attempts == 2
    assert len(sleeps) == 1 and sleeps[0] >= 0.75


def test_backoff_without_retry_after_stays_under_the_ceiling():
    a = ScriptedChatModel(script=[DependencyFault("server"), DependencyFault("timeout"), answer_call(TEXT)])
    sleeps = Sleeps()
    _run(_ladder(a, sleep=sleeps, llm_backoff_s=0.01, llm_backoff_max_s=0.015))
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.01 and 0 <= sleeps[1] <= 0.015


def test_a_retry_after_beyond_the_models_time_slot_moves_on_without_waiting():
    a = ScriptedChatModel(script=[DependencyFault("rate_limit", retry_after=30.0)])
    b = ScriptedChatModel(script=[answer_call(TEXT)])
    sleeps = Sleeps()
    result = _run(_ladder(a, b, sleep=sleeps))
    assert sleeps == []
    assert result.slot.name == B
    assert result.failures == [(A, "rate_limit")]


def test_retries_stop_after_max_retries():
    a = ScriptedChatModel(responder=lambda m: DependencyFault("server"))
    b = ScriptedChatModel(script=[answer_call(TEXT)])
    sleeps = Sleeps()
    health = HealthRegistry(failure_threshold=10, clock=FakeClock())
    result = _run(_ladder(a, b, health=health, sleep=sleeps, llm_max_retries=2))
    assert a.calls == 3 and len(sleeps) == 2
    assert result.slot.name == B and result.failures == [(A, "server")]


def test_a_non_retryable_fault_moves_to_the_next_model_at_once():
    a = ScriptedChatModel(script=[_malformed(), answer_call("never used [1].")])
    b = ScriptedChatModel(script=[answer_call(TEXT)])
    sleeps = Sleeps()
    result = _run(_ladder(a, b, sleep=sleeps))
    assert a.calls == 1 and sleeps == []
    assert result.slot.name == B and not result.primary
    assert result.value.text == TEXT
    assert result.failures == [(A, "malformed")]


def test_an_empty_reply_moves_to_the_next_model():
    a = ScriptedChatModel(script=[AIMessage(content="")])
    b = ScriptedChatModel(script=[answer_call(TEXT)])
    result = _run(_ladder(a, b))
    assert result.failures == [(A, "empty")]


# deadlines -----------------------------------------------------------------------------------------------


def test_a_hung_model_is_abandoned_at_its_deadline_and_the_next_one_answers():
    a = ScriptedChatModel(script=[answer_call("too late [1].")], latency_s=3.0)
    b = ScriptedChatModel(script=[answer_call(TEXT)])
    ladder = _ladder(a, b, llm_model_timeout_s=0.3, llm_timeout_s=2.0)
    started = time.monotonic()
    result = _run(ladder)
    elapsed = time.monotonic() - started
    assert elapsed < 0.3 + 0.5
    assert result.slot.name == B and result.value.text == TEXT
    assert result.failures == [(A, "timeout")]
    assert ladder.health.breaker(f"llm:{A}").snapshot().last_error == "timeout"


def test_the_turn_deadline_bounds_every_model_together():
    a = ScriptedChatModel(script=[answer_call("late [1].")], latency_s=3.0)
    b = ScriptedChatModel(script=[answer_call("late [1].")], latency_s=3.0)
    ladder = _ladder(a, b, llm_model_timeout_s=0.3, llm_timeout_s=0.4)
    started = time.monotonic()
    with pytest.raises(AllModelsFailed) as raised:
        _run(ladder)
    assert time.monotonic() - started < 0.4 + 0.5
    assert raised.value.failures[0] == (A, "timeout")
    assert [kind for _, kind in raised.value.failures] == ["timeout", "timeout"]


def test_a_deadline_already_past_tries_nothing():
    a = ScriptedChatModel(script=[answer_call(TEXT)])
    ladder = _ladder(a)
    with pytest.raises(AllModelsFailed) as raised:
        ladder.run("answer", _build, parse_answer, deadline=time.monotonic())
    assert raised.value.failures == [(A, "timeout")]
    assert a.calls == 0


# failover and breakers -----------------------------------------------------------------------------------


def test_every_model_failing_raises_all_models_failed_with_each_kind():
    a = ScriptedChatModel(responder=lambda m: DependencyFault("server"))
    b = ScriptedChatModel(script=[_malformed()])
    with pytest.raises(AllModelsFailed) as raised:
        _run(_ladder(a, b, llm_max_retries=1))
    assert raised.value.failures == [(A, "server"), (B, "malformed")]
    assert str(raised.value) == f"{A}: server; {B}: malformed"


def test_the_breaker_opens_after_the_threshold_and_the_open_model_is_then_skipped():
    health = HealthRegistry(failure_threshold=2, cooldown_s=30.0, clock=FakeClock())
    a = ScriptedChatModel(responder=lambda m: DependencyFault("server"))
    b = ScriptedChatModel(responder=lambda m: answer_call(TEXT))
    ladder = _ladder(a, b, health=health, llm_max_retries=0)
    assert _run(ladder).failures == [(A, "server")]
    assert _run(ladder).failures == [(A, "server")]
    assert health.breaker(f"llm:{A}").state == "open"
    result = _run(ladder)
    assert result.failures == [(A, "circuit open")]
    assert a.calls == 2
    assert [s.name for s in ladder.usable()] == [B]


def test_retries_stop_as_soon_as_the_breaker_opens():
    health = HealthRegistry(failure_threshold=2, clock=FakeClock())
    a = ScriptedChatModel(responder=lambda m: DependencyFault("server"))
    b = ScriptedChatModel(responder=lambda m: answer_call(TEXT))
    sleeps = Sleeps()
    result = _run(_ladder(a, b, health=health, sleep=sleeps, llm_max_retries=5))
    assert a.calls == 2 and len(sleeps) == 1  # no wait for a retry the open breaker would refuse
    assert result.failures == [(A, "server")]


def test_an_open_primary_is_probed_again_after_the_cooldown_and_climbs_back():
    clock = FakeClock()
    health = HealthRegistry(failure_threshold=1, cooldown_s=30.0, clock=clock)
    a = ScriptedChatModel(script=[DependencyFault("server")], responder=lambda m: answer_call(TEXT))
    b = ScriptedChatModel(responder=lambda m: answer_call(TEXT))
    ladder = _ladder(a, b, health=health, llm_max_retries=0)
    assert _run(ladder).slot.name == B
    assert _run(ladder).failures == [(A, "circuit open")]
    clock.advance(30)
    result = _run(ladder)
    assert result.slot.name == A and result.primary
    assert health.breaker(f"llm:{A}").state == "closed"


def test_a_model_that_could_not_be_built_is_never_tried_and_its_breaker_is_forced_open():
    b = ScriptedChatModel(script=[answer_call(TEXT)])
    ladder = _ladder(None, b)
    snap = ladder.health.breaker(f"llm:{A}").snapshot()
    assert snap.state == "open" and snap.last_error == "ImportError: no package"
    assert [s.name for s in ladder.usable()] == [B]
    result = _run(ladder)
    assert result.failures == [(A, "not built")]
    assert result.slot.name == B


def test_models_skipped_earlier_in_the_turn_are_passed_over_and_new_failures_are_added():
    a = ScriptedChatModel(script=[answer_call(TEXT)])
    b = ScriptedChatModel(script=[_malformed()])
    c = ScriptedChatModel(script=[answer_call(TEXT)])
    skip = {A: "timeout"}
    result = _run(_ladder(a, b, c), skip=skip)
    assert a.calls == 0
    assert result.failures == [(A, "timeout"), (B, "malformed")]
    assert skip == {A: "timeout", B: "malformed"}


def test_only_primary_never_falls_back():
    a = ScriptedChatModel(script=[_malformed()])
    b = ScriptedChatModel(script=[answer_call(TEXT)])
    with pytest.raises(AllModelsFailed) as raised:
        _run(_ladder(a, b), only_primary=True)
    assert raised.value.failures == [(A, "malformed")]
    assert b.calls == 0


def test_build_is_told_which_model_is_the_primary():
    seen: list[tuple[str, bool]] = []

    def build(slot: ModelSlot, is_primary: bool) -> tuple[list[BaseMessage], None]:
        seen.append((slot.name, is_primary))
        return [HumanMessage(f"primary={is_primary}")], None

    a = ScriptedChatModel(script=[DependencyFault("client", "HTTP 400")])
    b = ScriptedChatModel(responder=lambda m: f"reply to {m[-1].content}")
    ladder = _ladder(a, b)
    result = ladder.run("rewrite", build, parse_text, deadline=time.monotonic() + 5)
    assert seen == [(A, True), (B, False)]
    assert result.value == "reply to primary=False"


# streaming -----------------------------------------------------------------------------------------------


def test_the_answer_text_streams_progressively_and_adds_up_to_the_final_text():
    deltas: list[str] = []
    a = ScriptedChatModel(script=[answer_call(TEXT)])
    result = _run(_ladder(a), on_text=deltas.append)
    assert len(deltas) > 3
    assert all(deltas)
    assert "".join(deltas) == result.value.text == TEXT


def test_plain_text_replies_stream_too():
    deltas: list[str] = []
    a = ScriptedChatModel(script=["refund status for order 123"])
    ladder = _ladder(a)
    result = ladder.run(
        "rewrite",
        lambda s, p: (PROMPT, None),
        parse_text,
        deadline=time.monotonic() + 5,
        on_text=deltas.append,
    )
    assert "".join(deltas) == result.value == "refund status for order 123"
    assert len(deltas) > 1


def test_a_model_failing_after_streaming_some_text_resets_the_stream_and_the_next_answers():
    chaos = ChaosController(seed=1)
    chaos.set(f"llm:{A}", FaultSpec(truncated_rate=1.0))
    health = HealthRegistry(clock=FakeClock(), chaos=chaos)
    a = ScriptedChatModel(script=[answer_call("Something partial that the customer briefly saw [1].")])
    b = ScriptedChatModel(script=[answer_call(TEXT)])
    shown: list[str] = []
    resets: list[str] = []

    def reset() -> None:
        resets.append("".join(shown))
        shown.clear()

    result = _run(_ladder(a, b, health=health), on_text=shown.append, on_reset=reset)
    assert len(resets) == 1 and resets[0].startswith("Something")
    assert result.failures == [(A, "malformed")]
    assert "".join(shown) == result.value.text == TEXT


def test_no_reset_when_a_model_fails_before_streaming_anything():
    a = ScriptedChatModel(script=[DependencyFault("client")])
    b = ScriptedChatModel(script=[answer_call(TEXT)])
    resets: list[bool] = []
    _run(_ladder(a, b), on_text=lambda d: None, on_reset=lambda: resets.append(True))
    assert resets == []


@pytest.mark.parametrize(("corruption", "kind"), [("malformed", "malformed"), ("empty", "empty")])
def test_chaos_output_corruption_fails_the_model_with_its_kind(corruption, kind):
    chaos = ChaosController(seed=1)
    chaos.set(f"llm:{A}", FaultSpec(**{f"{corruption}_rate": 1.0}))
    health = HealthRegistry(clock=FakeClock(), chaos=chaos)
    a = ScriptedChatModel(script=[answer_call(TEXT)])
    b = ScriptedChatModel(script=[answer_call(TEXT)])
    result = _run(_ladder(a, b, health=health))
    assert result.failures == [(A, kind)]
    assert result.slot.name == B


def test_a_chaos_rate_limit_on_every_call_is_retried_then_given_up():
    chaos = ChaosController(seed=1)
    chaos.set(f"llm:{A}", FaultSpec(rate_limit_rate=1.0, retry_after_s=0.05))
    health = HealthRegistry(failure_threshold=10, clock=FakeClock(), chaos=chaos)
    a = ScriptedChatModel(responder=lambda m: answer_call(TEXT))
    b = ScriptedChatModel(script=[answer_call(TEXT)])
    sleeps = Sleeps()
    result = _run(_ladder(a, b, health=health, sleep=sleeps, llm_max_retries=2))
    assert a.calls == 0  # chaos refused before the provider was reached
    assert chaos.calls[f"llm:{A}"] == 3
    assert all(s >= 0.05 for s in sleeps) and len(sleeps) == 2
    assert result.failures == [(A, "rate_limit")]


# accounting ----------------------------------------------------------------------------------------------


def test_reported_usage_is_used_and_priced():
    a = ScriptedChatModel(script=[answer_call(TEXT)])
    ladder = _ladder(a, llm_prices={A: (1.0, 2.0)})
    usage = _run(ladder).usage
    assert usage.purpose == "answer" and usage.model == A
    assert not usage.estimated
    expected_in = len(str(PROMPT[0].content)) // 4  # what the scripted provider reports
    assert usage.input_tokens == expected_in
    assert usage.output_tokens > 0
    assert usage.cost_usd == round((usage.input_tokens * 1.0 + usage.output_tokens * 2.0) / 1_000_000, 6)
    assert usage.cost_usd is not None and usage.cost_usd > 0
    assert usage.latency_ms > 0 and usage.attempts == 1
    assert usage.as_dict()["model"] == A


def test_a_model_without_a_price_has_no_cost():
    a = ScriptedChatModel(script=[answer_call(TEXT)])
    assert _run(_ladder(a, llm_prices={B: (1.0, 2.0)})).usage.cost_usd is None


def test_usage_is_estimated_when_the_provider_reports_none():
    a = NoUsageModel(script=[answer_call(TEXT)])
    usage = _run(_ladder(a, llm_prices={A: (1.0, 2.0)})).usage
    assert usage.estimated
    assert usage.input_tokens == approx_tokens(str(PROMPT[0].content))
    assert usage.output_tokens >= approx_tokens(TEXT)
    assert usage.cost_usd == round((usage.input_tokens + usage.output_tokens * 2.0) / 1_000_000, 6)


def test_approx_tokens_is_about_four_characters_each():
    assert approx_tokens("") == 0
    assert approx_tokens("a") == 1
    assert approx_tokens("a" * 8) == 2
    assert approx_tokens("a" * 9) == 3


def test_a_model_that_cannot_bind_the_answer_tool_is_passed_over_for_the_next():
    class NoTools(ScriptedChatModel):
        def bind_tools(self, tools, **kwargs):  # type: ignore[no-untyped-def,override]
            raise NotImplementedError("this provider has no tool calling")

    health = HealthRegistry()
    fallback = ScriptedChatModel(script=[answer_call("Fine [1].")])
    ladder = LLMLadder(
        [ModelSlot("scripted:notools", NoTools(script=[])), ModelSlot("scripted:ok", fallback)],
        health=health,
        settings=Settings(),
    )
    result = ladder.run(
        "answer",
        lambda slot, primary: ([HumanMessage("q")], [Answer]),
        parse_answer,
        deadline=time.monotonic() + 5,
    )
    assert result.slot.name == "scripted:ok"
    assert result.failures == [("scripted:notools", "client")]


class Rejected(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status


def test_a_request_the_provider_rejects_as_invalid_does_not_count_against_its_breaker():
    a = ScriptedChatModel(script=[Rejected(400), Rejected(413)])
    b = ScriptedChatModel(script=[answer_call(TEXT), answer_call(TEXT)])
    ladder = _ladder(a, b, health=HealthRegistry(failure_threshold=1, clock=FakeClock()))
    assert _run(ladder).slot.name == B
    assert _run(ladder).slot.name == B
    assert ladder.health.breaker(f"llm:{A}").state == "closed"  # one customer's bad request is not an outage


def test_a_bad_api_key_does_count_against_the_breaker():
    a = ScriptedChatModel(script=[Rejected(401)])
    b = ScriptedChatModel(script=[answer_call(TEXT)])
    ladder = _ladder(a, b, health=HealthRegistry(failure_threshold=1, clock=FakeClock()))
    _run(ladder)
    assert ladder.health.breaker(f"llm:{A}").state == "open"


def test_an_optional_step_cut_short_by_its_own_deadline_does_not_bench_the_model():
    a = ScriptedChatModel(script=["slow rewrite"], latency_s=1.0)
    ladder = _ladder(a, health=HealthRegistry(failure_threshold=1, clock=FakeClock()))
    skip: dict[str, str] = {}
    with pytest.raises(AllModelsFailed):
        ladder.run(
            "rewrite",
            lambda slot, primary: (PROMPT, None),
            parse_text,
            deadline=time.monotonic() + 0.2,
            skip=skip,
            optional=True,
        )
    assert ladder.health.breaker(f"llm:{A}").state == "closed"
    assert skip == {}  # the answer may still use it this turn


def test_a_timeout_under_a_turn_budget_spent_elsewhere_does_not_count():
    a = ScriptedChatModel(script=[answer_call(TEXT)], latency_s=1.0)
    ladder = _ladder(
        a, health=HealthRegistry(failure_threshold=1, clock=FakeClock()), llm_model_timeout_s=2.0
    )
    with pytest.raises(AllModelsFailed):
        ladder.run("answer", _build, parse_answer, deadline=time.monotonic() + 0.2)
    assert ladder.health.breaker(f"llm:{A}").state == "closed"


def test_a_whole_reply_reads_like_a_merged_stream() -> None:
    from agent.llm import _as_chunk

    good = '{"text": "Refunds take 5 days [1]", "citations": [1], "answerable": true, "confidence": 0.9}'
    openai_style = AIMessage(
        content="",
        additional_kwargs={
            "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "Answer", "arguments": '{"text": "Re'}},
                {"id": "b", "type": "function", "function": {"name": "Answer", "arguments": good}},
            ]
        },
        usage_metadata={"input_tokens": 10, "output_tokens": 20, "total_tokens": 30},
    )
    chunk = _as_chunk(openai_style)
    assert [c["args"] for c in chunk.tool_call_chunks] == ['{"text": "Re', good]  # as sent, in order
    assert chunk.usage_metadata is not None and chunk.usage_metadata["output_tokens"] == 20
    with pytest.raises(DependencyFault, match="not valid JSON"):  # the first call decides, as when streamed
        parse_answer(chunk)

    args = {"text": "Hi [1]", "citations": [1], "answerable": True, "confidence": 0.8}
    parsed = AIMessage(content="", tool_calls=[{"name": "Answer", "args": args, "id": "c"}])
    assert parse_answer(_as_chunk(parsed)).text == "Hi [1]"
    assert parse_text(_as_chunk(AIMessage(content="plain words"))) == "plain words"


# threads and bindings ------------------------------------------------------------------------------------


def test_a_model_is_bound_to_its_tools_once_and_called_on_a_reused_thread():
    import threading

    binds: list[object] = []
    threads: set[int] = set()

    class Counting(ScriptedChatModel):
        def bind_tools(self, tools, **kwargs):  # type: ignore[no-untyped-def,override]
            binds.append(tools)
            return self

        def _next(self, messages: list[BaseMessage]) -> AIMessage:
            threads.add(threading.get_ident())
            return super()._next(messages)

    model = Counting(script=[answer_call(TEXT)] * 5)
    ladder = _ladder(model)
    for _ in range(5):
        assert _run(ladder).value.text == TEXT
    assert binds == [[Answer]] and model.calls == 5
    # reused, not one per call (a thread marks itself idle just after handing its reply over, so the next
    # call may find it still busy once in a while)
    assert len(threads) <= 2 and threading.get_ident() not in threads


def test_a_call_that_got_no_thread_before_its_deadline_is_never_made(monkeypatch):
    import agent.llm

    monkeypatch.setattr(agent.llm, "_CALL_THREADS", 1)
    hung = ScriptedChatModel(script=[answer_call("too late [1].")] * 2, latency_s=1.0)
    health = HealthRegistry(failure_threshold=10, clock=FakeClock())  # the breaker stays closed
    ladder = _ladder(hung, health=health, llm_model_timeout_s=0.3, llm_timeout_s=0.5, llm_max_retries=0)
    for _ in range(2):  # the second turn's call waits behind the first's, which still holds the one thread
        with pytest.raises(AllModelsFailed):
            _run(ladder)
    time.sleep(1.0)  # the first call ends; the second, long abandoned, gets the thread
    assert hung.calls == 1


def test_a_hung_primary_never_keeps_the_fallback_waiting_for_a_thread(monkeypatch):
    import agent.llm

    monkeypatch.setattr(agent.llm, "_CALL_THREADS", 1)
    hung = ScriptedChatModel(script=[answer_call("too late [1].")] * 3, latency_s=1.0)
    fallback = ScriptedChatModel(script=[answer_call(TEXT)] * 3)
    ladder = _ladder(hung, fallback, llm_model_timeout_s=0.3, llm_timeout_s=2.0, llm_max_retries=0)
    for _ in range(2):  # the second turn finds the primary's one thread still busy with the first's call
        result = _run(ladder)
        assert result.slot.name == B and result.value.text == TEXT
    assert ladder.health.breaker(f"llm:{B}").snapshot().last_error is None
