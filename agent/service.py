"""Runs one customer turn end to end: store the message first, run the graph, store the reply and the record.

A failure anywhere after the customer's message is stored still ends in a stored reply.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from sqlalchemy import select

from agent.context import TurnContext
from agent.graph import build_graph
from agent.prompts import minimal
from agent.state import RESET, Mode
from core import conversations as conv_store
from core.config import Settings
from core.db import session_scope
from core.models import Message, TurnRecord
from knowledge.service import KnowledgeBase

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnResult:
    conversation_id: str
    message: conv_store.MessageView
    """The stored customer message."""
    reply: conv_store.MessageView
    mode: Mode
    outcome: str
    confidence: float | None
    replayed: bool = False
    """True when the idempotency key matched an earlier turn and its reply is returned again."""


def sqlite_checkpointer(path: str) -> SqliteSaver:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return SqliteSaver(sqlite3.connect(path, check_same_thread=False))


def _mode(value: str | None) -> Mode:
    """A stored mode string back to the Mode literal (unknown values read as Minimal)."""
    for mode in ("full", "degraded", "minimal", "offline"):
        if value == mode:
            return mode
    return "minimal"


class ChatService:
    """One per process: holds the compiled graph, the checkpointer and the knowledge base."""

    def __init__(
        self, settings: Settings, *, kb: KnowledgeBase, checkpointer: BaseCheckpointSaver | None = None
    ) -> None:
        self.settings = settings
        self.kb = kb
        self.checkpointer = checkpointer or sqlite_checkpointer(settings.checkpoint_url)
        self.graph = build_graph(
            checkpointer=self.checkpointer, min_confidence=settings.answer_min_confidence
        )

    @property
    def db(self) -> str:
        return self.settings.database_url

    def mode(self) -> Mode:
        """Minimal until an LLM path exists; Offline when there is nothing to retrieve from."""
        try:
            return "minimal" if len(self.kb) else "offline"
        except Exception:  # the KB cannot even be loaded: serve the Offline notice
            logger.exception("knowledge base unavailable")
            return "offline"

    # conversations -------------------------------------------------------------------------------
    def start_conversation(self, *, customer_id: str) -> str:
        with session_scope(self.db) as s:
            return conv_store.create_conversation(s, customer_id=customer_id).id

    def conversations(self, *, customer_id: str) -> list[dict[str, Any]]:
        with session_scope(self.db) as s:
            return [
                {"id": c.id, "title": c.title, "updated_at": c.updated_at, "status": c.status}
                for c in conv_store.list_conversations(s, customer_id=customer_id)
            ]

    def transcript(self, *, conversation_id: str, customer_id: str) -> list[conv_store.MessageView]:
        with session_scope(self.db) as s:
            conv_store.get_conversation(s, conversation_id=conversation_id, customer_id=customer_id)
            return conv_store.transcript(s, conversation_id=conversation_id)

    # turns ---------------------------------------------------------------------------------------
    def send(
        self, *, conversation_id: str, customer_id: str, text: str, idempotency_key: str | None = None
    ) -> TurnResult:
        """Answer one customer message. Raises NotYourConversation for someone else's thread."""
        key = idempotency_key or uuid.uuid4().hex
        with session_scope(self.db) as s:
            conv = conv_store.get_conversation(s, conversation_id=conversation_id, customer_id=customer_id)
            existing = conv_store.find_by_idempotency_key(s, conversation_id=conversation_id, key=key)
            if existing is not None:
                earlier = conv_store.reply_to(s, message_id=existing.id)
                if earlier is not None:
                    record = s.scalar(select(TurnRecord).where(TurnRecord.message_id == existing.id))
                    return TurnResult(
                        conversation_id,
                        conv_store.view(existing),
                        conv_store.view(earlier),
                        _mode(earlier.mode),
                        record.outcome if record else "failed",
                        record.confidence if record else None,
                        replayed=True,
                    )
                message = existing  # stored but never answered (a crash mid-turn): answer it now
            else:
                message = conv_store.store_customer_message(
                    s, conversation=conv, content=text, idempotency_key=key
                )
            message_id, message_text = message.id, message.content
        return self._run_turn(conversation_id, message_id, message_text)

    def _run_turn(self, conversation_id: str, message_id: int, text: str) -> TurnResult:
        mode = self.mode()
        t0 = time.perf_counter()
        state: dict[str, Any] = {}
        error: str | None = None
        if mode == "offline":
            state = {"reply": minimal.OFFLINE, "outcome": "unknown", "citations": []}
        else:
            try:
                state = self.graph.invoke(
                    {
                        "messages": [HumanMessage(content=text, id=f"m{message_id}")],
                        "conversation_id": conversation_id,
                        "message_id": message_id,
                        "mode": mode,
                        "guards": {RESET: True},
                        "latencies_ms": {RESET: True},
                        "prompt_versions": {RESET: True},
                    },
                    config={"configurable": {"thread_id": conversation_id}},
                    context=TurnContext(kb=self.kb, settings=self.settings),
                )
            except Exception as exc:
                logger.exception("turn failed conversation=%s message=%s", conversation_id, message_id)
                error = type(exc).__name__
                state = {"reply": minimal.FAILURE, "outcome": "failed", "citations": []}
        total_ms = (time.perf_counter() - t0) * 1000
        return self._store_reply(conversation_id, message_id, mode, state, total_ms, error)

    def _store_reply(
        self,
        conversation_id: str,
        message_id: int,
        mode: Mode,
        state: dict[str, Any],
        total_ms: float,
        error: str | None,
    ) -> TurnResult:
        outcome = state.get("outcome", "failed")
        with session_scope(self.db) as s:
            message = s.get(Message, message_id)
            assert message is not None  # stored above, in its own transaction
            reply = Message(
                conversation_id=conversation_id,
                role="assistant",
                content=state["reply"],
                reply_to=message_id,
                status="delivered",
                mode=mode,
                citations=[dict(c) for c in state.get("citations", [])],
            )
            s.add(reply)
            message.status = "failed" if error else "answered"
            s.flush()
            s.add(
                TurnRecord(
                    conversation_id=conversation_id,
                    message_id=message_id,
                    reply_id=reply.id,
                    mode=mode,
                    outcome=outcome,
                    confidence=state.get("confidence"),
                    passages=[
                        {
                            "id": p["id"],
                            "score": p["score"],
                            "dense": p.get("dense"),
                            "lexical": p.get("lexical"),
                        }
                        for p in state.get("passages", [])
                    ],
                    latencies_ms={**state.get("latencies_ms", {}), "total": round(total_ms, 2)},
                    guards=state.get("guards", {}),
                    handoff_reason=state.get("handoff_reason"),
                    prompt_versions=state.get("prompt_versions", {}),
                    error=error,
                )
            )
            conv = s.get(conv_store.Conversation, conversation_id)
            if conv is not None:
                conv.mode = mode
            return TurnResult(
                conversation_id,
                conv_store.view(message),
                conv_store.view(reply),
                mode,
                outcome,
                state.get("confidence"),
            )
