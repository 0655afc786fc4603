"""The handoff queue: tickets (one open per conversation) and their events (claims, notes, outcomes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    """A HandoffReason value."""
    status: Mapped[str] = mapped_column(String(20), default="waiting", index=True)
    """waiting | assigned | resolved | returned (handed back to the bot)"""
    priority: Mapped[int] = mapped_column(Integer, default=50)
    """From the reason and the customer's sentiment; waiting time is added when the queue is read."""
    sla_due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    """When a person's first response is due."""
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    """Username of the agent who owns the conversation while assigned."""
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    first_response_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    """When it was resolved or handed back."""
    outcome: Mapped[str | None] = mapped_column(String(40), nullable=True)
    """How a resolved ticket ended (solved, not_solved, duplicate, spam, ...)."""
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The packet's summary, for the queue list."""
    packet: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Everything the bot knew: reason and evidence, intent, sentiment trend, answers and citations,
    confidence, guard events, collected details."""
    contact: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """How the customer asked to be reached (email or phone), when they left it."""
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    """What the customer wrote with their contact details."""
    source_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    """Idempotency key: a replayed or resubmitted request never makes a second ticket."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TicketEvent(Base):
    """What happened to a ticket (created, claimed, reassigned, note, replied, resolved, returned)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(64))
    """Username of the person, or "bot"."""
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Internal notes (never shown to the customer), outcomes, reassignment targets."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
