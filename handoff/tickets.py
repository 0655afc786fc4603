"""Tickets a person follows up: keyword-only functions over a session. Creating one is idempotent."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select
from sqlalchemy.orm import Session

from core.db import utcnow
from handoff.models import Ticket, TicketEvent
from handoff.reasons import BASE_PRIORITY, HandoffReason

logger = logging.getLogger(__name__)

__all__ = ["InvalidContact", "Ticket", "ensure_ticket", "open_ticket", "validate_contact"]

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{5,24}$")


class InvalidContact(ValueError):
    """The contact details are neither an email address nor a phone number."""


def validate_contact(contact: str) -> str:
    """The contact trimmed, or InvalidContact with a message a customer can act on."""
    value = " ".join(contact.split())
    if _EMAIL.match(value) or (_PHONE.match(value) and sum(ch.isdigit() for ch in value) >= 6):
        return value
    raise InvalidContact("Please enter an email address (name@example.com) or a phone number.")


OPEN_STATUSES = ("waiting", "assigned")
"""A ticket in one of these is open: a person has it or is yet to take it."""


def _first_open(*what: Any) -> Select[Any]:
    """The conversation's oldest open ticket (parameter `conv`), as `what` (the Ticket, or columns)."""
    return (
        select(*what)
        .where(Ticket.conversation_id == bindparam("conv"), Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.id)
        .limit(1)
    )


_OPEN_TICKET = _first_open(Ticket)
_FIRST_OPEN = _first_open(Ticket.status, Ticket.reason)


def open_ticket(session: Session, *, conversation_id: str) -> Ticket | None:
    return session.scalar(_OPEN_TICKET, {"conv": conversation_id})


def ensure_ticket(
    session: Session,
    *,
    conversation_id: str,
    customer_id: str,
    reason: HandoffReason,
    contact: str | None = None,
    note: str | None = None,
    source_key: str | None = None,
    priority: int | None = None,
    summary: str | None = None,
    packet: dict[str, Any] | None = None,
    sla_due_at: datetime | None = None,
    now: datetime | None = None,
) -> Ticket:
    """The conversation's open ticket (updated with any new details), or a new one with a "created" event.

    A waiting ticket takes the newer summary and packet unless the new reason ranks lower; priority only
    ever rises, and the reason follows it when the new reason ranks higher. `sla_due_at` applies to a new
    ticket only (the default priority is the reason's base priority).
    """
    if source_key is not None:
        same = session.scalar(select(Ticket).where(Ticket.source_key == source_key))
        if same is not None and same.conversation_id == conversation_id:
            return same
        if same is not None:  # a key is only ever replayed within its conversation: never hand over another's
            logger.warning("ticket key already used by another conversation: %s", conversation_id)
            source_key = None
    ticket = open_ticket(session, conversation_id=conversation_id)
    if ticket is None:
        at = now or utcnow()
        ticket = Ticket(
            conversation_id=conversation_id,
            customer_id=customer_id,
            reason=reason.value,
            status="waiting",
            priority=BASE_PRIORITY[reason] if priority is None else priority,
            sla_due_at=sla_due_at,
            summary=summary,
            packet=packet or {},
            source_key=source_key,
            created_at=at,
            updated_at=at,
        )
        session.add(ticket)
        session.flush()
        session.add(
            TicketEvent(ticket_id=ticket.id, kind="created", actor="bot", body=reason.value, created_at=at)
        )
    else:
        _refresh(ticket, reason=reason, priority=priority, summary=summary, packet=packet)
    if contact:
        ticket.contact = contact
    if note and note not in (ticket.note or ""):  # a replayed request adds nothing twice
        ticket.note = f"{ticket.note}\n\n{note}" if ticket.note else note
    session.flush()
    return ticket


def _refresh(
    ticket: Ticket,
    *,
    reason: HandoffReason,
    priority: int | None,
    summary: str | None,
    packet: dict[str, Any] | None,
) -> None:
    # An agent who already owns it reads the packet they claimed; a less urgent reason (an Offline notice
    # after a trigger) never replaces the richer packet, which also says where the handoff began.
    if ticket.status == "waiting" and BASE_PRIORITY[reason] >= _base_priority(ticket.reason):
        if summary is not None:
            ticket.summary = summary
        if packet is not None:
            ticket.packet = packet
    if priority is not None and priority > ticket.priority:
        ticket.priority = priority
        if BASE_PRIORITY[reason] > _base_priority(ticket.reason):
            ticket.reason = reason.value


def _base_priority(reason: str) -> int:
    try:
        return BASE_PRIORITY[HandoffReason(reason)]
    except ValueError:  # a reason code this version no longer knows
        return 0


def holding_ticket(session: Session, *, conversation_id: str) -> Ticket | None:
    """The ticket under which a person owns the conversation, so the bot stays silent, or None.

    A person owns it once a ticket is assigned, and from the moment a trigger handed it over (the customer
    waits for a person). An Offline ticket waiting for follow-up does not silence the bot once it is back.
    """
    ticket = open_ticket(session, conversation_id=conversation_id)
    if ticket is None or not _holds(ticket.status, ticket.reason):
        return None
    return ticket


def _holds(status: str, reason: str) -> bool:
    return status == "assigned" or reason != HandoffReason.OFFLINE.value


def held_by_person(connection: Connection, *, conversation_id: str) -> bool:
    """Whether `holding_ticket` would find a ticket: one Core statement, for the check every turn makes."""
    first = connection.execute(_FIRST_OPEN, {"conv": conversation_id}).first()
    return first is not None and _holds(first.status, first.reason)
