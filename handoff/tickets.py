"""Tickets a person follows up: keyword-only functions over a session. Creating one is idempotent."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff.models import Ticket
from handoff.reasons import HandoffReason

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


def open_ticket(session: Session, *, conversation_id: str) -> Ticket | None:
    return session.scalar(
        select(Ticket)
        .where(Ticket.conversation_id == conversation_id, Ticket.status.in_(("waiting", "assigned")))
        .order_by(Ticket.id)
        .limit(1)
    )


def ensure_ticket(
    session: Session,
    *,
    conversation_id: str,
    customer_id: str,
    reason: HandoffReason,
    contact: str | None = None,
    note: str | None = None,
    source_key: str | None = None,
) -> Ticket:
    """The conversation's open ticket (updated with any new contact details), or a new one."""
    if source_key is not None:
        same = session.scalar(select(Ticket).where(Ticket.source_key == source_key))
        if same is not None:
            return same
    ticket = open_ticket(session, conversation_id=conversation_id)
    if ticket is None:
        ticket = Ticket(
            conversation_id=conversation_id,
            customer_id=customer_id,
            reason=reason.value,
            status="waiting",
            source_key=source_key,
        )
        session.add(ticket)
    if contact:
        ticket.contact = contact
    if note and note not in (ticket.note or ""):  # a replayed request adds nothing twice
        ticket.note = f"{ticket.note}\n\n{note}" if ticket.note else note
    session.flush()
    return ticket
