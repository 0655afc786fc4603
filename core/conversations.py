"""Conversations and messages: keyword-only functions over a session."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import NEW_TITLE, Conversation, Feedback, Message

__all__ = ["Conversation", "InvalidFeedback", "Message", "MessageView", "NotYourConversation"]


class NotYourConversation(LookupError):
    """No such conversation for this customer (the same answer whether it exists or not)."""


class KeyReused(ValueError):
    """An idempotency key sent again with a different message: a retry must repeat its message exactly."""


@dataclass(frozen=True)
class MessageView:
    """What a page or an API client may see of a message."""

    id: int
    role: str
    content: str
    citations: list[dict[str, Any]]
    mode: str | None
    created_at: datetime
    reply_to: int | None = None
    author: str | None = None
    """Agent replies and events: the person's display name."""


def view(msg: Any) -> MessageView:
    """A message's view, from a Message or anything with its columns as attributes (a Core row)."""
    return MessageView(
        id=msg.id,
        role=msg.role,
        content=msg.content,
        citations=list(msg.citations or []),
        mode=msg.mode,
        created_at=msg.created_at,
        reply_to=msg.reply_to,
        author=msg.author,
    )


def create_conversation(
    session: Session, *, customer_id: str, conversation_id: str | None = None
) -> Conversation:
    """A new conversation; `conversation_id` is given when it was created while the database was down."""
    conv = Conversation(id=conversation_id or str(uuid.uuid4()), customer_id=customer_id)
    session.add(conv)
    session.flush()
    return conv


UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""A conversation id as stored: a lower-case UUID (the API refuses any other before the database sees it)."""


def offline_conversation_id(*, customer_id: str, secret: str, nonce: str | None = None) -> str:
    """An id for a conversation started while the database was down, that proves whose it is.

    The spool that holds its creation belongs to one process; another replica may get the customer's next
    message first. The id carries an HMAC of the customer, so any replica can create the conversation for
    its owner then (`claim_offline_conversation`), and nobody else can.
    """
    nonce = nonce or uuid.uuid4().hex[:20]
    tag = hmac.new(secret.encode(), f"{customer_id}:{nonce}".encode(), hashlib.sha256).hexdigest()[:12]
    raw = nonce + tag
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def is_offline_conversation_of(conversation_id: str, *, customer_id: str, secret: str) -> bool:
    if not UUID_TEXT.fullmatch(conversation_id):
        return False
    raw = conversation_id.replace("-", "")
    expected = offline_conversation_id(customer_id=customer_id, secret=secret, nonce=raw[:20])
    return hmac.compare_digest(expected.encode(), conversation_id.encode())


def claim_offline_conversation(
    session: Session, *, conversation_id: str, customer_id: str, secret: str
) -> Conversation:
    """The customer's conversation; one they started while the database was down is created now (another
    process's spool still holds its creation). NotYourConversation otherwise."""
    try:
        return get_conversation(session, conversation_id=conversation_id, customer_id=customer_id)
    except NotYourConversation:
        if session.get(Conversation, conversation_id) is not None:
            raise
        if not is_offline_conversation_of(conversation_id, customer_id=customer_id, secret=secret):
            raise
    return create_conversation(session, customer_id=customer_id, conversation_id=conversation_id)


def get_conversation(session: Session, *, conversation_id: str, customer_id: str) -> Conversation:
    conv = session.get(Conversation, conversation_id)
    if conv is None or conv.customer_id != customer_id:
        raise NotYourConversation(conversation_id)
    return conv


MAX_FEEDBACK_CHARS = 2000


class InvalidFeedback(ValueError):
    """Feedback that cannot be stored as given; the message says why."""


def set_feedback(
    session: Session, *, conversation_id: str, message_id: int, rating: int, comment: str = ""
) -> int | None:
    """Thumbs up (+1) or down (-1), with an optional comment, on one assistant reply of the conversation.
    Rating the same reply again replaces the earlier feedback (a comment sent later keeps the rating).
    Returns the customer message the reply answered."""
    if rating not in (1, -1):
        raise InvalidFeedback("a rating is +1 (helpful) or -1 (not helpful)")
    comment = comment.strip()
    if len(comment) > MAX_FEEDBACK_CHARS:
        raise InvalidFeedback(
            f"the comment is {len(comment):,} characters; keep it under {MAX_FEEDBACK_CHARS:,}"
        )
    message = session.get(Message, message_id)
    if message is None or message.conversation_id != conversation_id or message.role != "assistant":
        raise InvalidFeedback("only the assistant's replies in this conversation can be rated")
    row = session.scalar(select(Feedback).where(Feedback.message_id == message_id))
    if row is None:
        session.add(
            Feedback(
                message_id=message_id, conversation_id=conversation_id, rating=rating, comment=comment or None
            )
        )
        return message.reply_to
    row.rating, row.created_at = rating, utcnow()
    if comment:
        row.comment = comment
    return message.reply_to


def ratings(session: Session, *, conversation_id: str) -> dict[int, int]:
    """The customer's rating of each rated reply of the conversation."""
    rows = session.execute(
        select(Feedback.message_id, Feedback.rating).where(Feedback.conversation_id == conversation_id)
    )
    return {message_id: rating for message_id, rating in rows}


def list_conversations(session: Session, *, customer_id: str, limit: int = 50) -> list[Conversation]:
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.customer_id == customer_id)
            .order_by(Conversation.updated_at.desc())
            .limit(limit)
        )
    )


def transcript(session: Session, *, conversation_id: str) -> list[MessageView]:
    rows = session.scalars(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
    )
    return [view(m) for m in rows]


def find_by_idempotency_key(session: Session, *, conversation_id: str, key: str) -> Message | None:
    return session.scalar(
        select(Message).where(Message.conversation_id == conversation_id, Message.idempotency_key == key)
    )


def reply_to(session: Session, *, message_id: int) -> Message | None:
    return session.scalar(select(Message).where(Message.reply_to == message_id).order_by(Message.id).limit(1))


def title_of(content: str) -> str:
    """The title a conversation takes from its first message ("" for a blank one: the title stays)."""
    return " ".join(content.split())[:60]


def store_customer_message(
    session: Session, *, conversation: Conversation, content: str, idempotency_key: str | None
) -> Message:
    msg = Message(
        conversation_id=conversation.id,
        role="customer",
        content=content,
        idempotency_key=idempotency_key,
        status="stored",
    )
    session.add(msg)
    if conversation.title == NEW_TITLE and (title := title_of(content)):
        conversation.title = title
    conversation.updated_at = utcnow()
    session.flush()
    return msg
