"""A conversation handed to a person and back, through the service the pages use.

Real knowledge base, real SQLite (its own file per test), the real LangGraph checkpointer with interrupt
and resume; only the LLM (when a test needs Full mode) is scripted.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import func, select

from agent.llm import ModelSlot
from agent.service import ChatService
from core import users
from core.breakers import HealthRegistry
from core.db import session_scope
from core.migrate import upgrade
from core.models import Message, TurnRecord
from core.users import AuthenticatedUser, PermissionDenied
from evals.scripted import ScriptedChatModel, grounded_answer
from handoff.models import Ticket
from handoff.queue import ClaimConflict

BRIEF = "Customer wants to return a sofa bought last week and asked for a person."


@pytest.fixture
def desk_service(demo_service, settings) -> Iterator[ChatService]:  # type: ignore[no-untyped-def]
    yield from _service(demo_service, settings, models=None)


def _service(demo_service, settings, *, models) -> Iterator[ChatService]:  # type: ignore[no-untyped-def]
    folder = Path(tempfile.mkdtemp(prefix="handoff-"))
    config = settings.model_copy(
        update={"data_dir": folder, "database_url": f"sqlite:///{folder / 'support.db'}"}
    )
    upgrade(config.database_url)
    kb = demo_service.kb
    previous = kb.health
    health = HealthRegistry()
    kb.attach_health(health)
    try:
        yield ChatService(config, kb=kb, health=health, checkpointer=InMemorySaver(), models=models or [])
    finally:
        kb.attach_health(previous)


def _agent(svc: ChatService, username: str, display: str, role: str = "agent") -> AuthenticatedUser:
    with session_scope(svc.db) as s:
        users.create_user(
            s,
            username=username,
            display_name=display,
            role=role,
            password="a-long-test-pass",
            settings=svc.settings,
        )
    user = svc.authenticate(username=username, password="a-long-test-pass")
    assert user is not None
    return user


def _chat(svc: ChatService) -> tuple[str, str]:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    return svc.start_conversation(customer_id=customer), customer


def _ticket(svc: ChatService, conversation_id: str) -> Ticket:
    with session_scope(svc.db) as s:
        found = s.scalar(select(Ticket).where(Ticket.conversation_id == conversation_id))
        assert found is not None
        return found


def test_a_person_takes_over_replies_live_and_hands_back(desk_service):
    svc = desk_service
    conv, customer = _chat(svc)
    first = svc.send(conversation_id=conv, customer_id=customer, text="How do I return an item?")
    assert first.outcome == "answered"

    asked = svc.send(
        conversation_id=conv, customer_id=customer, text="I'd like to talk to a real person please"
    )

    assert asked.outcome == "handoff" and asked.reply is not None
    assert "connecting you" in asked.reply.content
    ticket = _ticket(svc, conv)
    assert (ticket.status, ticket.reason) == ("waiting", "explicit_request")
    packet = ticket.packet
    assert packet["summary_source"] == "template"  # Minimal mode: no LLM
    assert "real person" in packet["summary"]
    assert packet["intent"]["question"] == "How do I return an item?"  # the request itself says nothing
    assert packet["bot_turns"][0]["outcome"] == "answered" and packet["bot_turns"][0]["citations"]
    assert packet["triggers"][0]["reason"] == "explicit_request"
    assert svc.graph.get_state({"configurable": {"thread_id": conv}}).interrupts  # the thread waits

    waiting = svc.desk.status(conversation_id=conv, customer_id=customer)
    assert waiting is not None and waiting.state == "waiting" and waiting.position == 1
    assert waiting.wait_s and waiting.wait_s > 0

    meanwhile = svc.send(conversation_id=conv, customer_id=customer, text="My order number is BW-123456")
    assert meanwhile.held and meanwhile.reply is None  # the bot stays silent while a person is coming

    alex, sam = _agent(svc, "alex", "Alex"), _agent(svc, "sam", "Sam")
    queue = svc.desk.queue(alex)
    assert [item.id for item in queue] == [ticket.id]
    assert queue[0].summary and queue[0].sla_remaining_s is not None

    svc.desk.claim(alex, ticket.id)
    with pytest.raises(ClaimConflict, match="alex"):
        svc.desk.claim(sam, ticket.id)
    joined = svc.desk.status(conversation_id=conv, customer_id=customer)
    assert joined is not None and (joined.state, joined.agent) == ("assigned", "Alex")

    svc.desk.reply(alex, ticket.id, "Hi, I'm Alex. I can see order BW-123456; let me check it.")
    transcript = svc.transcript(conversation_id=conv, customer_id=customer)
    assert any(m.role == "system" and m.content == "Alex joined the chat" for m in transcript)
    agent_msgs = [m for m in transcript if m.role == "agent"]
    assert agent_msgs and agent_msgs[0].author == "Alex" and "BW-123456" in agent_msgs[0].content
    still = svc.send(conversation_id=conv, customer_id=customer, text="Thanks Alex!")
    assert still.held

    svc.desk.hand_back(alex, ticket.id)

    assert _ticket(svc, conv).status == "returned"
    state = svc.graph.get_state({"configurable": {"thread_id": conv}})
    assert not state.interrupts
    contents = [str(m.content) for m in state.values["messages"]]
    assert "My order number is BW-123456" in contents  # what was said meanwhile joins the thread
    assert any("let me check it" in c for c in contents)
    assert svc.desk.status(conversation_id=conv, customer_id=customer) is None
    after = svc.send(conversation_id=conv, customer_id=customer, text="How long do refunds take?")
    assert after.outcome == "answered" and after.reply is not None and after.reply.citations


def test_only_staff_can_use_the_desk(desk_service):
    svc = desk_service
    shopper = _agent(svc, "shopper", "Shopper", role="customer")
    for user in (None, shopper):
        with pytest.raises(PermissionDenied):
            svc.desk.queue(user)


def test_handing_off_is_idempotent_for_a_replayed_message(desk_service):
    svc = desk_service
    conv, customer = _chat(svc)
    a = svc.send(conversation_id=conv, customer_id=customer, text="agent please", idempotency_key="k1")
    b = svc.send(conversation_id=conv, customer_id=customer, text="agent please", idempotency_key="k1")
    assert a.outcome == "handoff" and b.replayed
    with session_scope(svc.db) as s:
        assert s.scalar(select(func.count(Ticket.id)).where(Ticket.conversation_id == conv)) == 1


def test_a_safety_risk_hands_off_at_once_with_advice_first(desk_service):
    svc = desk_service
    conv, customer = _chat(svc)
    result = svc.send(
        conversation_id=conv,
        customer_id=customer,
        text="The heater you sold me is sparking and smells of burning",
    )
    assert result.outcome == "handoff" and result.reply is not None
    assert "emergency" in result.reply.content
    ticket = _ticket(svc, conv)
    assert ticket.reason == "risky_topic" and ticket.priority >= 80


def test_two_unanswerable_questions_hand_off_on_the_third_turn(desk_service):
    svc = desk_service
    conv, customer = _chat(svc)
    for text in ("What is the airspeed of a swallow?", "Who won the 1966 world cup final?"):
        r = svc.send(conversation_id=conv, customer_id=customer, text=text)
        assert r.outcome == "unknown"  # a person is offered, not forced
    with session_scope(svc.db) as s:
        assert s.scalar(select(func.count(Ticket.id)).where(Ticket.conversation_id == conv)) == 0
    third = svc.send(conversation_id=conv, customer_id=customer, text="Do you sell garden furniture?")
    assert third.outcome == "handoff"
    assert _ticket(svc, conv).reason == "repeated_failure"


def test_the_turn_record_keeps_the_sentiment_and_triggers(desk_service):
    svc = desk_service
    conv, customer = _chat(svc)
    result = svc.send(
        conversation_id=conv,
        customer_id=customer,
        text="This is the WORST service ever, three weeks and still no parcel. Absolutely useless!!!",
    )
    assert result.outcome == "handoff"
    with session_scope(svc.db) as s:
        record = s.scalar(select(TurnRecord).where(TurnRecord.message_id == result.message.id))
        assert record is not None and record.handoff_reason == "sentiment"
        assert record.guards["handoff"]["sentiment"] < -0.6


def _briefing(messages: list[BaseMessage]):  # type: ignore[no-untyped-def]
    if "Brief for the agent" in str(messages[-1].content):
        return BRIEF
    return grounded_answer(messages)


def test_full_mode_writes_the_summary_with_the_llm(demo_service, settings):
    model = ScriptedChatModel(responder=_briefing)
    for svc in _service(demo_service, settings, models=[ModelSlot("scripted:primary", model)]):
        conv, customer = _chat(svc)
        result = svc.send(conversation_id=conv, customer_id=customer, text="Can I speak to a human agent?")
        assert result.outcome == "handoff" and result.mode == "full"
        packet = _ticket(svc, conv).packet
        assert (packet["summary"], packet["summary_source"]) == (BRIEF, "llm")


def test_full_mode_falls_back_to_the_template_when_the_model_fails(demo_service, settings):
    model = ScriptedChatModel(responder=lambda messages: RuntimeError("provider down"))
    for svc in _service(demo_service, settings, models=[ModelSlot("scripted:primary", model)]):
        conv, customer = _chat(svc)
        result = svc.send(conversation_id=conv, customer_id=customer, text="Can I speak to a human agent?")
        assert result.outcome == "handoff"
        packet = _ticket(svc, conv).packet
        assert packet["summary_source"] == "template" and "human agent" in packet["summary"]


def test_messages_while_held_are_stored_for_the_person(desk_service):
    svc = desk_service
    conv, customer = _chat(svc)
    svc.send(conversation_id=conv, customer_id=customer, text="get me a human")
    held = svc.send(conversation_id=conv, customer_id=customer, text="hello? anyone there?")
    with session_scope(svc.db) as s:
        stored = s.get(Message, held.message.id)
        assert stored is not None and stored.status == "for_agent"
        assert s.scalar(select(func.count(Message.id)).where(Message.reply_to == held.message.id)) == 0
