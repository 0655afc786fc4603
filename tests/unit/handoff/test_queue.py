"""The handoff queue's operations (`handoff.queue`) on a migrated SQLite database."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.conversations import create_conversation
from core.db import session_scope
from core.migrate import upgrade
from core.models import Conversation, Message
from handoff import queue, tickets
from handoff.models import Ticket, TicketEvent
from handoff.reasons import HandoffReason
from handoff.tickets import ensure_ticket, open_ticket

T0 = datetime(2026, 3, 2, 9, 0)


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    upgrade(url)
    return url


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def enqueue(
    url: str,
    settings,
    *,
    reason: HandoffReason = HandoffReason.EXPLICIT_REQUEST,
    sentiment: float | None = None,
    at: datetime = T0,
    conversation_id: str | None = None,
    summary: str = "Customer wants a person",
    source_key: str | None = None,
) -> int:
    """Queue a ticket (in a new conversation unless one is given); returns its id."""
    with session_scope(url) as s:
        if conversation_id is None:
            conversation_id = create_conversation(s, customer_id="cust-1").id
        ticket = queue.enqueue(
            s,
            conversation_id=conversation_id,
            customer_id="cust-1",
            reason=reason,
            summary=summary,
            packet={"reason": reason.value},
            sentiment=sentiment,
            settings=settings,
            source_key=source_key,
            now=at,
        )
        return ticket.id


def claimed(url: str, settings, *, agent: str = "sam", name: str = "Sam", **kw) -> int:
    ticket_id = enqueue(url, settings, **kw)
    with session_scope(url) as s:
        queue.claim(s, ticket_id=ticket_id, agent=agent, display_name=name, now=minutes(1))
    return ticket_id


def ticket(url: str, ticket_id: int) -> Ticket:
    with session_scope(url) as s:
        return queue.get_ticket(s, ticket_id=ticket_id)


def conversation(url: str, ticket_id: int) -> Conversation:
    with session_scope(url) as s:
        conv = s.get(Conversation, queue.get_ticket(s, ticket_id=ticket_id).conversation_id)
        assert conv is not None
        return conv


def messages(url: str, ticket_id: int) -> list[Message]:
    with session_scope(url) as s:
        conv_id = queue.get_ticket(s, ticket_id=ticket_id).conversation_id
        return list(s.scalars(select(Message).where(Message.conversation_id == conv_id).order_by(Message.id)))


def event_kinds(url: str, ticket_id: int) -> list[str]:
    with session_scope(url) as s:
        return [e.kind for e in queue.events(s, ticket_id=ticket_id)]


# priority, bands, SLA ---------------------------------------------------------------------------------


def test_priority_adds_up_to_twenty_points_for_a_negative_customer():
    explicit = HandoffReason.EXPLICIT_REQUEST
    assert queue.priority_for(explicit, None) == 50
    assert queue.priority_for(explicit, 0.8) == 50
    assert queue.priority_for(explicit, -0.5) == 60
    assert queue.priority_for(explicit, -1.0) == 70
    assert queue.priority_for(explicit, -3.0) == 70  # out-of-range scores still add at most 20
    assert queue.priority_for(HandoffReason.RISKY_TOPIC, -1.0) == 100


def test_bands_split_at_eighty_and_sixty_and_set_the_sla(settings):
    assert [queue.band(p) for p in (100, 80, 79, 60, 59, 0)] == [
        "urgent",
        "urgent",
        "high",
        "high",
        "normal",
        "normal",
    ]
    assert queue.sla_due(T0, 85, settings) == minutes(5)
    assert queue.sla_due(T0, 60, settings) == minutes(15)
    assert queue.sla_due(T0, 40, settings) == minutes(60)


# enqueue ----------------------------------------------------------------------------------------------


def test_enqueue_creates_a_waiting_ticket_with_priority_sla_and_a_created_event(db, settings):
    ticket_id = enqueue(db, settings, reason=HandoffReason.COMPLAINT, sentiment=-0.5)

    t = ticket(db, ticket_id)
    assert (t.status, t.priority, t.created_at, t.sla_due_at) == ("waiting", 70, T0, minutes(15))
    assert t.summary == "Customer wants a person" and t.packet == {"reason": "complaint"}
    assert event_kinds(db, ticket_id) == ["created"]
    assert conversation(db, ticket_id).status == "handoff"


def test_enqueue_twice_for_one_conversation_keeps_one_ticket_and_never_lowers_priority(db, settings):
    first = enqueue(db, settings, reason=HandoffReason.LOW_CONFIDENCE)
    conv_id = ticket(db, first).conversation_id

    again = enqueue(
        db,
        settings,
        reason=HandoffReason.RISKY_TOPIC,
        conversation_id=conv_id,
        summary="Fraud",
        at=minutes(2),
    )
    calmer = enqueue(
        db, settings, reason=HandoffReason.OFFLINE, conversation_id=conv_id, summary="Later", at=minutes(3)
    )

    assert first == again == calmer
    t = ticket(db, first)
    assert (t.priority, t.reason) == (80, "risky_topic")
    assert t.sla_due_at == minutes(5)  # tightened to the urgent band, counted from when it was queued
    assert t.summary == "Fraud"  # a less urgent reason (Offline) never replaces the richer packet
    assert event_kinds(db, first) == ["created"]
    with session_scope(db) as s:
        assert s.query(Ticket).count() == 1


def test_an_assigned_ticket_keeps_the_packet_its_agent_claimed(db, settings):
    ticket_id = claimed(db, settings)
    conv_id = ticket(db, ticket_id).conversation_id

    assert enqueue(db, settings, conversation_id=conv_id, summary="New summary") == ticket_id
    assert ticket(db, ticket_id).summary == "Customer wants a person"


def test_enqueue_with_the_same_source_key_returns_the_same_ticket_even_once_closed(db, settings):
    ticket_id = claimed(db, settings, source_key="turn-42")
    with session_scope(db) as s:
        queue.resolve(s, ticket_id=ticket_id, agent="sam", outcome="solved", now=minutes(5))

    replayed = enqueue(
        db, settings, source_key="turn-42", conversation_id=ticket(db, ticket_id).conversation_id
    )

    assert replayed == ticket_id
    assert ticket(db, ticket_id).status == "resolved"
    assert conversation(db, ticket_id).status == "closed"  # a replay does not reopen the conversation


def test_a_source_key_another_conversation_used_never_hands_over_its_ticket(db, settings):
    theirs = enqueue(db, settings, source_key="handoff:7")
    mine = enqueue(db, settings, source_key="handoff:7")  # a new conversation, the same key

    assert mine != theirs
    assert ticket(db, mine).conversation_id != ticket(db, theirs).conversation_id
    assert ticket(db, theirs).source_key == "handoff:7" and ticket(db, mine).source_key is None


def test_ensure_ticket_still_works_without_the_queue_arguments(db):
    with session_scope(db) as s:
        conv = create_conversation(s, customer_id="cust-1")
        t = ensure_ticket(s, conversation_id=conv.id, customer_id="cust-1", reason=HandoffReason.OFFLINE)
        assert (t.status, t.priority, t.sla_due_at) == ("waiting", 30, None)
        assert [e.kind for e in queue.events(s, ticket_id=t.id)] == ["created"]


# ordering, position, wait -----------------------------------------------------------------------------


def test_queue_lists_waiting_by_priority_then_oldest_then_the_assigned(db, settings):
    low = enqueue(db, settings, reason=HandoffReason.LOW_CONFIDENCE, at=T0)
    first_explicit = enqueue(db, settings, at=T0)
    second_explicit = enqueue(db, settings, at=minutes(0.5))
    risky = enqueue(db, settings, reason=HandoffReason.RISKY_TOPIC, at=minutes(0.5))
    mine = claimed(db, settings, at=T0)

    with session_scope(db) as s:
        items = queue.list_queue(s, settings=settings, now=minutes(1))

    assert [i.id for i in items] == [risky, first_explicit, second_explicit, low, mine]
    assert [i.status for i in items] == ["waiting"] * 4 + ["assigned"]
    top = items[0]
    assert (top.priority, top.effective_priority, top.waiting_s) == (80, 80, 30.0)
    assert top.sla_due_at == minutes(5.5) and top.sla_remaining_s == 270.0


@pytest.mark.parametrize(("waited", "low_goes_first"), [(30, False), (60, True)])
def test_an_old_normal_ticket_overtakes_a_newly_arrived_higher_one(db, settings, waited, low_goes_first):
    old_low = enqueue(db, settings, reason=HandoffReason.LOW_CONFIDENCE, at=T0)  # 40, +1 per 5 minutes
    new_explicit = enqueue(db, settings, at=minutes(waited))  # 50

    with session_scope(db) as s:
        items = queue.list_queue(s, settings=settings, now=minutes(waited))

    assert {i.id: i.effective_priority for i in items} == {old_low: 40 + waited // 5, new_explicit: 50}
    assert [i.id for i in items] == ([old_low, new_explicit] if low_goes_first else [new_explicit, old_low])


def test_a_breached_sla_shows_negative_time_remaining(db, settings):
    ticket_id = enqueue(db, settings, reason=HandoffReason.RISKY_TOPIC)

    with session_scope(db) as s:
        (item,) = queue.list_queue(s, settings=settings, now=minutes(7))

    assert item.id == ticket_id and item.sla_remaining_s == -120.0


def test_queue_filters_by_reason_assignee_and_status(db, settings):
    enqueue(db, settings, reason=HandoffReason.LOW_CONFIDENCE)
    mine = claimed(db, settings, agent="sam")
    theirs = claimed(db, settings, agent="alex")

    with session_scope(db) as s:
        assert [i.id for i in queue.list_queue(s, settings=settings, assignee="sam", now=T0)] == [mine]
        by_reason = queue.list_queue(s, settings=settings, reason=HandoffReason.EXPLICIT_REQUEST, now=T0)
        assert {i.id for i in by_reason} == {mine, theirs}
        assert queue.list_queue(s, settings=settings, statuses=("resolved",), now=T0) == []


def test_each_waiting_tickets_position_is_its_place_in_the_listing(db, settings):
    reasons = [HandoffReason.LOW_CONFIDENCE, HandoffReason.EXPLICIT_REQUEST, HandoffReason.RISKY_TOPIC]
    ids = [enqueue(db, settings, reason=reasons[n % 3], at=minutes(n * 7 % 40)) for n in range(12)]
    claimed(db, settings, at=T0)

    with session_scope(db) as s:
        waiting = queue.list_queue(s, settings=settings, statuses=("waiting",), now=minutes(45))
        listed = [i.id for i in waiting]
        places = {t: queue.position(s, ticket_id=t, settings=settings, now=minutes(45)) for t in ids}

    assert sorted(ids) == sorted(listed)
    assert [places[t] for t in listed] == list(range(1, 13))


def test_a_released_ticket_waits_again_from_its_start_and_is_owed_a_first_response(db, settings):
    released = claimed(db, settings, at=T0)  # claimed at minute 1, after a first reply
    with session_scope(db) as s:
        queue.agent_reply(s, ticket_id=released, agent="sam", display_name="Sam", text="Hi", now=minutes(2))
        queue.release(s, ticket_id=released, by="sam", now=minutes(30))
    newer = enqueue(db, settings, at=minutes(29))

    with session_scope(db) as s:
        listed = [i.id for i in queue.list_queue(s, settings=settings, now=minutes(31))]
        places = [queue.position(s, ticket_id=t, settings=settings, now=minutes(31)) for t in listed]
        item = next(i for i in queue.list_queue(s, settings=settings, now=minutes(31)) if i.id == released)

    assert listed == [released, newer] and places == [1, 2]  # aged from its start, as the customer is told
    assert item.waiting_s == 31 * 60 and item.sla_due_at is not None
    assert item.sla_remaining_s == (item.sla_due_at - minutes(31)).total_seconds()  # the clock runs again


def test_a_listing_of_closed_tickets_shows_the_latest_only(db, settings, monkeypatch):
    monkeypatch.setattr(queue, "CLOSED_SHOWN", 3)
    closed = []
    for n in range(5):
        ticket_id = claimed(db, settings, at=minutes(n))
        with session_scope(db) as s:
            queue.resolve(s, ticket_id=ticket_id, agent="sam", outcome="solved", now=minutes(n + 1))
        closed.append(ticket_id)
    waiting = enqueue(db, settings, at=T0)

    with session_scope(db) as s:
        items = queue.list_queue(s, settings=settings, statuses=("waiting", "resolved"), now=minutes(9))

    assert [i.id for i in items] == [waiting, *closed[2:]]


def test_position_and_estimated_wait_use_the_configured_handle_time_until_there_is_history(db, settings):
    urgent = enqueue(db, settings, reason=HandoffReason.RISKY_TOPIC)
    normal = enqueue(db, settings, reason=HandoffReason.LOW_CONFIDENCE)
    taken = claimed(db, settings)

    with session_scope(db) as s:
        assert queue.position(s, ticket_id=urgent, settings=settings, now=T0) == 1
        assert queue.position(s, ticket_id=normal, settings=settings, now=T0) == 2
        assert queue.position(s, ticket_id=taken, settings=settings, now=T0) is None
        wait = queue.estimated_wait_s(s, ticket_id=normal, settings=settings, now=T0)
        assert wait == 2 * settings.handoff_handle_minutes * 60
        shared = queue.estimated_wait_s(s, ticket_id=normal, settings=settings, agents_online=2, now=T0)
        assert shared == settings.handoff_handle_minutes * 60
        assert queue.estimated_wait_s(s, ticket_id=taken, settings=settings, now=T0) is None


def test_estimated_wait_measures_the_last_closed_tickets_once_there_are_three(db, settings):
    for handled_minutes in (2, 4):
        done = claimed(db, settings)  # claimed at minute 1
        with session_scope(db) as s:
            queue.resolve(s, ticket_id=done, agent="sam", outcome="solved", now=minutes(1 + handled_minutes))
    waiting = enqueue(db, settings)

    with session_scope(db) as s:
        two_samples = queue.estimated_wait_s(s, ticket_id=waiting, settings=settings, now=T0)
    done = claimed(db, settings)
    with session_scope(db) as s:
        queue.hand_back(s, ticket_id=done, agent="sam", display_name="Sam", now=minutes(1 + 6))
        three_samples = queue.estimated_wait_s(s, ticket_id=waiting, settings=settings, now=T0)

    assert two_samples == settings.handoff_handle_minutes * 60
    assert three_samples == 4 * 60  # mean of 2, 4 and 6 minutes


# claiming -----------------------------------------------------------------------------------------------


def test_claim_assigns_the_ticket_records_it_and_tells_the_customer(db, settings):
    ticket_id = enqueue(db, settings)

    with session_scope(db) as s:
        t = queue.claim(s, ticket_id=ticket_id, agent="alex", display_name="Alex", now=minutes(2))
        assert (t.status, t.assignee, t.claimed_at) == ("assigned", "alex", minutes(2))

    assert event_kinds(db, ticket_id) == ["created", "claimed"]
    (joined,) = messages(db, ticket_id)
    assert (joined.role, joined.author, joined.content) == ("system", "Alex", "Alex joined the chat")
    with session_scope(db) as s:
        assert open_ticket(s, conversation_id=joined.conversation_id).id == ticket_id


def test_claim_twice_gives_conflict_naming_the_owner(db, settings):
    ticket_id = claimed(db, settings, agent="sam")

    conflict = rf"Ticket #{ticket_id} is already being handled by sam"
    with pytest.raises(queue.ClaimConflict, match=conflict), session_scope(db) as s:
        queue.claim(s, ticket_id=ticket_id, agent="alex", display_name="Alex")

    assert ticket(db, ticket_id).assignee == "sam"
    assert event_kinds(db, ticket_id) == ["created", "claimed"]


def test_claiming_a_ticket_one_already_owns_changes_nothing(db, settings):
    ticket_id = claimed(db, settings, agent="sam")

    with session_scope(db) as s:
        assert queue.claim(s, ticket_id=ticket_id, agent="sam", display_name="Sam").assignee == "sam"

    assert event_kinds(db, ticket_id) == ["created", "claimed"]
    assert len(messages(db, ticket_id)) == 1


def test_claim_of_a_closed_or_unknown_ticket_says_why(db, settings):
    ticket_id = claimed(db, settings)
    with session_scope(db) as s:
        queue.resolve(s, ticket_id=ticket_id, agent="sam", outcome="spam")

    with (
        pytest.raises(queue.ClaimConflict, match=r"is no longer waiting \(resolved\)"),
        session_scope(db) as s,
    ):
        queue.claim(s, ticket_id=ticket_id, agent="alex", display_name="Alex")
    with pytest.raises(queue.TicketNotFound, match="Ticket #999 does not exist"), session_scope(db) as s:
        queue.claim(s, ticket_id=999, agent="alex", display_name="Alex")


def test_claim_next_takes_the_most_urgent_waiting_ticket_then_none(db, settings):
    enqueue(db, settings, reason=HandoffReason.LOW_CONFIDENCE)
    urgent = enqueue(db, settings, reason=HandoffReason.GUARDRAIL)

    with session_scope(db) as s:
        first = queue.claim_next(s, agent="alex", display_name="Alex", settings=settings, now=minutes(1))
        second = queue.claim_next(s, agent="sam", display_name="Sam", settings=settings, now=minutes(1))
        third = queue.claim_next(s, agent="kim", display_name="Kim", settings=settings, now=minutes(1))

    assert first is not None and first.id == urgent and first.assignee == "alex"
    assert second is not None and second.id != urgent and second.assignee == "sam"
    assert third is None
    assert [m.content for m in messages(db, urgent)] == ["Alex joined the chat"]


# the assignee's actions ---------------------------------------------------------------------------------


def test_only_the_assignee_can_reply(db, settings):
    ticket_id = claimed(db, settings, agent="sam")

    with pytest.raises(queue.NotAssignee, match="handled by sam"), session_scope(db) as s:
        queue.agent_reply(s, ticket_id=ticket_id, agent="alex", display_name="Alex", text="Hi!")
    assert len(messages(db, ticket_id)) == 1  # only "Sam joined the chat"


def test_replying_to_a_waiting_ticket_asks_to_claim_it_first(db, settings):
    ticket_id = enqueue(db, settings)

    with pytest.raises(queue.NotAssignee, match="claim it before you reply"), session_scope(db) as s:
        queue.agent_reply(s, ticket_id=ticket_id, agent="sam", display_name="Sam", text="Hi!")


def test_an_empty_reply_is_refused(db, settings):
    ticket_id = claimed(db, settings)

    with pytest.raises(ValueError, match="cannot be empty"), session_scope(db) as s:
        queue.agent_reply(s, ticket_id=ticket_id, agent="sam", display_name="Sam", text="  \n ")


def test_replies_reach_the_customer_and_the_first_one_stops_the_sla_clock(db, settings):
    ticket_id = claimed(db, settings, agent="sam", name="Sam")

    with session_scope(db) as s:
        msg = queue.agent_reply(
            s, ticket_id=ticket_id, agent="sam", display_name="Sam", text="Hi, I'm Sam.", now=minutes(3)
        )
        assert (msg.role, msg.author, msg.status) == ("agent", "Sam", "delivered")
    with session_scope(db) as s:
        queue.agent_reply(
            s, ticket_id=ticket_id, agent="sam", display_name="Sam", text="Still there?", now=minutes(9)
        )
        (item,) = queue.list_queue(s, settings=settings, now=minutes(30))

    assert ticket(db, ticket_id).first_response_at == minutes(3)
    assert item.sla_remaining_s == (minutes(60) - minutes(3)).total_seconds()
    assert [m.content for m in messages(db, ticket_id)][1:] == ["Hi, I'm Sam.", "Still there?"]
    assert event_kinds(db, ticket_id).count("replied") == 2


def test_resolve_closes_the_ticket_and_the_conversation(db, settings):
    ticket_id = claimed(db, settings)

    with session_scope(db) as s:
        t = queue.resolve(
            s, ticket_id=ticket_id, agent="sam", outcome="solved", note="Refund sent", now=minutes(9)
        )
        assert (t.status, t.outcome, t.closed_at) == ("resolved", "solved", minutes(9))

    assert event_kinds(db, ticket_id) == ["created", "claimed", "resolved", "note"]
    assert conversation(db, ticket_id).status == "closed"
    with session_scope(db) as s:
        assert open_ticket(s, conversation_id=t.conversation_id) is None


def test_resolving_needs_a_claimed_ticket_its_owner_and_a_known_outcome(db, settings):
    waiting = enqueue(db, settings)
    mine = claimed(db, settings, agent="sam")

    with pytest.raises(queue.InvalidTransition, match="is waiting: claim it before"), session_scope(db) as s:
        queue.resolve(s, ticket_id=waiting, agent="sam", outcome="solved")
    with pytest.raises(queue.NotAssignee, match="handled by sam"), session_scope(db) as s:
        queue.resolve(s, ticket_id=mine, agent="alex", outcome="solved")
    with pytest.raises(ValueError, match="choose one of solved"), session_scope(db) as s:
        queue.resolve(s, ticket_id=mine, agent="sam", outcome="fixed")
    with session_scope(db) as s:
        queue.resolve(s, ticket_id=mine, agent="sam", outcome="duplicate")
    with pytest.raises(queue.InvalidTransition, match="is resolved"), session_scope(db) as s:
        queue.resolve(s, ticket_id=mine, agent="sam", outcome="solved")
    with pytest.raises(queue.InvalidTransition, match="is resolved"), session_scope(db) as s:
        queue.hand_back(s, ticket_id=mine, agent="sam")


def test_hand_back_returns_the_conversation_to_the_assistant(db, settings):
    ticket_id = claimed(db, settings, agent="sam", name="Sam")

    with pytest.raises(queue.NotAssignee), session_scope(db) as s:
        queue.hand_back(s, ticket_id=ticket_id, agent="alex")
    with session_scope(db) as s:
        t = queue.hand_back(
            s, ticket_id=ticket_id, agent="sam", note="Answered the billing part", now=minutes(8)
        )
        assert (t.status, t.closed_at) == ("returned", minutes(8))

    assert messages(db, ticket_id)[-1].content == "sam handed the conversation back to the assistant"
    assert conversation(db, ticket_id).status == "open"
    assert event_kinds(db, ticket_id)[-1] == "returned"
    again = enqueue(db, settings, conversation_id=t.conversation_id, at=minutes(20))
    assert again != ticket_id  # a returned ticket is closed: the next handoff queues a new one


def test_notes_are_events_never_messages(db, settings):
    ticket_id = claimed(db, settings)

    with session_scope(db) as s:
        note = queue.add_note(s, ticket_id=ticket_id, author="alex", body="  Customer is a VIP  ")
        assert (note.kind, note.actor, note.body) == ("note", "alex", "Customer is a VIP")
    with pytest.raises(ValueError, match="note cannot be empty"), session_scope(db) as s:
        queue.add_note(s, ticket_id=ticket_id, author="alex", body="   ")
    with pytest.raises(queue.TicketNotFound), session_scope(db) as s:
        queue.add_note(s, ticket_id=404, author="alex", body="hello")

    assert all("VIP" not in m.content for m in messages(db, ticket_id))
    with session_scope(db) as s:
        assert s.scalar(select(TicketEvent.body).where(TicketEvent.kind == "note")) == "Customer is a VIP"


def test_only_the_assignee_or_an_admin_can_reassign(db, settings):
    ticket_id = claimed(db, settings, agent="sam")

    with pytest.raises(queue.NotAssignee, match="only they \\(or an admin\\)"), session_scope(db) as s:
        queue.reassign(s, ticket_id=ticket_id, by="alex", to="alex", to_display_name="Alex")
    with session_scope(db) as s:
        queue.reassign(s, ticket_id=ticket_id, by="sam", to="kim", to_display_name="Kim")
    with session_scope(db) as s:
        queue.reassign(s, ticket_id=ticket_id, by="admin", to="alex", to_display_name="Alex", force=True)

    assert ticket(db, ticket_id).assignee == "alex"
    assert [m.content for m in messages(db, ticket_id)] == [
        "Sam joined the chat",
        "Kim joined the chat",
        "Alex joined the chat",
    ]
    assert event_kinds(db, ticket_id).count("reassigned") == 2
    with pytest.raises(queue.NotAssignee), session_scope(db) as s:
        queue.agent_reply(s, ticket_id=ticket_id, agent="sam", display_name="Sam", text="Hi")


def test_a_waiting_ticket_cannot_be_reassigned(db, settings):
    ticket_id = enqueue(db, settings)

    with pytest.raises(queue.InvalidTransition, match="only an assigned ticket"), session_scope(db) as s:
        queue.reassign(s, ticket_id=ticket_id, by="admin", to="alex", to_display_name="Alex", force=True)


@pytest.mark.parametrize(
    ("reason", "status", "held"),
    [
        (HandoffReason.EXPLICIT_REQUEST, "waiting", True),  # handed over: the customer waits for a person
        (HandoffReason.EXPLICIT_REQUEST, "assigned", True),
        (HandoffReason.OFFLINE, "waiting", False),  # an Offline follow-up does not silence the bot
        (HandoffReason.OFFLINE, "assigned", True),  # until a person takes it
        (HandoffReason.EXPLICIT_REQUEST, "resolved", False),
        (HandoffReason.EXPLICIT_REQUEST, "returned", False),
    ],
)
def test_the_one_statement_hold_check_agrees_with_the_holding_ticket(db, settings, reason, status, held):
    ticket_id = enqueue(db, settings, reason=reason)
    with session_scope(db) as s:
        ticket = s.get(Ticket, ticket_id)
        ticket.status = status
        conversation_id = ticket.conversation_id
    with session_scope(db) as s:
        assert (tickets.holding_ticket(s, conversation_id=conversation_id) is not None) is held
        assert tickets.held_by_person(s.connection(), conversation_id=conversation_id) is held
        assert tickets.held_by_person(s.connection(), conversation_id="no-such-conversation") is False


def test_a_reply_submitted_twice_at_once_with_one_key_is_stored_once(db, settings, monkeypatch):
    import threading

    ticket_id = claimed(db, settings)
    real = queue._guarded
    both_checked = threading.Barrier(2)

    def after_the_key_check(*args, **kwargs):  # both submits have looked for the key and found none
        both_checked.wait(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(queue, "_guarded", after_the_key_check)
    ids: dict[int, int] = {}

    def submit(n: int) -> None:
        with session_scope(db) as s:
            ids[n] = queue.agent_reply(
                s, ticket_id=ticket_id, agent="sam", display_name="Sam", text="On its way.", key="r-1"
            ).id

    threads = [threading.Thread(target=submit, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(ids) == 2 and ids[1] == ids[2]
    with session_scope(db) as s:
        assert s.scalar(select(func.count(Message.id)).where(Message.role == "agent")) == 1
