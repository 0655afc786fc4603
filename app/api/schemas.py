"""What the HTTP API reads and writes: explicit public shapes, so internal columns never reach a client."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.text import mend

MAX_ID = 2_147_483_647
"""Row ids are 32-bit integers in PostgreSQL: a larger one is a 404, never a database error."""


class Problem(BaseModel):
    """Every error: a short machine-readable code and a sentence a person can act on."""

    error: str
    detail: str


class Input(BaseModel):
    """Request bodies: unknown fields are refused, and so are NUL characters (no database stores them). A
    lone UTF-16 surrogate (JSON `"\\ud83d"`: an emoji a client cut in half) becomes U+FFFD: the text is kept,
    and no database or encoder down the line chokes on it."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _clean_strings(cls, data: Any) -> Any:
        def mended(value: Any) -> Any:
            if isinstance(value, str):
                if "\x00" in value:
                    raise ValueError("text must not contain NUL characters")
                return mend(value)  # a lone surrogate (an emoji cut in half) becomes U+FFFD
            if isinstance(value, list | tuple):  # one level (tags): deeper, the field's own type refuses it
                return [mended(v) if isinstance(v, str) else v for v in value]
            return value

        if isinstance(data, dict):
            return {key: mended(value) for key, value in data.items()}
        return data


class LoginIn(Input):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    role: str
    customer_id: str | None = None
    """For customer tokens: the id their conversations belong to."""
    expires_at: int
    """Unix seconds."""


class ConversationOut(BaseModel):
    id: str
    title: str | None = None
    status: str | None = None
    updated_at: datetime | None = None


class MessageOut(BaseModel):
    id: int
    """0 while the message waits in the local spool (the database was down)."""
    role: str
    content: str
    citations: list[dict[str, Any]] = []
    mode: str | None = None
    created_at: datetime
    reply_to: int | None = None
    author: str | None = None


class HandoffOut(BaseModel):
    state: str
    position: int | None = None
    wait_s: float | None = None
    agent: str | None = None


class TranscriptOut(BaseModel):
    id: str
    messages: list[MessageOut]
    handoff: HandoffOut | None = None


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class MessageIn(Input):
    text: str = Field(min_length=1, max_length=20_000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)
    """Sending the same key again with the same text returns the first answer instead of a second turn (safe
    retries); with another text it is a 409 (`key_reused`): a new message needs a new key."""

    _text = field_validator("text")(_not_blank)


class TurnOut(BaseModel):
    conversation_id: str
    message: MessageOut
    reply: MessageOut | None
    """None while a person holds the conversation: the message waits for them."""
    mode: str
    mode_reason: str = ""
    outcome: str
    confidence: float | None = None
    replayed: bool = False
    spooled: bool = False
    held: bool = False


class FeedbackIn(Input):
    message_id: int = Field(ge=1, le=MAX_ID)
    rating: Literal[-1, 1]
    comment: str = Field(default="", max_length=2000)


class ContactIn(Input):
    contact: str = Field(min_length=3, max_length=200)
    note: str = Field(default="", max_length=2000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


class Ack(BaseModel):
    ok: bool = True
    detail: str = ""


class QueueItemOut(BaseModel):
    id: int
    conversation_id: str
    reason: str
    status: str
    priority: int
    effective_priority: int
    waiting_s: float
    sla_due_at: datetime | None
    sla_remaining_s: float | None
    assignee: str | None
    summary: str | None
    created_at: datetime


class TicketOut(BaseModel):
    id: int
    conversation_id: str
    reason: str
    status: str
    priority: int
    assignee: str | None
    outcome: str | None
    summary: str | None
    packet: dict[str, Any]
    contact: str | None
    note: str | None
    sla_due_at: datetime | None
    created_at: datetime
    transcript: list[MessageOut]
    events: list[dict[str, Any]]
    revealed: bool


class TicketRef(BaseModel):
    ticket_id: int | None
    """None when the queue had nothing to claim."""


class ReplyIn(Input):
    text: str = Field(min_length=1, max_length=8000)
    _text = field_validator("text")(_not_blank)


class NoteIn(Input):
    body: str = Field(min_length=1, max_length=8000)
    _body = field_validator("body")(_not_blank)


class ResolveIn(Input):
    outcome: Literal["solved", "not_solved", "duplicate", "spam", "no_response"]
    note: str | None = Field(default=None, max_length=2000)


class HandBackIn(Input):
    note: str | None = Field(default=None, max_length=2000)


class ReassignIn(Input):
    to: str = Field(min_length=1, max_length=64)
    """The username of an active agent."""


class ReleaseIn(Input):
    note: str | None = Field(default=None, max_length=2000)


class ResumeOut(BaseModel):
    resumed: bool
    """True when the bot has the thread back now; False: it takes it on the customer's next message."""


class PassageOut(BaseModel):
    id: str
    title: str
    section: str
    text: str
    score: float
    article: str | None = None
    version_id: int | None = None


class SearchOut(BaseModel):
    query: str
    confidence: float
    lexical_only: bool
    passages: list[PassageOut]


class ArticleOut(BaseModel):
    slug: str
    title: str
    category: str
    tags: list[str]
    status: str
    published_version: int | None
    latest_version: int
    pending: str | None
    updated_at: datetime
    updated_by: str


class VersionOut(BaseModel):
    id: int
    slug: str
    version: int
    status: str
    title: str
    category: str
    tags: list[str]
    body: str
    created_by: str
    created_at: datetime
    published_at: datetime | None
    change_note: str | None
    based_on: int | None
    findings: list[dict[str, Any]]


class DraftIn(Input):
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=100_000)
    slug: str | None = Field(default=None, min_length=1, max_length=120)
    category: str = Field(default="general", min_length=1, max_length=60)
    tags: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=10
    )
    change_note: str = Field(default="", max_length=2000)
    base_version: int | None = Field(default=None, ge=1, le=MAX_ID)
    """The number (`version`, not `id`) of the newest version the editor saw; a save on top of a newer one
    is refused."""


class PublishIn(Input):
    note: str = Field(default="", max_length=2000)
    override_reason: str | None = Field(default=None, max_length=2000)
    """Publish even though the eval check found cases that would newly fail (kept in the audit log)."""


class PublishOut(BaseModel):
    status: str
    """published | quarantined | blocked (the eval check failed; nothing changed)"""
    version: VersionOut | None
    eval_check: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = []


class RollbackIn(Input):
    to_version: int = Field(ge=1, le=MAX_ID)
    note: str = Field(default="", max_length=2000)


class BreakerOut(BaseModel):
    name: str
    state: str
    retry_in_s: float | None
    last_error: str | None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "starting"]
    mode: str | None
    reason: str | None
    breakers: list[BreakerOut]
    spooled: int
