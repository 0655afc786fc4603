"""Tickets: the follow-ups a person owes a customer (the queue of issue "Human handoff" builds on this)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
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
    """waiting | assigned | resolved | returned"""
    contact: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """How the customer asked to be reached (email or phone), when they left it."""
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    """What the customer wrote with their contact details."""
    source_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    """Idempotency key: a replayed or resubmitted request never makes a second ticket."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
