"""The degradation ladder through the real client path: `init_chat_model("openai:…")` against local stubs.

Every model here is built by the app's own `build_models` (langchain-openai, the OpenAI SDK, httpx) and
talks HTTP to a stub on 127.0.0.1, so retries, Retry-After, deadlines, bad output and fail-over are the
ones production would see. The knowledge base is the seeded demo help center (real embeddings, Chroma).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import select

from agent.service import ChatService, TurnResult
from core.breakers import HealthRegistry
from core.db import session_scope
from core.models import TurnRecord
from evals.topology.stub_llm import StubOpenAI
from knowledge.store import get_passage
from tests.clock import FakeClock

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]  # setup loads the embedding model

PRIMARY, FALLBACK = "openai:stub-primary", "openai:stub-fallback"
QUESTION = "How do I return an item?"
"""Retrieved with enough confidence to be answered (not 'I don't know') in the demo help center."""

FAST = {
    "llm_timeout_s": 6.0,
    "llm_model_timeout_s": 3.0,
    "llm_max_retries": 2,
    "llm_backoff_s": 0.05,
    "llm_backoff_max_s": 0.2,
    "breaker_failure_threshold": 3,
    "breaker_cooldown_s": 30.0,
}
"""Short budgets and backoff so the module stays fast; each test overrides what it is about."""


@pytest.fixture
def primary() -> Iterator[StubOpenAI]:
    with StubOpenAI() as stub:
        yield stub


@pytest.fixture
def fallback() -> Iterator[StubOpenAI]:
    with StubOpenAI() as stub:
        yield stub


@pytest.fixture
def make_service(settings, demo_service) -> Callable[..., ChatService]:
    """A fresh service (own breakers, in-memory checkpointer) over the shared demo KB and these stubs."""

    def make(
        stubs: dict[str, StubOpenAI], *, clock: Callable[[], float] = time.monotonic, **overrides: Any
    ) -> ChatService:
        cfg = settings.model_copy(
            update={
                "llm_models": list(stubs),
                "llm_options": {
                    name: {"base_url": stub.base_url, "api_key": "sk-test"} for name, stub in stubs.items()
                },
                **FAST,
                **overrides,
            }
        )
        health = HealthRegistry(
            failure_threshold=cfg.breaker_failure_threshold, cooldown_s=cfg.breaker_cooldown_s, clock=clock
        )
        return ChatService(cfg, kb=demo_service.kb, checkpointer=InMemorySaver(), health=health)

    return make


@dataclass
class Stream:
    """What a chat page would show: tokens since the last reset, and how often it was told to reset."""

    tokens: list[str] = field(default_factory=list)
    resets: int = 0
    pieces: int = 0

    def token(self, delta: str) -> None:
        self.tokens.append(delta)
        self.pieces += 1

    def reset(self) -> None:
        self.tokens.clear()
        self.resets += 1

    @property
    def text(self) -> str:
        return "".join(self.tokens)


@dataclass
class Turn:
    result: TurnResult
    record: dict[str, Any]
    """The stored TurnRecord's columns."""
    seconds: float
    stream: Stream


def _turn(
    svc: ChatService,
    text: str = QUESTION,
    *,
    conversation: tuple[str, str] | None = None,
    listen: bool = True,
) -> Turn:
    """One customer turn (in a new conversation unless `conversation` = (id, customer) is given); with
    `listen=False` nobody reads the answer as it streams (a JSON API client)."""
    if conversation is None:
        customer = uuid.uuid4().hex
        conversation_id = svc.start_conversation(customer_id=customer)
    else:
        conversation_id, customer = conversation
    stream = Stream()
    t0 = time.monotonic()
    result = svc.send(
        conversation_id=conversation_id,
        customer_id=customer,
        text=text,
        on_token=stream.token if listen else None,
        on_reset=stream.reset if listen else None,
    )
    seconds = time.monotonic() - t0
    with session_scope(svc.db) as s:
        row = s.scalar(select(TurnRecord).where(TurnRecord.message_id == result.message.id))
        assert row is not None
        record = {
            c: getattr(row, c)
            for c in ("mode", "mode_reason", "model", "input_tokens", "output_tokens", "llm_calls", "error")
        }
    return Turn(result, record, seconds, stream)


def _assert_grounded(turn: Turn, db: str) -> None:
    """Answered, and every citation is shown as [n] and quotes a real passage verbatim."""
    reply = turn.result.reply
    assert turn.result.outcome == "answered"
    assert reply.citations
    with session_scope(db) as s:
        for cite in reply.citations:
            assert f"[{cite['n']}]" in reply.content
            assert cite["quote"].strip()
            passage = get_passage(s, chunk_id=cite["chunk_id"], version_id=cite["version_id"])
            assert passage is not None, cite["chunk_id"]
            flat = " ".join(passage.text.split())
            for line in cite["quote"].splitlines():
                if line.strip() and line != "…":
                    assert " ".join(line.split()) in flat


def _assert_on_rung(turn: Turn, mode: str, *, model: str | None) -> None:
    assert turn.result.mode == mode
    assert turn.record["mode"] == mode
    assert turn.record["mode_reason"] == turn.result.mode_reason
    assert turn.record["model"] == model
    assert turn.record["error"] is None


def _answer_text(stub: StubOpenAI) -> str:
    """The `text` argument of the Answer the stub sent last."""
    served = [r for r in stub.chat_requests() if r.reply]
    return json.loads(served[-1].reply or "")["text"]


# Full ----------------------------------------------------------------------------------------------------
def test_streamed_answer_arrives_in_pieces_and_usage_comes_from_the_provider(make_service, settings, primary):
    svc = make_service({PRIMARY: primary})
    turn = _turn(svc)

    _assert_on_rung(turn, "full", model=PRIMARY)
    assert turn.result.mode_reason == "all dependencies healthy"
    _assert_grounded(turn, settings.database_url)
    [request] = primary.chat_requests()
    assert request.streaming and request.has_tools
    assert request.body["tool_choice"] == {"type": "function", "function": {"name": "Answer"}}
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.headers["authorization"] == "Bearer sk-test"
    answer = _answer_text(primary)
    assert turn.stream.pieces > 1 and turn.stream.resets == 0
    assert turn.stream.text and answer.startswith(turn.stream.text)
    assert turn.stream.text == answer == turn.result.reply.content  # one passage cited: [1] stays [1]
    assert request.usage is not None
    assert turn.record["input_tokens"] == request.usage["prompt_tokens"]
    assert turn.record["output_tokens"] == request.usage["completion_tokens"]
    call = turn.record["llm_calls"]["answer"]
    assert call["estimated"] is False and call["attempts"] == 1 and call["model"] == PRIMARY


def test_without_a_listener_the_answer_is_one_request_response(make_service, settings, primary):
    svc = make_service({PRIMARY: primary})
    turn = _turn(svc, listen=False)

    _assert_on_rung(turn, "full", model=PRIMARY)
    _assert_grounded(turn, settings.database_url)
    [request] = primary.chat_requests()
    assert not request.streaming and request.has_tools
    assert turn.stream.pieces == 0
    assert turn.result.reply.content == _answer_text(primary)
    assert request.usage is not None
    assert turn.record["input_tokens"] == request.usage["prompt_tokens"]
    assert turn.record["llm_calls"]["answer"]["estimated"] is False


@pytest.mark.parametrize("failure", ["malformed", "truncated", "empty", "500"])
def test_without_a_listener_unusable_output_falls_to_the_fallback(
    make_service, settings, primary, fallback, failure
):
    svc = make_service({PRIMARY: primary, FALLBACK: fallback}, llm_max_retries=0)
    primary.set_default(failure)
    turn = _turn(svc, listen=False)

    _assert_on_rung(turn, "degraded", model=FALLBACK)
    assert f"{PRIMARY} " in turn.result.mode_reason
    _assert_grounded(turn, settings.database_url)
    assert [r.streaming for r in primary.chat_requests() + fallback.chat_requests()] == [False, False]


def test_server_error_is_retried_on_the_same_model(make_service, settings, primary, fallback):
    svc = make_service({PRIMARY: primary, FALLBACK: fallback})
    primary.script(["500", "ok"])
    turn = _turn(svc)

    _assert_on_rung(turn, "full", model=PRIMARY)
    _assert_grounded(turn, settings.database_url)
    first, second = primary.chat_requests()
    assert [first.behaviour, second.behaviour] == ["500", "ok"]
    assert first.body == second.body
    assert fallback.chat_requests() == []
    assert turn.record["llm_calls"]["answer"]["attempts"] == 2


def test_rate_limit_retry_waits_at_least_retry_after(make_service, settings, primary, fallback):
    svc = make_service({PRIMARY: primary, FALLBACK: fallback})
    primary.script(["429:0.3", "ok"])
    turn = _turn(svc)

    _assert_on_rung(turn, "full", model=PRIMARY)
    _assert_grounded(turn, settings.database_url)
    assert [r.behaviour for r in primary.chat_requests()] == ["429:0.3", "ok"]
    [gap] = primary.gaps()
    assert gap >= 0.3
    assert fallback.chat_requests() == []


def test_follow_up_is_rewritten_through_the_client_and_both_calls_are_accounted(
    make_service, settings, primary
):
    svc = make_service({PRIMARY: primary})
    customer = uuid.uuid4().hex
    conversation = (svc.start_conversation(customer_id=customer), customer)
    _assert_on_rung(_turn(svc, "Do you ship to Canada?", conversation=conversation), "full", model=PRIMARY)
    primary.reset()
    follow = _turn(svc, "How long does it take?", conversation=conversation)

    _assert_on_rung(follow, "full", model=PRIMARY)
    _assert_grounded(follow, settings.database_url)
    rewrite, answer = primary.chat_requests()
    assert not rewrite.has_tools and answer.has_tools
    assert rewrite.reply == "How long does it take?"  # the stub echoes the question as the rewrite
    assert "Do you ship to Canada?" in json.dumps(answer.body["messages"])  # Full keeps the history
    calls = follow.record["llm_calls"]
    assert set(calls) == {"rewrite", "answer"}
    assert not calls["rewrite"]["estimated"] and not calls["answer"]["estimated"]
    assert rewrite.usage is not None and answer.usage is not None
    assert follow.record["input_tokens"] == rewrite.usage["prompt_tokens"] + answer.usage["prompt_tokens"]
    assert follow.record["output_tokens"] == (
        rewrite.usage["completion_tokens"] + answer.usage["completion_tokens"]
    )
    assert follow.stream.text == follow.result.reply.content  # the rewrite is never streamed to the page


def test_retry_after_beyond_the_model_slot_moves_on_without_waiting(
    make_service, settings, primary, fallback
):
    svc = make_service({PRIMARY: primary, FALLBACK: fallback}, llm_model_timeout_s=2.0)
    primary.script(["429:30"])
    turn = _turn(svc)

    _assert_on_rung(turn, "degraded", model=FALLBACK)
    assert f"{PRIMARY} rate_limit" in turn.result.mode_reason
    _assert_grounded(turn, settings.database_url)
    assert len(primary.chat_requests()) == 1
    assert turn.seconds < 1.0


def test_streamed_text_survives_escaped_emoji_split_across_chunks(make_service):
    answer = "😀 {sentence} [1]"  # passage 1's own words, so the output rails let it through
    # Some OpenAI-compatible servers send arguments ASCII-escaped: the emoji is "\\ud83d\\ude00", and
    # one-character pieces split the surrogate pair across two chunks.
    with StubOpenAI(answer_text=answer, piece_chars=1, ascii_json=True) as stub:
        svc = make_service({PRIMARY: stub})
        turn = _turn(svc)

    _assert_on_rung(turn, "full", model=PRIMARY)
    assert turn.result.reply.content.startswith("😀 ") and turn.result.reply.content.endswith("[1]")
    assert not any("\ud800" <= ch <= "\udfff" for ch in turn.stream.text)  # never a lone surrogate
    assert turn.stream.text == turn.result.reply.content


# Degraded ------------------------------------------------------------------------------------------------
def test_primary_failing_every_time_falls_to_the_fallback(make_service, settings, primary, fallback):
    svc = make_service({PRIMARY: primary, FALLBACK: fallback})
    primary.set_default("500")
    turn = _turn(svc)

    _assert_on_rung(turn, "degraded", model=FALLBACK)
    assert PRIMARY in turn.result.mode_reason and "server" in turn.result.mode_reason
    _assert_grounded(turn, settings.database_url)
    assert len(primary.chat_requests()) == 1 + svc.settings.llm_max_retries
    [request] = fallback.chat_requests()
    system = request.body["messages"][0]["content"]
    assert "single question only" in system  # the fallback gets the shorter, single-turn context
    assert turn.stream.text == turn.result.reply.content == _answer_text(fallback)
    assert turn.record["llm_calls"]["answer"]["model"] == FALLBACK


def test_hanging_primary_is_abandoned_at_its_time_slot(make_service, settings, primary, fallback):
    svc = make_service({PRIMARY: primary, FALLBACK: fallback}, llm_model_timeout_s=1.0, llm_timeout_s=2.0)
    primary.set_default("hang")
    turn = _turn(svc)

    _assert_on_rung(turn, "degraded", model=FALLBACK)
    assert f"{PRIMARY} timeout" in turn.result.mode_reason
    _assert_grounded(turn, settings.database_url)
    assert turn.seconds < svc.settings.llm_model_timeout_s + 1.0
    assert len(primary.chat_requests()) == 1
    assert len(fallback.chat_requests()) == 1


@pytest.mark.parametrize("failure", ["malformed", "truncated", "empty"])
def test_unusable_output_from_the_primary_falls_to_the_fallback(
    make_service, settings, primary, fallback, failure
):
    svc = make_service({PRIMARY: primary, FALLBACK: fallback})
    primary.set_default(failure)
    turn = _turn(svc)

    _assert_on_rung(turn, "degraded", model=FALLBACK)
    assert PRIMARY in turn.result.mode_reason
    _assert_grounded(turn, settings.database_url)
    assert len(primary.chat_requests()) == 1  # bad output is not retried on the same model
    assert len(fallback.chat_requests()) == 1
    if failure in ("malformed", "truncated"):  # part of an answer was streamed, then withdrawn
        assert turn.stream.resets >= 1
    assert turn.stream.text == turn.result.reply.content


# Minimal -------------------------------------------------------------------------------------------------
def test_both_models_hanging_end_in_a_cited_quote_within_the_turn_budget(
    make_service, settings, primary, fallback
):
    svc = make_service({PRIMARY: primary, FALLBACK: fallback}, llm_model_timeout_s=1.0, llm_timeout_s=1.0)
    primary.set_default("hang")
    fallback.set_default("hang")
    turn = _turn(svc)

    _assert_on_rung(turn, "minimal", model=None)
    assert turn.result.mode_reason.startswith("no model answered")
    assert f"{PRIMARY} timeout" in turn.result.mode_reason
    _assert_grounded(turn, settings.database_url)
    assert turn.seconds < svc.settings.llm_timeout_s + 1.0
    assert len(primary.chat_requests()) == 1
    assert turn.stream.text == ""


def test_malformed_output_from_both_models_ends_in_a_cited_quote(make_service, settings, primary, fallback):
    svc = make_service({PRIMARY: primary, FALLBACK: fallback})
    primary.set_default("malformed")
    fallback.set_default("malformed")
    turn = _turn(svc)

    _assert_on_rung(turn, "minimal", model=None)
    assert turn.result.mode_reason == f"no model answered ({PRIMARY} malformed, {FALLBACK} malformed)"
    _assert_grounded(turn, settings.database_url)
    assert turn.stream.text == "" and turn.stream.resets >= 1
    assert (len(primary.chat_requests()), len(fallback.chat_requests())) == (1, 1)


# Breakers ------------------------------------------------------------------------------------------------
def test_open_breaker_skips_the_primary_and_a_successful_probe_climbs_back_to_full(
    make_service, settings, primary, fallback
):
    now = FakeClock()
    svc = make_service(
        {PRIMARY: primary, FALLBACK: fallback},
        clock=now,
        breaker_failure_threshold=2,
        llm_max_retries=0,
    )
    breaker = svc.health.breaker(f"llm:{PRIMARY}")
    primary.set_default("500")

    for _ in range(svc.settings.breaker_failure_threshold):
        _assert_on_rung(_turn(svc), "degraded", model=FALLBACK)
    assert breaker.state == "open"
    asked = len(primary.chat_requests())
    assert asked == svc.settings.breaker_failure_threshold

    skipped = _turn(svc)
    _assert_on_rung(skipped, "degraded", model=FALLBACK)
    assert f"{PRIMARY} circuit open" in skipped.result.mode_reason
    _assert_grounded(skipped, settings.database_url)
    assert len(primary.chat_requests()) == asked  # not even one request while open

    now.advance(svc.settings.breaker_cooldown_s + 1)
    assert breaker.state == "half_open"
    assert svc.status().mode == "full"
    primary.set_default("ok")
    probe = _turn(svc)

    _assert_on_rung(probe, "full", model=PRIMARY)
    _assert_grounded(probe, settings.database_url)
    assert len(primary.chat_requests()) == asked + 1
    assert breaker.state == "closed"


def test_failed_probe_goes_to_the_fallback_without_waiting_out_retry_after(make_service, primary, fallback):
    now = FakeClock()
    svc = make_service({PRIMARY: primary, FALLBACK: fallback}, clock=now, breaker_failure_threshold=1)
    primary.script(["500"])
    _assert_on_rung(_turn(svc), "degraded", model=FALLBACK)  # one failure opens it (threshold 1)
    assert len(primary.chat_requests()) == 1

    now.advance(svc.settings.breaker_cooldown_s + 1)
    primary.script(["429:1.5"])
    probe = _turn(svc)

    _assert_on_rung(probe, "degraded", model=FALLBACK)
    assert len(primary.chat_requests()) == 2  # the probe, and no retry: the breaker is open again
    assert probe.seconds < 1.0  # a retry the breaker will refuse is not worth waiting 1.5 s for
    assert f"{PRIMARY} rate_limit" in probe.result.mode_reason


def test_failed_probe_opens_the_breaker_again_for_another_cooldown(make_service, primary, fallback):
    now = FakeClock()
    svc = make_service(
        {PRIMARY: primary, FALLBACK: fallback},
        clock=now,
        breaker_failure_threshold=1,
        llm_max_retries=0,
    )
    breaker = svc.health.breaker(f"llm:{PRIMARY}")
    primary.set_default("500")
    _assert_on_rung(_turn(svc), "degraded", model=FALLBACK)
    assert breaker.state == "open"

    now.advance(svc.settings.breaker_cooldown_s + 1)
    probe = _turn(svc)
    _assert_on_rung(probe, "degraded", model=FALLBACK)
    assert len(primary.chat_requests()) == 2
    assert breaker.state == "open"

    _assert_on_rung(_turn(svc), "degraded", model=FALLBACK)
    assert len(primary.chat_requests()) == 2
