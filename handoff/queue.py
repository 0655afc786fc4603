"""The handoff queue: keyword-only functions over a session. Claiming is atomic; the caller commits.

Every change of owner or state is one guarded write (a row lock on PostgreSQL, a conditional UPDATE on
SQLite), so two agents can never own one conversation and a stale page cannot undo someone else's work.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only

from core.config import Settings
from core.db import utcnow
from core.models import Conversation, Message, User
from core.text import mend
from handoff import tickets
from handoff.models import Ticket, TicketEvent
from handoff.reasons import BASE_PRIORITY, HandoffReason

__all__ = [
    "OPEN",
    "OUTCOMES",
    "ClaimConflict",
    "InvalidTransition",
    "NotAssignee",
    "QueueError",
    "QueueItem",
    "TicketNotFound",
    "add_note",
    "agent_reply",
    "band",
    "claim",
    "claim_next",
    "enqueue",
    "estimated_wait_s",
    "events",
    "get_ticket",
    "hand_back",
    "list_queue",
    "position",
    "priority_for",
    "reassign",
    "resolve",
    "sla_due",
]

logger = logging.getLogger(__name__)

Band = Literal["urgent", "high", "normal"]

OPEN = tickets.OPEN_STATUSES
OUTCOMES = ("solved", "not_solved", "duplicate", "spam", "no_response")
MAX_PRIORITY = 100
SENTIMENT_BOOST = 20
"""At most this many points for a very negative customer (sentiment -1)."""
CLOSED_SHOWN = 500
"""Closed tickets a queue listing returns at most (the latest)."""
_LISTED = (
    Ticket.id, Ticket.conversation_id, Ticket.reason, Ticket.status, Ticket.priority, Ticket.assignee,
    Ticket.summary, Ticket.created_at, Ticket.claimed_at, Ticket.closed_at, Ticket.sla_due_at,
    Ticket.first_response_at,
)  # fmt: skip
"""What a listing reads of a ticket: not its packet (JSON, kilobytes) or contact details."""
HANDLE_HISTORY = 20
"""Closed tickets the average handle time is measured over..."""
HANDLE_MIN_SAMPLES = 3
"""...once there are at least this many; the configured estimate until then."""
_CLAIM_BATCH = 50


class QueueError(Exception):
    """A queue action that cannot be done; the message is written for the agent who tried it."""

    def __init__(self, message: str, *, ticket_id: int | None = None) -> None:
        super().__init__(message)
        self.ticket_id = ticket_id


class TicketNotFound(QueueError, LookupError):
    pass


class ClaimConflict(QueueError):
    """Someone else was first (or the ticket is no longer waiting)."""


class NotAssignee(QueueError):
    """Only the agent who owns the ticket may do this."""


class KeyReused(QueueError):
    """An idempotency key came again with a different reply."""


class InvalidTransition(QueueError):
    """The ticket's state does not allow this (e.g. resolving a ticket nobody claimed)."""


# priority and SLA ---------------------------------------------------------------------------------


def priority_for(reason: HandoffReason, sentiment: float | None) -> int:
    """The reason's base priority, plus up to 20 points for a negative customer; at most 100."""
    boost = min(SENTIMENT_BOOST, round(-sentiment * SENTIMENT_BOOST)) if sentiment and sentiment < 0 else 0
    return min(MAX_PRIORITY, BASE_PRIORITY[reason] + boost)


def band(priority: int) -> Band:
    if priority >= 80:
        return "urgent"
    if priority >= 60:
        return "high"
    return "normal"


def sla_due(created_at: datetime, priority: int, settings: Settings) -> datetime:
    """When a person's first response is due for a ticket of this priority."""
    return created_at + timedelta(minutes=settings.handoff_sla_minutes[band(priority)])


def _aging(waited_s: float, settings: Settings) -> int:
    return int(waited_s // (settings.handoff_aging_minutes * 60))


# enqueue --------------------------------------------------------------------------------------------


def enqueue(
    session: Session,
    *,
    conversation_id: str,
    customer_id: str,
    reason: HandoffReason,
    summary: str | None,
    packet: dict[str, Any] | None,
    sentiment: float | None,
    settings: Settings,
    source_key: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Queue the conversation for a person; idempotent (one open ticket per conversation, per source_key).

    An open ticket is returned instead of a second one: a waiting one takes the new summary and packet, and
    its priority (with its SLA) only ever tightens.
    """
    now = now or utcnow()
    priority = priority_for(reason, sentiment)
    ticket = tickets.ensure_ticket(
        session,
        conversation_id=conversation_id,
        customer_id=customer_id,
        reason=reason,
        source_key=source_key,
        priority=priority,
        summary=summary,
        packet=packet,
        sla_due_at=sla_due(now, priority, settings),
        now=now,
    )
    if ticket.status == "waiting":
        due = sla_due(ticket.created_at, ticket.priority, settings)
        if ticket.sla_due_at is None or due < ticket.sla_due_at:
            ticket.sla_due_at = due
    if ticket.status in OPEN:
        conv = session.get(Conversation, conversation_id)
        if conv is not None:
            conv.status = "handoff"
            conv.updated_at = now
    session.flush()
    logger.info("ticket %s queued for conversation %s (%s)", ticket.id, conversation_id, ticket.reason)
    return ticket


# reading the queue ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    """A row of the agent workspace's queue."""

    id: int
    conversation_id: str
    reason: str
    status: str
    priority: int
    """As stored: from the reason and the customer's sentiment."""
    effective_priority: int
    """Priority plus one point per `handoff_aging_minutes` waited, uncapped, so old tickets climb."""
    waiting_s: float
    """Until claimed (or now, while waiting)."""
    sla_due_at: datetime | None
    sla_remaining_s: float | None
    """Until the first response is due, at the first response or now; negative when breached."""
    assignee: str | None
    summary: str | None
    created_at: datetime


def _item(t: Ticket, settings: Settings, now: datetime) -> QueueItem:
    waited_until = t.claimed_at or t.closed_at or now
    waiting_s = max(0.0, (waited_until - t.created_at).total_seconds())
    effective = min(t.priority, MAX_PRIORITY) + (_aging(waiting_s, settings) if t.status == "waiting" else 0)
    remaining = None
    if t.sla_due_at is not None:
        remaining = (t.sla_due_at - (t.first_response_at or now)).total_seconds()
    return QueueItem(
        id=t.id,
        conversation_id=t.conversation_id,
        reason=t.reason,
        status=t.status,
        priority=t.priority,
        effective_priority=effective,
        waiting_s=waiting_s,
        sla_due_at=t.sla_due_at,
        sla_remaining_s=remaining,
        assignee=t.assignee,
        summary=t.summary,
        created_at=t.created_at,
    )


def _ordered(items: Iterable[QueueItem]) -> list[QueueItem]:
    """Waiting first (most urgent, then longest waiting), then the rest oldest first."""
    return sorted(
        items,
        key=lambda i: (
            i.status != "waiting",
            -i.effective_priority if i.status == "waiting" else 0,
            i.created_at,
            i.id,
        ),
    )


def list_queue(
    session: Session,
    *,
    settings: Settings,
    statuses: Sequence[str] = OPEN,
    reason: HandoffReason | str | None = None,
    assignee: str | None = None,
    now: datetime | None = None,
) -> list[QueueItem]:
    """The open tickets of `statuses`, in the order agents take them, then the closed ones of `statuses`,
    the latest closed CLOSED_SHOWN only (the history grows for ever; a page shows what it can)."""
    now = now or utcnow()
    wanted = tuple(statuses)
    found: list[Ticket] = []
    for kinds, limit in (
        (tuple(s for s in wanted if s in OPEN), None),
        (tuple(s for s in wanted if s not in OPEN), CLOSED_SHOWN),
    ):
        if not kinds:
            continue
        query = select(Ticket).options(load_only(*_LISTED)).where(Ticket.status.in_(kinds))
        if reason is not None:
            query = query.where(Ticket.reason == str(reason))
        if assignee is not None:
            query = query.where(Ticket.assignee == assignee)
        if limit is not None:
            query = query.order_by(Ticket.closed_at.desc(), Ticket.id.desc()).limit(limit)
        found += session.scalars(query)
    return _ordered(_item(t, settings, now) for t in found)


def position(
    session: Session, *, ticket_id: int, settings: Settings, now: datetime | None = None
) -> int | None:
    """The ticket's 1-based place among the waiting tickets, in the order agents take them. Three columns of
    each waiting ticket and no sort: every waiting customer's page asks this every few seconds."""
    now = now or utcnow()
    rows = session.execute(
        select(Ticket.id, Ticket.priority, Ticket.created_at).where(Ticket.status == "waiting")
    ).all()

    def rank(row: Any) -> tuple[float, datetime, int]:
        waited = max(0.0, (now - row.created_at).total_seconds())
        return (-(min(row.priority, MAX_PRIORITY) + _aging(waited, settings)), row.created_at, row.id)

    mine = next((row for row in rows if row.id == ticket_id), None)
    if mine is None:
        return None
    before = rank(mine)
    return 1 + sum(1 for row in rows if rank(row) < before)


def _handle_s(session: Session, settings: Settings) -> float:
    """Mean claimed-to-closed time of the latest closed tickets, or the configured estimate."""
    rows = session.execute(
        select(Ticket.claimed_at, Ticket.closed_at)
        .where(Ticket.claimed_at.is_not(None), Ticket.closed_at.is_not(None))
        .order_by(Ticket.closed_at.desc(), Ticket.id.desc())
        .limit(HANDLE_HISTORY)
    ).all()
    if len(rows) < HANDLE_MIN_SAMPLES:
        return settings.handoff_handle_minutes * 60
    spans = [(closed - claimed).total_seconds() for claimed, closed in rows if claimed and closed]
    return sum(max(0.0, s) for s in spans) / len(spans)


def estimated_wait_s(
    session: Session,
    *,
    ticket_id: int,
    settings: Settings,
    agents_online: int = 1,
    now: datetime | None = None,
    place: int | None = None,
) -> float | None:
    """Position (`place`, when the caller has it) times the average handle time, shared over the agents
    online; None unless waiting."""
    place = place or position(session, ticket_id=ticket_id, settings=settings, now=now)
    if place is None:
        return None
    return place * _handle_s(session, settings) / max(1, agents_online)


def get_ticket(session: Session, *, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id, populate_existing=True)
    if ticket is None:
        raise TicketNotFound(f"Ticket #{ticket_id} does not exist.", ticket_id=ticket_id)
    return ticket


def events(session: Session, *, ticket_id: int) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
    )


# claiming -------------------------------------------------------------------------------------------


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _lost(session: Session, ticket_id: int, agent: str) -> Ticket:
    """Why a claim found nothing to take: the ticket when this agent already owns it, else an error."""
    ticket = get_ticket(session, ticket_id=ticket_id)
    if ticket.status == "assigned" and ticket.assignee == agent:
        return ticket
    if ticket.status == "assigned":
        raise ClaimConflict(
            f"Ticket #{ticket_id} is already being handled by {ticket.assignee}.", ticket_id=ticket_id
        )
    if ticket.status == "waiting":  # locked by a claim that has not committed yet
        raise ClaimConflict(
            f"Ticket #{ticket_id} is being claimed by another agent right now.", ticket_id=ticket_id
        )
    raise ClaimConflict(f"Ticket #{ticket_id} is no longer waiting ({ticket.status}).", ticket_id=ticket_id)


def _system_message(
    session: Session,
    ticket: Ticket,
    *,
    author: str,
    content: str,
    now: datetime,
    conversation_status: str | None = None,
) -> None:
    """A line the customer sees in the chat (who joined, who left); the conversation's status changes with
    it when `conversation_status` is given."""
    session.add(
        Message(
            conversation_id=ticket.conversation_id,
            role="system",
            author=author,
            content=content,
            status="delivered",
            created_at=now,
        )
    )
    conv = session.get(Conversation, ticket.conversation_id)
    if conv is not None:
        conv.updated_at = now
        if conversation_status is not None:
            conv.status = conversation_status


def _event(
    session: Session, ticket: Ticket, *, kind: str, actor: str, body: str | None, now: datetime
) -> None:
    session.add(TicketEvent(ticket_id=ticket.id, kind=kind, actor=actor, body=body, created_at=now))


def _joined(session: Session, ticket: Ticket, *, agent: str, display_name: str, now: datetime) -> Ticket:
    """The claim won: record it and tell the customer."""
    _event(session, ticket, kind="claimed", actor=agent, body=None, now=now)
    _system_message(session, ticket, author=display_name, content=f"{display_name} joined the chat", now=now)
    session.flush()
    logger.info("ticket %s claimed by %s", ticket.id, agent)
    return ticket


def _take_sqlite(session: Session, ticket_id: int, agent: str, now: datetime) -> Ticket | None:
    """SQLite has no row locks: the conditional UPDATE is the claim (writers are serialised)."""
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.status == "waiting")
        .values(status="assigned", assignee=agent, claimed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(Ticket, ticket_id, populate_existing=True)


def _assign(session: Session, ticket: Ticket, agent: str, now: datetime) -> Ticket:
    """Write the claim on a row this transaction holds locked."""
    ticket.status = "assigned"
    ticket.assignee = agent
    ticket.claimed_at = now
    ticket.updated_at = now
    session.flush()
    return ticket


def claim(
    session: Session, *, ticket_id: int, agent: str, display_name: str, now: datetime | None = None
) -> Ticket:
    """Give the waiting ticket to this agent, or raise ClaimConflict if someone else was first.

    Claiming a ticket one already owns returns it unchanged (a double click is not a conflict).
    """
    now = now or utcnow()
    if _is_postgres(session):
        won = session.scalar(
            select(Ticket)
            .where(Ticket.id == ticket_id, Ticket.status == "waiting")
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        ticket = _assign(session, won, agent, now) if won is not None else None
    else:
        ticket = _take_sqlite(session, ticket_id, agent, now)
    if ticket is None:
        return _lost(session, ticket_id, agent)
    return _joined(session, ticket, agent=agent, display_name=display_name, now=now)


def claim_next(
    session: Session, *, agent: str, display_name: str, settings: Settings, now: datetime | None = None
) -> Ticket | None:
    """Claim the most urgent waiting ticket someone else is not already taking; None when none is left."""
    now = now or utcnow()
    ranked = [item.id for item in list_queue(session, settings=settings, statuses=("waiting",), now=now)]
    postgres = _is_postgres(session)
    for start in range(0, len(ranked), _CLAIM_BATCH):
        batch = ranked[start : start + _CLAIM_BATCH]
        if postgres:
            rank = case({tid: n for n, tid in enumerate(batch)}, value=Ticket.id)
            won = session.scalar(
                select(Ticket)
                .where(Ticket.id.in_(batch), Ticket.status == "waiting")
                .order_by(rank)
                .limit(1)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
            if won is not None:
                ticket = _assign(session, won, agent, now)
                return _joined(session, ticket, agent=agent, display_name=display_name, now=now)
        else:
            for tid in batch:
                taken = _take_sqlite(session, tid, agent, now)
                if taken is not None:
                    return _joined(session, taken, agent=agent, display_name=display_name, now=now)
    return None


# the assignee's actions -----------------------------------------------------------------------------


def _guarded(
    session: Session, ticket_id: int, *, status: str, assignee: str, values: dict[str, Any], doing: str
) -> Ticket:
    """Apply `values` only if the ticket is still `status` and owned by `assignee`; else say why not.

    The UPDATE holds the row (PostgreSQL) or the database (SQLite) until commit, so what follows in the
    same transaction acts on a ticket nobody else can change meanwhile.
    """
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.status == status, Ticket.assignee == assignee)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    ticket = get_ticket(session, ticket_id=ticket_id)
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return ticket
    if ticket.status == "waiting":
        raise InvalidTransition(
            f"Ticket #{ticket_id} is waiting: claim it before you {doing}.", ticket_id=ticket_id
        )
    if ticket.status != status:
        raise InvalidTransition(
            f"Ticket #{ticket_id} is {ticket.status}: you cannot {doing}.", ticket_id=ticket_id
        )
    raise NotAssignee(
        f"Ticket #{ticket_id} is handled by {ticket.assignee}; only they can {doing}.", ticket_id=ticket_id
    )


def reassign(
    session: Session,
    *,
    ticket_id: int,
    by: str,
    to: str,
    to_display_name: str,
    force: bool = False,
    now: datetime | None = None,
) -> Ticket:
    """Pass an assigned ticket to another agent; only its assignee may, or an admin with `force`."""
    now = now or utcnow()
    current = get_ticket(session, ticket_id=ticket_id)
    if current.status != "assigned":
        raise InvalidTransition(
            f"Ticket #{ticket_id} is {current.status}: only an assigned ticket can be reassigned.",
            ticket_id=ticket_id,
        )
    owner = current.assignee or ""
    if not force and owner != by:
        raise NotAssignee(
            f"Ticket #{ticket_id} is handled by {owner}; only they (or an admin) can reassign it.",
            ticket_id=ticket_id,
        )
    if to == owner:
        raise InvalidTransition(f"Ticket #{ticket_id} is already assigned to {to}.", ticket_id=ticket_id)
    ticket = _guarded(
        session,
        ticket_id,
        status="assigned",
        assignee=owner,  # unchanged since we looked, or the reassignment is refused
        values={"assignee": to, "updated_at": now},
        doing="reassign it",
    )
    _event(session, ticket, kind="reassigned", actor=by, body=f"{owner} -> {to}", now=now)
    _system_message(
        session, ticket, author=to_display_name, content=f"{to_display_name} joined the chat", now=now
    )
    session.flush()
    logger.info("ticket %s reassigned by %s", ticket_id, by)
    return ticket


def release(
    session: Session,
    *,
    ticket_id: int,
    by: str,
    force: bool = False,
    note: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Put an assigned ticket back in the queue, unassigned: its assignee may (going off shift), or an admin
    with `force` (the assignee left, or was deactivated: without this the customer stayed held for a person
    nobody could replace). It is ranked by priority and age as if never claimed; the customer is told."""
    now = now or utcnow()
    current = get_ticket(session, ticket_id=ticket_id)
    owner = current.assignee or ""
    if current.status == "assigned" and not force and owner != by:
        raise NotAssignee(
            f"Ticket #{ticket_id} is handled by {owner}; only they (or an admin) can put it back in the"
            " queue.",
            ticket_id=ticket_id,
        )
    ticket = _guarded(
        session,
        ticket_id,
        status="assigned",
        assignee=owner,  # unchanged since we looked, or the release is refused
        # Waiting again from its start: ranked by priority and age like any waiting ticket (the claim no
        # longer stops its clock), and owed a first response by the next person.
        values={
            "status": "waiting",
            "assignee": None,
            "claimed_at": None,
            "first_response_at": None,
            "updated_at": now,
        },
        doing="put it back in the queue",
    )
    body = f"from {owner}" + (f": {note.strip()}" if note and note.strip() else "")
    _event(session, ticket, kind="released", actor=by, body=body[:2000], now=now)
    display = name_of(session, owner)
    _system_message(
        session,
        ticket,
        author=display,
        content=f"{display} left the chat; the next person from our team will be with you shortly",
        now=now,
    )
    session.flush()
    logger.info("ticket %s released by %s (was %s)", ticket_id, by, owner)
    return ticket


def record_event(session: Session, *, ticket_id: int, kind: str, actor: str, body: str | None = None) -> None:
    """An audit entry on the ticket's history (e.g. who revealed the customer's personal data)."""
    _event(session, get_ticket(session, ticket_id=ticket_id), kind=kind, actor=actor, body=body, now=utcnow())


MAX_WRITTEN_CHARS = 8000
"""Longest reply or note a person writes (the API's limit too): a chat line, not a document."""


def _written(text: str, what: str) -> str:
    """A person's reply or note as stored: `mend`ed (no NUL, no lone surrogate), trimmed, bounded."""
    text = mend(text).strip()
    if not text:
        raise ValueError(f"A {what} cannot be empty.")
    if len(text) > MAX_WRITTEN_CHARS:
        raise ValueError(
            f"A {what} can be at most {MAX_WRITTEN_CHARS:,} characters; this one is {len(text):,}."
        )
    return text


def add_note(session: Session, *, ticket_id: int, author: str, body: str) -> TicketEvent:
    """An internal note on the ticket; customers never see it."""
    text = _written(body, "note")
    ticket = get_ticket(session, ticket_id=ticket_id)
    note = TicketEvent(ticket_id=ticket.id, kind="note", actor=author, body=text)
    session.add(note)
    session.flush()
    return note


def _sent_under(
    session: Session, conversation_id: str, stored_key: str, text: str, ticket_id: int
) -> Message | None:
    """The agent reply stored under this key, or None; KeyReused when the key holds another message."""
    earlier = session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id, Message.idempotency_key == stored_key
        )
    )
    if earlier is not None and (earlier.role != "agent" or earlier.content != text):
        raise KeyReused(
            "This idempotency key was sent with another reply; send a new key for a new reply.",
            ticket_id=ticket_id,
        )
    return earlier


def agent_reply(
    session: Session,
    *,
    ticket_id: int,
    agent: str,
    display_name: str,
    text: str,
    key: str | None = None,
    now: datetime | None = None,
) -> Message:
    """The assignee's reply, shown to the customer under their display name. With `key` (a client's
    Idempotency-Key) a retry of the same reply returns the one stored instead of sending it twice."""
    text = _written(text, "reply")
    now = now or utcnow()
    # Apart from the customer's keys (same column), and within its 64 characters.
    stored_key = "agent:" + hashlib.sha256(key.encode()).hexdigest()[:58] if key else None
    if stored_key is not None:
        conversation_id = get_ticket(session, ticket_id=ticket_id).conversation_id
        earlier = _sent_under(session, conversation_id, stored_key, text, ticket_id)
        if earlier is not None:
            return earlier
    try:
        ticket = _guarded(
            session, ticket_id, status="assigned", assignee=agent, values={"updated_at": now}, doing="reply"
        )
    except InvalidTransition as exc:
        raise NotAssignee(str(exc), ticket_id=ticket_id) from None
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    msg = Message(
        conversation_id=ticket.conversation_id,
        role="agent",
        author=display_name,
        content=text,
        status="delivered",
        idempotency_key=stored_key,
        created_at=now,
    )
    try:
        with session.begin_nested():  # a double submit at once: the first stored it, the second returns it
            session.add(msg)
            session.flush()
    except IntegrityError:
        if stored_key is None:
            raise
        earlier = _sent_under(session, ticket.conversation_id, stored_key, text, ticket_id)
        if earlier is None:
            raise KeyReused(
                "This idempotency key was sent with another reply; send a new key for a new reply.",
                ticket_id=ticket_id,
            ) from None
        return earlier
    _event(session, ticket, kind="replied", actor=agent, body=None, now=now)
    conv = session.get(Conversation, ticket.conversation_id)
    if conv is not None:
        conv.updated_at = now
    session.flush()
    return msg


def resolve(
    session: Session,
    *,
    ticket_id: int,
    agent: str,
    outcome: str,
    note: str | None = None,
    display_name: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Close the ticket with an outcome; the customer is told, and the assistant answers what comes next."""
    if outcome not in OUTCOMES:
        raise ValueError(f"Unknown outcome {outcome!r}: choose one of {', '.join(OUTCOMES)}.")
    now = now or utcnow()
    ticket = _guarded(
        session,
        ticket_id,
        status="assigned",
        assignee=agent,
        values={"status": "resolved", "outcome": outcome, "closed_at": now, "updated_at": now},
        doing="resolve it",
    )
    _event(session, ticket, kind="resolved", actor=agent, body=outcome, now=now)
    if note and note.strip():
        _event(session, ticket, kind="note", actor=agent, body=note.strip(), now=now)
    display = display_name or name_of(session, agent)
    _system_message(
        session,
        ticket,
        author=display,
        content=f"{display} marked this conversation as resolved. The assistant can help with anything else.",
        now=now,
        conversation_status="closed",
    )
    session.flush()
    logger.info("ticket %s resolved by %s (%s)", ticket_id, agent, outcome)
    return ticket


def name_of(session: Session, username: str) -> str:
    """The name customers see for a user, or the username when there is no such account."""
    return session.scalar(select(User.display_name).where(User.username == username)) or username


def hand_back(
    session: Session,
    *,
    ticket_id: int,
    agent: str,
    note: str | None = None,
    display_name: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Return the conversation to the assistant, context kept; `display_name` defaults to the user's."""
    now = now or utcnow()
    ticket = _guarded(
        session,
        ticket_id,
        status="assigned",
        assignee=agent,
        values={"status": "returned", "closed_at": now, "updated_at": now},
        doing="hand it back",
    )
    _event(
        session,
        ticket,
        kind="returned",
        actor=agent,
        body=note.strip() if note and note.strip() else None,
        now=now,
    )
    display = display_name or name_of(session, agent)
    _system_message(
        session,
        ticket,
        author=display,
        content=f"{display} handed the conversation back to the assistant",
        now=now,
        conversation_status="open",
    )
    session.flush()
    logger.info("ticket %s handed back by %s", ticket_id, agent)
    return ticket


def withdraw(session: Session, *, ticket_id: int, now: datetime | None = None) -> Ticket:
    """The customer stops waiting and goes back to the assistant (only while no agent has claimed it)."""
    now = now or utcnow()
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.status == "waiting")
        .values(status="returned", outcome="withdrawn", closed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    ticket = get_ticket(session, ticket_id=ticket_id)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidTransition(
            f"Ticket #{ticket_id} is {ticket.status}: it can no longer be withdrawn.", ticket_id=ticket_id
        )
    _event(session, ticket, kind="withdrawn", actor="customer", body=None, now=now)
    _system_message(
        session,
        ticket,
        author="",
        content="You went back to the assistant.",
        now=now,
        conversation_status="open",
    )
    session.flush()
    return ticket
