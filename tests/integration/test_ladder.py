"""The degradation ladder walked down and back up, over the demo help center with scripted models.

Real knowledge base (embedding model, Chroma, BM25), real SQLite or Postgres; only the LLMs are scripted.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import select

from agent.llm import ModelSlot
from agent.prompts import minimal
from agent.service import ChatService
from core.breakers import HealthRegistry
from core.chaos import ChaosController, FaultSpec
from core.db import session_scope
from core.faults import DependencyFault
from core.models import Message, TurnRecord
from evals.scripted import ScriptedChatModel, answer_call, grounded_answer
from handoff.models import Ticket
from knowledge.store import get_passage
from tests.clock import FakeClock

QUESTION = "How long do I have to return an item?"
LONG_CHAT = [
    "How do I return a lamp I bought last week?",
    "And how long does the refund take after that?",
    "Can I get it back on my gift card instead?",
    "Do you ship to Canada?",
    "What does expedited shipping cost there?",
]
"""Short turns of one conversation, more than a thread bounded at 6 messages holds."""


@dataclass
class Ladder:
    service: ChatService
    primary: ScriptedChatModel
    fallback: ScriptedChatModel
    health: HealthRegistry
    clock: FakeClock
    chaos: ChaosController

    def ask(self, text: str = QUESTION, conversation: tuple[str, str] | None = None, **kw):  # type: ignore[no-untyped-def]
        customer = conversation[1] if conversation else f"c-{uuid.uuid4().hex[:8]}"
        conv = conversation[0] if conversation else self.service.start_conversation(customer_id=customer)
        return self.service.send(conversation_id=conv, customer_id=customer, text=text, **kw)

    def conversation(self) -> tuple[str, str]:
        """A new customer's conversation, as `ask(conversation=...)` takes it."""
        customer = f"c-{uuid.uuid4().hex[:8]}"
        return self.service.start_conversation(customer_id=customer), customer

    def thread(self, conversation: tuple[str, str]) -> dict[str, Any]:
        """The conversation's LangGraph thread values, as the checkpointer keeps them."""
        return dict(self.service.graph.get_state({"configurable": {"thread_id": conversation[0]}}).values)

    def record(self, message_id: int) -> TurnRecord:
        with session_scope(self.service.db) as s:
            found = s.scalar(select(TurnRecord).where(TurnRecord.message_id == message_id))
            assert found is not None
            return found


def _summary_prompts(model: ScriptedChatModel, since: int = 0) -> list[str]:
    """The history each summary call the model got (from its `since`-th call on) was asked to fold in."""
    return [str(p[-1].content) for p in model.prompts[since:] if "Summarise this" in str(p[0].content)]


def _ladder(demo_service, settings, *, models: int = 2, **overrides) -> Iterator[Ladder]:  # type: ignore[no-untyped-def]
    """A service over the demo KB with scripted models, a fake clock, chaos, and its own spool folder."""
    clock = FakeClock()
    chaos = ChaosController(seed=7)
    health = HealthRegistry(failure_threshold=2, cooldown_s=30.0, clock=clock, chaos=chaos)
    kb = demo_service.kb
    previous = kb.health
    kb.attach_health(health)
    primary = ScriptedChatModel(responder=grounded_answer)
    fallback = ScriptedChatModel(responder=grounded_answer)
    slots = [ModelSlot("scripted:primary", primary), ModelSlot("scripted:fallback", fallback)][:models]
    config = settings.model_copy(
        update={
            "llm_timeout_s": 2.0,
            "llm_model_timeout_s": 1.0,
            "llm_rewrite_timeout_s": 0.5,
            "llm_backoff_s": 0.01,
            "llm_backoff_max_s": 0.02,
            "llm_prices": {"scripted:primary": (2.0, 8.0)},
            "data_dir": Path(tempfile.mkdtemp(prefix="ladder-")),
            **overrides,
        }
    )
    service = ChatService(config, kb=kb, health=health, checkpointer=InMemorySaver(), models=slots)
    try:
        yield Ladder(service, primary, fallback, health, clock, chaos)
    finally:
        chaos.clear()
        kb.attach_health(previous)  # type: ignore[arg-type]


@pytest.fixture
def ladder(demo_service, settings) -> Iterator[Ladder]:  # type: ignore[no-untyped-def]
    yield from _ladder(demo_service, settings)


def _assert_cited(service: ChatService, result) -> None:  # type: ignore[no-untyped-def]
    """Every citation names a stored passage, quotes it verbatim, and is referenced in the reply."""
    assert result.reply.citations, result.reply.content
    with session_scope(service.db) as s:
        for c in result.reply.citations:
            assert f"[{c['n']}]" in result.reply.content
            passage = get_passage(s, chunk_id=c["chunk_id"], version_id=c["version_id"])
            assert passage is not None
            assert " ".join(c["quote"].split()).replace("…", "").strip()
            assert " ".join(c["quote"].split()[:5]) in " ".join(passage.text.split())


def test_healthy_dependencies_answer_in_full_mode_streamed_and_cited(ladder):
    tokens: list[str] = []
    result = ladder.ask(on_token=tokens.append)
    assert result.mode == "full" and result.outcome == "answered"
    assert result.mode_reason == "all dependencies healthy"
    _assert_cited(ladder.service, result)
    assert len(tokens) > 3
    assert "".join(tokens).replace("[1]", "").strip() in result.reply.content
    record = ladder.record(result.message.id)
    assert record.model == "scripted:primary" and record.mode == "full"
    assert record.input_tokens > 0 and record.output_tokens > 0
    assert record.cost_usd is not None and record.cost_usd > 0
    assert record.llm_calls["answer"]["model"] == "scripted:primary"
    assert record.prompt_versions.get("answer") == 1


def test_primary_failing_falls_to_the_fallback_in_degraded_mode(ladder):
    ladder.primary.responder = lambda messages: DependencyFault("server", "HTTP 503")
    resets: list[bool] = []
    result = ladder.ask(on_reset=lambda: resets.append(True))
    assert result.mode == "degraded"
    assert "scripted:primary" in result.mode_reason and "scripted:fallback" in result.mode_reason
    _assert_cited(ladder.service, result)
    record = ladder.record(result.message.id)
    assert record.model == "scripted:fallback" and record.mode == "degraded"
    # Degraded is single-turn from fewer passages
    prompt = ladder.fallback.prompts[-1]
    assert prompt[-1].content.count("<passage ") <= ladder.service.settings.degraded_top_k


def test_every_model_failing_falls_to_minimal_quotes_with_citations(ladder):
    ladder.primary.responder = lambda messages: DependencyFault("server", "HTTP 500")
    ladder.fallback.responder = lambda messages: DependencyFault("malformed", "bad JSON")
    result = ladder.ask()
    assert result.mode == "minimal" and result.outcome == "answered"
    assert "no model answered" in result.mode_reason
    assert result.reply.content.startswith(minimal.ANSWER_INTRO)
    _assert_cited(ladder.service, result)


def test_a_hanging_model_is_answered_in_minimal_within_the_timeout_plus_one_second(demo_service, settings):
    for ladder in _ladder(demo_service, settings, models=1, llm_timeout_s=1.0, llm_model_timeout_s=1.0):
        ladder.primary.latency_s = 8.0
        started = time.monotonic()
        result = ladder.ask()
        elapsed = time.monotonic() - started
        assert result.mode == "minimal"
        assert "timeout" in result.mode_reason
        _assert_cited(ladder.service, result)
        assert elapsed < 1.0 + 1.0, elapsed


def test_vector_index_down_serves_lexical_retrieval_on_the_degraded_rung(ladder):
    ladder.chaos.set("vector_index", FaultSpec(error_rate=1.0))
    first = ladder.ask()
    assert first.mode == "degraded" and "lexical" in first.mode_reason
    _assert_cited(ladder.service, first)
    assert ladder.health.breaker("vector_index").state == "closed"  # one failure of a threshold of two
    ladder.ask()
    assert ladder.health.breaker("vector_index").state == "open"
    calls = ladder.chaos.calls["vector_index"]
    third = ladder.ask()
    assert ladder.chaos.calls["vector_index"] == calls  # open: not even tried
    assert third.mode == "degraded" and "lexical" in third.mode_reason
    _assert_cited(ladder.service, third)


def test_no_model_and_no_vector_index_gives_lexical_minimal(ladder):
    ladder.primary.responder = lambda messages: DependencyFault("server", "HTTP 500")
    ladder.fallback.responder = lambda messages: DependencyFault("server", "HTTP 500")
    ladder.chaos.set("vector_index", FaultSpec(error_rate=1.0))
    ladder.ask()
    ladder.ask()  # two failing turns open every breaker
    result = ladder.ask()
    assert result.mode == "minimal"
    assert "no LLM available" in result.mode_reason and "lexical" in result.mode_reason
    _assert_cited(ladder.service, result)


def test_retrieval_failing_outright_is_offline_with_a_ticket(ladder, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("index files unreadable")

    monkeypatch.setattr(ladder.service.kb, "search", broken)
    result = ladder.ask()
    assert result.mode == "offline" and result.reply.content == minimal.OFFLINE
    assert not result.reply.citations
    with session_scope(ladder.service.db) as s:
        tickets = s.scalars(select(Ticket).where(Ticket.conversation_id == result.conversation_id)).all()
        assert [t.reason for t in tickets] == ["offline"]


def test_database_down_spools_the_message_and_replays_it_when_it_returns(ladder):
    customer = f"c-{uuid.uuid4().hex[:8]}"
    conv = ladder.service.start_conversation(customer_id=customer)
    ladder.chaos.set("database", FaultSpec(error_rate=1.0))
    down = ladder.service.send(conversation_id=conv, customer_id=customer, text="Is my parcel lost?")
    assert down.spooled and down.mode == "offline" and down.reply.content == minimal.OFFLINE
    shown = ladder.service.transcript(conversation_id=conv, customer_id=customer)
    assert [m.content for m in shown] == ["Is my parcel lost?", minimal.OFFLINE]
    assert ladder.service.status().mode == "offline"  # two failures of a threshold of two: breaker open
    saved = ladder.service.leave_contact(
        conversation_id=conv, customer_id=customer, contact="kim@example.com", note="call after 5pm"
    )
    assert saved == minimal.CONTACT_SAVED

    ladder.chaos.clear()
    ladder.clock.advance(31)  # the database breaker lets a probe through
    after = ladder.ask("What are your phone hours?", conversation=(conv, customer))
    assert not after.spooled
    assert len(ladder.service.spool) == 0
    with session_scope(ladder.service.db) as s:
        messages = s.scalars(
            select(Message).where(Message.conversation_id == conv).order_by(Message.id)
        ).all()
        assert [m.content for m in messages][:2] == ["Is my parcel lost?", minimal.OFFLINE]
        assert messages[0].status == "answered"
        tickets = s.scalars(select(Ticket).where(Ticket.conversation_id == conv)).all()
        assert len(tickets) == 1 and tickets[0].contact == "kim@example.com"
        assert tickets[0].note == "call after 5pm"
    # replaying again changes nothing: every entry is idempotent
    assert ladder.service.replay_spool() == 0


def test_half_open_probes_climb_back_to_full(ladder):
    ladder.primary.script = [DependencyFault("timeout", "slow")] * 2
    first = ladder.ask()
    assert first.mode == "degraded"
    assert ladder.health.breaker("llm:scripted:primary").state == "open"
    calls = ladder.primary.calls
    second = ladder.ask()
    assert second.mode == "degraded" and ladder.primary.calls == calls  # open: no call to the primary
    assert "circuit open" in second.mode_reason or "unavailable" in second.mode_reason
    ladder.clock.advance(31)
    assert ladder.health.breaker("llm:scripted:primary").state == "half_open"
    third = ladder.ask()
    assert third.mode == "full" and ladder.primary.calls == calls + 1
    assert ladder.health.breaker("llm:scripted:primary").state == "closed"
    assert ladder.health.last_mode is not None and ladder.health.last_mode.mode == "full"


def test_a_failed_probe_opens_the_breaker_again(ladder):
    ladder.primary.script = [DependencyFault("server", "x")] * 3
    ladder.ask()
    ladder.clock.advance(31)
    result = ladder.ask()
    assert result.mode == "degraded"
    assert ladder.health.breaker("llm:scripted:primary").state == "open"


def test_answer_citing_a_passage_it_was_not_given_is_replaced_by_quotes(ladder):
    ladder.primary.script = [answer_call("Returns are accepted for 365 days [7].")]
    result = ladder.ask()
    assert result.mode == "minimal" and "not grounded" in result.mode_reason
    assert "365" not in result.reply.content
    _assert_cited(ladder.service, result)
    record = ladder.record(result.message.id)
    assert record.guards["grounding"]["blocked"]


def test_model_that_cannot_answer_says_so_instead_of_guessing(ladder):
    ladder.primary.script = [answer_call("I could not find that.", answerable=False, confidence=0.1)]
    result = ladder.ask("Do you sell garden gnomes shaped like famous chess players?")
    assert result.outcome in ("unknown",)
    assert result.reply.content == minimal.UNKNOWN
    assert not result.reply.citations


def test_follow_up_is_rewritten_and_old_turns_are_summarised_a_batch_at_a_time(demo_service, settings):
    """With a context window of about one turn, the turns that pass out of it wait for the summary in
    batches of three exchanges, and the answer gets them verbatim meanwhile: nothing said is out of sight."""
    questions = [
        "How do I return a lamp I bought last week?",
        "And how long does the refund take after that?",
        "Can I get it back on my gift card instead?",
        "Is there a fee for returning it by post?",
        "Can I drop it at a store instead?",
    ]
    for ladder in _ladder(demo_service, settings, llm_context_tokens=20):
        conv = ladder.conversation()
        summarised_at = []
        for n, text in enumerate(questions, start=1):
            result = ladder.ask(text, conversation=conv)
            assert result.mode == "full"
            record = ladder.record(result.message.id)
            if n > 1:
                assert "rewrite" in record.llm_calls and record.prompt_versions["rewrite_query"] == 1
            if "summary" in record.llm_calls:
                summarised_at.append(n)
                assert record.prompt_versions["summarise_history"] == 1
            answer_prompt = "\n".join(str(m.content) for m in ladder.primary.prompts[-1])
            if not summarised_at:  # out of the window, not summarised yet: sent verbatim
                assert all(earlier in answer_prompt for earlier in questions[: n - 1])
            assert record.input_tokens == sum(c["input_tokens"] for c in record.llm_calls.values())
        # one summary call, once three exchanges (six entries) had passed out of the window: not one a turn
        assert summarised_at == [4]
        answer_prompt = "\n".join(str(m.content) for m in ladder.primary.prompts[-1])
        assert "Summary of the earlier conversation" in answer_prompt
        assert questions[0] not in answer_prompt  # summarised, no longer sent verbatim


def test_a_summary_far_behind_takes_in_every_waiting_turn_oldest_first(demo_service, settings):
    """The summary times out for several turns (an optional step: the turns go on in Full mode); when it
    answers again, every turn that waited is folded in, a chunk a call, none skipped."""
    slow = {"summary": True}

    def responder(messages):  # type: ignore[no-untyped-def]
        if "Summarise this" in str(messages[0].content) and slow["summary"]:
            time.sleep(0.6)  # past LLM_REWRITE_TIMEOUT_S: the summary is skipped this turn
        return grounded_answer(messages)

    questions = [f"How do I return item number {n} that I bought last week?" for n in range(1, 10)]
    for ladder in _ladder(demo_service, settings, llm_context_tokens=20, llm_rewrite_timeout_s=0.3):
        ladder.primary.responder = responder
        conv = ladder.conversation()
        for text in questions[:-1]:
            assert ladder.ask(text, conversation=conv).mode == "full"
        slow["summary"] = False
        asked = len(ladder.primary.prompts)
        result = ladder.ask(questions[-1], conversation=conv)

        record = ladder.record(result.message.id)
        assert {"summary", "summary-2"} <= set(record.llm_calls)  # 14 waiting entries: two chunks of <= 12
        folded = "\n".join(_summary_prompts(ladder.primary, since=asked))
        assert all(q in folded for q in questions[:7])  # every question that had left the window
        values = ladder.thread(conv)
        assert values["summary_upto"] >= 14


def test_a_long_full_mode_conversation_keeps_a_bounded_thread_and_summarises_what_leaves(
    demo_service, settings
):
    """Short turns fit the model's context (nothing is "older" by tokens), yet the thread is bounded: what
    leaves it is summarised first, and the answer gets that summary."""
    questions = LONG_CHAT
    for ladder in _ladder(demo_service, settings, history_max_messages=6):
        conv = ladder.conversation()
        for n, text in enumerate(questions):
            result = ladder.ask(text, conversation=conv)
            assert result.mode == "full" and result.outcome == "answered"
            values = ladder.thread(conv)
            assert len(values["messages"]) <= 6 and values["messages"][0].type == "human"
            if n >= 3:  # turns have left: the summary covered them, and counts none of what stays
                assert values["summary"] and values.get("summary_upto", 0) == 0
        # the first turn was summarised before it left
        assert any(questions[0] in text for text in _summary_prompts(ladder.primary))
        last_answer = ladder.primary.prompts[-1]
        assert any("Summary of the earlier conversation" in str(m.content) for m in last_answer)
        transcript = ladder.service.transcript(conversation_id=conv[0], customer_id=conv[1])
        assert [m.content for m in transcript if m.role == "customer"] == questions  # SQL keeps everything


def test_a_long_degraded_stretch_summarises_what_leaves_the_thread(demo_service, settings):
    """With the vector index down (Degraded: the primary model answers single-turn) the thread stays bounded
    too: the turns about to leave it are summarised first, so Full mode finds them in the summary later."""
    questions = LONG_CHAT
    for ladder in _ladder(demo_service, settings, history_max_messages=6):
        ladder.chaos.set("vector_index", FaultSpec(error_rate=1.0))
        for _ in range(2):  # two failures open its breaker: every turn below starts Degraded
            ladder.ask()
        assert ladder.health.breaker("vector_index").state == "open"
        asked = len(ladder.primary.prompts)
        conv = ladder.conversation()
        for text in questions:
            result = ladder.ask(text, conversation=conv)
            assert result.mode == "degraded" and result.outcome == "answered"
            assert len(ladder.thread(conv)["messages"]) <= 6  # at the limit, not twice it (unsummarised)
        assert any(questions[0] in text for text in _summary_prompts(ladder.primary, since=asked))
        assert ladder.thread(conv)["summary"]
        rewrites = [p for p in ladder.primary.prompts[asked:] if "standalone" in str(p[0].content).lower()]
        assert not rewrites  # a Degraded answer is single-turn: no follow-up rewrite


def test_with_the_primary_model_down_the_fallback_summarises_what_leaves_the_thread(demo_service, settings):
    """The primary down, the fallback answers (Degraded). What is about to leave the thread cannot wait for
    the primary: the fallback summarises it, so it is not dropped unsummarised. Routine batches (Full mode)
    stay with the primary."""
    questions = LONG_CHAT
    for ladder in _ladder(demo_service, settings, history_max_messages=6):
        ladder.primary.responder = lambda messages: DependencyFault("server", "HTTP 503")
        for _ in range(2):  # two failures open its breaker: every turn below starts on the fallback
            ladder.ask()
        assert ladder.health.breaker("llm:scripted:primary").state == "open"
        primary_calls, asked = len(ladder.primary.prompts), len(ladder.fallback.prompts)
        conv = ladder.conversation()
        for text in questions:
            result = ladder.ask(text, conversation=conv)
            assert result.mode == "degraded" and result.outcome == "answered"
            assert ladder.record(result.message.id).model == "scripted:fallback"
            assert len(ladder.thread(conv)["messages"]) <= 6  # at the limit, not twice it (unsummarised)
        assert len(ladder.primary.prompts) == primary_calls  # its circuit is open: never asked
        folded = _summary_prompts(ladder.fallback, since=asked)
        assert any(questions[0] in text for text in folded)
        assert ladder.thread(conv)["summary"]


def test_rate_limited_primary_via_chaos_lands_on_the_fallback(ladder):
    ladder.chaos.set("llm:scripted:primary", FaultSpec(rate_limit_rate=1.0, retry_after_s=5.0))
    started = time.monotonic()
    result = ladder.ask()
    assert result.mode == "degraded" and "rate_limit" in result.mode_reason
    assert time.monotonic() - started < 2.0  # a Retry-After beyond the model's slot is not waited out


def test_a_model_that_cannot_be_built_is_never_tried_and_the_reason_says_why(demo_service, settings):
    from agent.llm import build_models

    update = {"llm_models": ["nosuch:model"], "breaker_cooldown_s": 0.0, "data_dir": Path(tempfile.mkdtemp())}
    config = settings.model_copy(update=update)
    slots = build_models(config)
    assert slots[0].model is None and slots[0].error
    service = ChatService(config, kb=demo_service.kb, checkpointer=InMemorySaver(), models=slots)
    conv = service.start_conversation(customer_id="c-unbuilt")
    result = service.send(conversation_id=conv, customer_id="c-unbuilt", text=QUESTION)
    assert result.mode == "minimal"  # even with the breaker's cool-down over, an unbuilt model stays out
    assert "nosuch:model" in result.mode_reason and "not usable" in result.mode_reason
    _assert_cited(service, result)


def test_a_hung_vector_index_is_abandoned_at_the_retrieval_timeout(demo_service, settings):
    retriever = demo_service.kb.retriever
    for ladder in _ladder(demo_service, settings):
        retriever.dense_timeout_s = 0.5
        ladder.chaos.set("vector_index", FaultSpec(hang_rate=1.0, hang_s=5.0))
        started = time.monotonic()
        result = ladder.ask()
        assert time.monotonic() - started < 1.5
        assert result.mode == "degraded" and "lexical" in result.mode_reason
        _assert_cited(ladder.service, result)
    retriever.dense_timeout_s = settings.retrieval_timeout_s


def test_a_spooled_entry_the_database_rejects_is_set_aside_and_the_rest_replayed(ladder):
    owner = f"c-{uuid.uuid4().hex[:8]}"
    taken = ladder.service.start_conversation(customer_id=owner)
    ladder.service.spool.append(  # claims someone else's conversation: must never be applied
        {
            "kind": "turn",
            "conversation_id": taken,
            "customer_id": "intruder",
            "text": "hi",
            "key": "x1",
            "reply": minimal.OFFLINE,
        }
    )
    other = str(uuid.uuid4())
    ladder.service.spool.append({"kind": "conversation", "conversation_id": other, "customer_id": "c-late"})
    assert ladder.service.replay_spool() == 2
    assert len(ladder.service.spool) == 0
    dead = ladder.service.spool.path.with_name("pending.dead.jsonl").read_text()
    assert "intruder" in dead and "NotYourConversation" in dead
    assert [c["id"] for c in ladder.service.conversations(customer_id="c-late")] == [other]
    assert ladder.service.transcript(conversation_id=taken, customer_id=owner) == []


def test_a_message_spooled_under_a_key_the_database_holds_for_another_is_kept_and_answered(ladder):
    """A client reused an idempotency key while the database was down (no 409 could be said): at replay
    the new message is stored beside the old one and gets its Offline reply, once however often replayed."""
    svc, owner = ladder.service, f"c-{uuid.uuid4().hex[:8]}"
    conv = svc.start_conversation(customer_id=owner)
    svc.send(conversation_id=conv, customer_id=owner, text="How long do refunds take?", idempotency_key="k1")
    entry = {
        "kind": "turn",
        "conversation_id": conv,
        "customer_id": owner,
        "text": "My parcel never arrived",
        "key": "k1",
        "reply": minimal.OFFLINE,
    }
    svc.spool.append(entry)
    assert svc.replay_spool() == 1
    svc.spool.append(entry)  # replayed again (a crash between the commit and the spool's truncation)
    assert svc.replay_spool() == 1

    shown = [(m.role, m.content) for m in svc.transcript(conversation_id=conv, customer_id=owner)]
    assert shown[0] == ("customer", "How long do refunds take?") and shown[1][0] == "assistant"
    assert shown[2:] == [("customer", "My parcel never arrived"), ("assistant", minimal.OFFLINE)]
    assert not svc.spool.path.with_name("pending.dead.jsonl").exists()
