"""Chat services and stored messages for tests that play several replicas, or a process that died."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from agent.service import ChatService
from core.breakers import HealthRegistry
from core.conversations import get_conversation, store_customer_message
from core.db import session_scope, utcnow


def replicas(settings: Any, kb: Any, url: str, folder: Path, n: int = 2) -> list[ChatService]:
    """`n` services on one database, each with its data directory (spool) and health of its own, as `n` API
    replicas have; no models (Minimal mode)."""
    return [
        ChatService(
            settings.model_copy(update={"database_url": url, "data_dir": folder / f"replica-{i}"}),
            kb=kb,
            health=HealthRegistry(),
            checkpointer=InMemorySaver(),
            models=[],
        )
        for i in range(n)
    ]


def stored_unanswered(url: str, conv: tuple[str, str], text: str, key: str, minutes_ago: float) -> int:
    """A customer message (`conv` is conversation id, customer id) stored `minutes_ago` by a process that
    then died: no reply, no ticket. Its id."""
    with session_scope(url) as session:
        talk = get_conversation(session, conversation_id=conv[0], customer_id=conv[1])
        message = store_customer_message(session, conversation=talk, content=text, idempotency_key=key)
        message.created_at = utcnow() - timedelta(minutes=minutes_ago)
        session.flush()
        return message.id
