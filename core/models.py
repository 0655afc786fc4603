"""Conversation tables shared by the agent and the handoff queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow

NEW_TITLE = "New conversation"
"""A conversation's title until its first message names it."""


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200), default=NEW_TITLE)
    status: Mapped[str] = mapped_column(String(20), default="open")
    """open | handoff | closed"""
    mode: Mapped[str] = mapped_column(String(20), default="minimal")
    """Mode of the last turn."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "idempotency_key", name="uq_message_idem"),
        Index(
            "ix_messages_unanswered",
            "created_at",
            postgresql_where=text("status = 'stored'"),
            sqlite_where=text("status = 'stored'"),
        ),
    )
    """`ix_messages_unanswered` holds only the customer messages not answered yet (a turn in flight, or one
    whose process died): what the stuck-turn sweep looks for, without reading the whole table."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    """customer | assistant | agent | system"""
    content: Mapped[str] = mapped_column(Text)
    """Exactly what was sent or shown, unmodified."""
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reply_to: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True, index=True)
    """The customer message a reply answers. Indexed: every turn asks whether its message has a reply."""
    status: Mapped[str] = mapped_column(String(16), default="stored")
    """Customer messages: stored -> answered | failed. Replies: delivered."""
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    mode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    author: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Agent replies and events: the person's display name (customers see it, e.g. "Alex")."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """Staff and customer accounts. Passwords are stored only as salted scrypt hashes."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    """customer | agent | editor | admin"""
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)
    credentials_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Raised when the password changes, the account is deactivated or its sessions are ended: a login
    (a UI session, an API token) made under an older version no longer counts."""


class PiiToken(Base):
    """The vault behind reversible PII tokens: which value "[EMAIL_1]" stands for in one conversation.

    The model, the turn records and the handoff packet only ever see the token; an authorised agent can
    reveal the value (each reveal is a ticket event).
    """

    __tablename__ = "pii_tokens"
    __table_args__ = (UniqueConstraint("conversation_id", "token", name="uq_pii_token"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    token: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TurnRecord(Base):
    """One row per customer turn: what the agent saw and decided."""

    __tablename__ = "turn_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True)
    mode: Mapped[str] = mapped_column(String(20))
    mode_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    """Why the turn was served on this rung."""
    outcome: Mapped[str] = mapped_column(String(20))
    """answered | unknown | refused | clarify | handoff | failed"""
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    passages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    latencies_ms: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    guards: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    handoff_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    prompt_versions: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    prompt_hashes: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True, default=dict)
    """SHA-256 (12 hex digits) of each prompt's text as run: a wording change shows even without a bump."""
    model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    """Input plus output tokens of every LLM call of the turn."""
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    """None when a model's price is not configured."""
    llm_calls: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Per call (answer, rewrite, summary): model, tokens, cost, latency, attempts, estimated or reported."""
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Feedback(Base):
    """A customer's thumbs up or down (and comment) on one bot reply; giving it again replaces it."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    """The assistant reply rated."""
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    """+1 (helpful) or -1 (not helpful)."""
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# The tables themselves, for the turn's Core statements (typed: `Model.__table__` is only a FromClause).
CONVERSATIONS = cast(Table, Conversation.__table__)
MESSAGES = cast(Table, Message.__table__)
TURN_RECORDS = cast(Table, TurnRecord.__table__)


class RateBucket(Base):
    """A token bucket every API replica shares (PostgreSQL): one per limited key, e.g. one customer's
    messages. See core.ratelimit.take_shared."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(240), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    at: Mapped[float] = mapped_column(Float)
    """When `tokens` was worked out, by the database server's clock (seconds since the epoch)."""
    taken: Mapped[bool] = mapped_column(Boolean)
    """Whether the last request got a token."""
