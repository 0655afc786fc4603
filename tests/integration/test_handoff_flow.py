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
from handoff.models import Ticket, TicketEvent
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
    conv, _customer = _chat(svc)
    svc.send(conversation_id=conv, customer_id=_customer, text="agent please")
    ticket_id = _ticket(svc, conv).id
    shopper = _agent(svc, "shopper", "Shopper", role="customer")
    actions = [
        lambda u: svc.desk.queue(u),
        lambda u: svc.desk.ticket(u, ticket_id),
        lambda u: svc.desk.claim(u, ticket_id),
        lambda u: svc.desk.claim_next(u),
        lambda u: svc.desk.note(u, ticket_id, "x"),
        lambda u: svc.desk.reply(u, ticket_id, "x"),
        lambda u: svc.desk.resolve(u, ticket_id, outcome="solved"),
        lambda u: svc.desk.hand_back(u, ticket_id),
    ]
    for user in (None, shopper):
        for act in actions:
            with pytest.raises(PermissionDenied):
                act(user)
    assert _ticket(svc, conv).status == "waiting"


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
        assert record.guards["triggers"][0]["reason"] == "sentiment"
        assert record.guards["triggers"][0]["evidence"]


def test_an_unanswerable_question_records_a_low_confidence_offer(desk_service):
    svc = desk_service
    conv, customer = _chat(svc)
    result = svc.send(conversation_id=conv, customer_id=customer, text="What is the airspeed of a swallow?")
    assert result.outcome == "unknown"
    with session_scope(svc.db) as s:
        record = s.scalar(select(TurnRecord).where(TurnRecord.message_id == result.message.id))
        assert record is not None
        offer = record.guards["triggers"][-1]
        assert (offer["reason"], offer["escalate"]) == ("low_confidence", False)
        assert "confidence" in offer["evidence"]


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


def _handed_to_alex(svc: ChatService) -> tuple[str, str, int, AuthenticatedUser]:
    conv, customer = _chat(svc)
    svc.send(conversation_id=conv, customer_id=customer, text="agent please")
    alex = _agent(svc, f"alex{uuid.uuid4().hex[:6]}", "Alex")
    ticket_id = _ticket(svc, conv).id
    svc.desk.claim(alex, ticket_id)
    return conv, customer, ticket_id, alex


def test_a_failed_resume_is_reported_and_repaired_by_the_next_message(desk_service, monkeypatch):
    svc = desk_service
    conv, customer, ticket_id, alex = _handed_to_alex(svc)
    svc.desk.reply(alex, ticket_id, "Your parcel left the warehouse today.")
    real_invoke = svc.graph.invoke
    monkeypatch.setattr(svc.graph, "invoke", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))

    assert svc.desk.hand_back(alex, ticket_id) is False
    assert svc.interrupted_state(conv) is not None  # the thread still waits

    monkeypatch.setattr(svc.graph, "invoke", real_invoke)
    after = svc.send(conversation_id=conv, customer_id=customer, text="How long do refunds take?")
    assert after.outcome == "answered" and not after.held
    contents = [
        str(m.content) for m in svc.graph.get_state({"configurable": {"thread_id": conv}}).values["messages"]
    ]
    assert "Your parcel left the warehouse today." in contents  # the person's words reached the thread


def test_a_handoff_whose_ticket_was_never_stored_is_repaired(desk_service):
    svc = desk_service
    conv, customer = _chat(svc)
    first = svc.send(conversation_id=conv, customer_id=customer, text="agent please")
    with session_scope(svc.db) as s:  # as if the process died after the graph paused, before the write
        s.query(TurnRecord).filter(TurnRecord.conversation_id == conv).delete()
        ids = list(s.scalars(select(Ticket.id).where(Ticket.conversation_id == conv)))
        s.query(TicketEvent).filter(TicketEvent.ticket_id.in_(ids)).delete()
        s.query(Ticket).filter(Ticket.id.in_(ids)).delete()
        s.query(Message).filter(Message.reply_to == first.message.id).delete()

    later = svc.send(conversation_id=conv, customer_id=customer, text="hello? is anyone there?")

    assert later.held
    ticket = _ticket(svc, conv)
    assert (ticket.status, ticket.reason) == ("waiting", "explicit_request")
    with session_scope(svc.db) as s:
        reply = s.scalar(select(Message).where(Message.reply_to == first.message.id))
        assert reply is not None and "connecting you" in reply.content


def test_resending_a_message_the_person_had_never_gets_a_bot_answer(desk_service):
    svc = desk_service
    conv, customer, ticket_id, alex = _handed_to_alex(svc)
    held = svc.send(
        conversation_id=conv, customer_id=customer, text="It's the blue one", idempotency_key="m-7"
    )
    svc.desk.hand_back(alex, ticket_id)

    again = svc.send(
        conversation_id=conv, customer_id=customer, text="It's the blue one", idempotency_key="m-7"
    )

    assert held.held and again.held and again.replayed and again.reply is None


def test_resolving_tells_the_customer_and_the_bot_answers_what_comes_next(desk_service):
    svc = desk_service
    conv, customer, ticket_id, alex = _handed_to_alex(svc)
    assert svc.desk.resolve(alex, ticket_id, outcome="solved") is True
    transcript = svc.transcript(conversation_id=conv, customer_id=customer)
    assert "marked this conversation as resolved" in transcript[-1].content
    after = svc.send(conversation_id=conv, customer_id=customer, text="How do I return an item?")
    assert after.outcome == "answered"


def test_a_waiting_customer_can_go_back_to_the_assistant(desk_service):
    svc = desk_service
    conv, customer = _chat(svc)
    svc.send(conversation_id=conv, customer_id=customer, text="get me a human")
    assert svc.desk.withdraw(conversation_id=conv, customer_id=customer) is True
    assert _ticket(svc, conv).status == "returned"
    after = svc.send(conversation_id=conv, customer_id=customer, text="How do I return an item?")
    assert after.outcome == "answered"


def _replies_to(svc: ChatService, message_id: int) -> list[str]:
    with session_scope(svc.db) as s:
        return [m.content for m in s.scalars(select(Message).where(Message.reply_to == message_id))]


def test_going_back_to_the_assistant_gets_the_question_asked_while_waiting_answered(desk_service):
    svc = desk_service
    conv, customer = _chat(svc)
    svc.send(conversation_id=conv, customer_id=customer, text="get me a human")
    asked = svc.send(
        conversation_id=conv, customer_id=customer, text="How long do refunds take?", idempotency_key="q-1"
    )
    assert asked.held

    assert svc.desk.withdraw(conversation_id=conv, customer_id=customer) is True

    [reply] = _replies_to(svc, asked.message.id)
    assert "refund" in reply.lower()
    transcript = svc.transcript(conversation_id=conv, customer_id=customer)
    assert [m.role for m in transcript[-3:]] == ["customer", "system", "assistant"]
    humans = [
        str(m.content)
        for m in svc.graph.get_state({"configurable": {"thread_id": conv}}).values["messages"]
        if m.type == "human"
    ]
    assert humans.count("How long do refunds take?") == 1  # in the thread once: as the question answered
    again = svc.send(
        conversation_id=conv,
        customer_id=customer,
        text="How long do refunds take?",
        idempotency_key="q-1",
    )
    assert again.replayed and again.reply is not None and again.reply.content == reply


def test_a_person_who_hands_back_had_the_message_and_the_assistant_does_not_answer_it(desk_service):
    svc = desk_service
    conv, customer, ticket_id, alex = _handed_to_alex(svc)
    held = svc.send(conversation_id=conv, customer_id=customer, text="Thanks, that's all")
    assert svc.desk.hand_back(alex, ticket_id) is True
    assert _replies_to(svc, held.message.id) == []


def test_an_admin_puts_a_ticket_whose_agent_left_back_in_the_queue_or_passes_it_on(desk_service):
    from handoff.queue import NotAssignee

    svc = desk_service
    conv, customer, ticket_id, alex = _handed_to_alex(svc)
    sam = _agent(svc, f"sam{uuid.uuid4().hex[:6]}", "Sam")
    root = _agent(svc, f"root{uuid.uuid4().hex[:6]}", "Root", role="admin")
    with pytest.raises(NotAssignee, match="only they"):
        svc.desk.release(sam, ticket_id)  # another agent cannot take it from Alex
    with session_scope(svc.db) as s:
        users.deactivate(s, username=alex.username)  # Alex leaves with the chat claimed

    svc.desk.release(root, ticket_id)

    ticket = _ticket(svc, conv)
    assert (ticket.status, ticket.assignee) == ("waiting", None)
    assert "Alex left the chat" in svc.transcript(conversation_id=conv, customer_id=customer)[-1].content
    waiting = svc.desk.status(conversation_id=conv, customer_id=customer)
    assert waiting is not None and waiting.state == "waiting" and waiting.position == 1
    assert svc.send(
        conversation_id=conv, customer_id=customer, text="still there?"
    ).held  # for the next person
    svc.desk.claim(sam, ticket_id)
    other = _agent(svc, f"kim{uuid.uuid4().hex[:6]}", "Kim")
    svc.desk.reassign(root, ticket_id, other.username)  # an admin passes on anyone's ticket
    assert _ticket(svc, conv).assignee == other.username
    svc.desk.release(other, ticket_id)  # an agent going off shift puts their own back
    assert _ticket(svc, conv).status == "waiting"


def test_the_workspace_poll_masks_each_transcript_line_once_not_every_two_seconds(desk_service, monkeypatch):
    import agent.desk
    from core import pii

    svc = desk_service
    conv, customer, ticket_id, alex = _handed_to_alex(svc)
    svc.send(conversation_id=conv, customer_id=customer, text="My email is jo.bloggs@example.org " * 200)
    calls: list[int] = []
    real_mask = pii.mask
    monkeypatch.setattr(pii, "mask", lambda text, **kw: calls.append(len(text)) or real_mask(text, **kw))
    agent.desk._masked.cache_clear()

    first = svc.desk.ticket(alex, ticket_id)
    masked = len(calls)
    again = svc.desk.ticket(alex, ticket_id)

    assert masked >= 2 and len(calls) == masked  # nothing masked again on the next poll
    assert [m.content for m in again.transcript] == [m.content for m in first.transcript]
    assert "[EMAIL_1]" in first.transcript[-1].content and "jo.bloggs" not in first.transcript[-1].content


def test_a_persons_reply_and_note_are_mended_and_bounded_like_the_apis(desk_service):
    from handoff.queue import MAX_WRITTEN_CHARS

    svc = desk_service
    _, _, ticket_id, alex = _handed_to_alex(svc)
    said = svc.desk.reply(alex, ticket_id, "  Hello\x00 there \ud83d  ")
    assert said.content == "Hello there \ufffd"  # no NUL (PostgreSQL refuses it), no half emoji
    with pytest.raises(ValueError, match=f"at most {MAX_WRITTEN_CHARS:,} characters"):
        svc.desk.reply(alex, ticket_id, "x" * (MAX_WRITTEN_CHARS + 1))
    with pytest.raises(ValueError, match="cannot be empty"):
        svc.desk.note(alex, ticket_id, " \x00 ")
    svc.desk.note(alex, ticket_id, "checked\x00 the order")
    assert svc.desk.ticket(alex, ticket_id).events[-1]["body"] == "checked the order"


def _thread(svc: ChatService, conv: str) -> list[str]:
    return [
        str(m.content) for m in svc.graph.get_state({"configurable": {"thread_id": conv}}).values["messages"]
    ]


def test_a_claimed_contact_ticket_handed_back_leaves_what_was_said_in_the_thread(desk_service):
    """The thread never paused (a contact request, not a handoff), yet a person held the chat: what they and
    the customer said joins the thread at hand-back, so the assistant knows what the person told them."""
    svc = desk_service
    conv, customer = _chat(svc)
    svc.send(conversation_id=conv, customer_id=customer, text="How do I return an item?")
    svc.leave_contact(conversation_id=conv, customer_id=customer, contact="casey@example.com", note="call me")
    ticket_id = _ticket(svc, conv).id
    alex = _agent(svc, "alex", "Alex")
    svc.desk.claim(alex, ticket_id)
    held = svc.send(conversation_id=conv, customer_id=customer, text="It is about order BW-123456, the sofa")
    assert held.held
    svc.desk.reply(alex, ticket_id, "I have refunded order BW-123456 in full.")

    assert svc.desk.hand_back(alex, ticket_id) is True

    said = _thread(svc, conv)
    assert said[-2:] == ["It is about order BW-123456, the sofa", "I have refunded order BW-123456 in full."]
    after = svc.send(conversation_id=conv, customer_id=customer, text="How long do refunds take?")
    assert (
        after.outcome == "answered"
        and _thread(svc, conv).count("I have refunded order BW-123456 in full.") == 1
    )


def test_a_failed_resume_of_a_handoff_merged_into_a_contact_ticket_is_repaired(desk_service, monkeypatch):
    svc = desk_service
    conv, customer = _chat(svc)
    svc.leave_contact(conversation_id=conv, customer_id=customer, contact="casey@example.com")
    assert svc.send(conversation_id=conv, customer_id=customer, text="agent please").outcome == "handoff"
    ticket_id = _ticket(svc, conv).id  # the contact ticket, with the handoff merged into it
    alex = _agent(svc, "alex", "Alex")
    svc.desk.claim(alex, ticket_id)
    svc.desk.reply(alex, ticket_id, "Your parcel left the warehouse today.")
    real_invoke = svc.graph.invoke
    monkeypatch.setattr(svc.graph, "invoke", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    assert svc.desk.hand_back(alex, ticket_id) is False
    monkeypatch.setattr(svc.graph, "invoke", real_invoke)

    after = svc.send(conversation_id=conv, customer_id=customer, text="How long do refunds take?")

    assert after.outcome == "answered" and not after.held
    assert "Your parcel left the warehouse today." in _thread(svc, conv)
    with session_scope(svc.db) as s:  # repaired, not re-handed: one ticket, no second "connecting you"
        assert s.scalar(select(func.count(Ticket.id)).where(Ticket.conversation_id == conv)) == 1


def test_a_retried_reply_with_its_key_is_sent_once(desk_service):
    from handoff.queue import KeyReused

    svc = desk_service
    conv, customer, ticket_id, alex = _handed_to_alex(svc)
    first = svc.desk.reply(alex, ticket_id, "Your refund is on its way.", key="r-1")
    again = svc.desk.reply(alex, ticket_id, "Your refund is on its way.", key="r-1")  # a timeout, retried
    assert again.id == first.id
    with pytest.raises(KeyReused, match="another reply"):
        svc.desk.reply(alex, ticket_id, "Something else", key="r-1")
    svc.desk.reply(alex, ticket_id, "Your refund is on its way.")  # no key: sent again, as asked
    said = [
        m.content for m in svc.transcript(conversation_id=conv, customer_id=customer) if m.role == "agent"
    ]
    assert said == ["Your refund is on its way."] * 2


def test_a_contact_request_is_owed_a_first_response_like_any_ticket_of_its_priority(desk_service):
    svc = desk_service
    conv, customer = _chat(svc)
    svc.leave_contact(conversation_id=conv, customer_id=customer, contact="casey@example.com", note="call me")
    ticket = _ticket(svc, conv)
    assert ticket.sla_due_at is not None
    due_in = (ticket.sla_due_at - ticket.created_at).total_seconds()
    assert due_in == svc.settings.handoff_sla_minutes["normal"] * 60
    alex = _agent(svc, "alex", "Alex")
    [item] = svc.desk.queue(alex)
    assert item.sla_remaining_s is not None  # the queue shows its countdown, and a breach when it comes


def test_a_contact_request_waits_for_a_running_turn_so_one_ticket_is_opened(desk_service):
    """A turn that hands off and a contact request, at once, would each find no open ticket and open one
    (PostgreSQL); the request takes the conversation's lock as the turn does, so it comes after."""
    import threading

    svc = desk_service
    conv, customer = _chat(svc)
    turn_running, release = threading.Event(), threading.Event()
    done = threading.Event()

    def turn() -> None:
        with svc.conversation_lock(conv):
            turn_running.set()
            release.wait(10)

    def contact() -> None:
        svc.leave_contact(conversation_id=conv, customer_id=customer, contact="casey@example.com")
        done.set()

    threading.Thread(target=turn).start()
    assert turn_running.wait(10)
    threading.Thread(target=contact).start()
    assert not done.wait(0.5)  # held behind the turn
    release.set()
    assert done.wait(10)
    with session_scope(svc.db) as s:
        assert s.scalar(select(func.count(Ticket.id)).where(Ticket.conversation_id == conv)) == 1


def test_a_password_change_ends_the_agents_desk_session_until_they_log_in_again(desk_service):
    svc = desk_service
    _conv, _customer, ticket_id, alex = _handed_to_alex(svc)
    with session_scope(svc.db) as s:
        users.set_password(
            s, username=alex.username, password="a-brand-new-passphrase", settings=svc.settings
        )
    with pytest.raises(PermissionDenied):
        svc.desk.reply(alex, ticket_id, "still here")
    again = svc.authenticate(username=alex.username, password="a-brand-new-passphrase")
    assert again is not None and again.credentials_version == alex.credentials_version + 1
    svc.desk.reply(again, ticket_id, "back after the reset")


def test_a_deactivated_agent_loses_the_desk_at_once(desk_service):
    svc = desk_service
    _conv, _customer, ticket_id, alex = _handed_to_alex(svc)
    with session_scope(svc.db) as s:
        users.deactivate(s, username=alex.username)
    with pytest.raises(PermissionDenied):
        svc.desk.reply(alex, ticket_id, "still here")
