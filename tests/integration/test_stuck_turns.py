"""A message whose process died mid-turn is answered by the stuck-turn sweep, once, on PostgreSQL, even when
two replicas sweep at the same instant."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import select

from agent.service import ChatService
from core.breakers import HealthRegistry
from core.conversations import get_conversation, store_customer_message
from core.db import session_scope, utcnow
from core.migrate import upgrade
from core.models import Message
from tests.integration.test_claim_race import _fresh_postgres_database

pytestmark = pytest.mark.slow


def test_two_replicas_sweeping_at_once_answer_a_stuck_message_once(
    demo_service, settings, postgres_url, tmp_path
):
    url = _fresh_postgres_database(postgres_url)
    upgrade(url)
    replicas = [
        ChatService(
            settings.model_copy(update={"database_url": url, "data_dir": tmp_path / f"replica-{n}"}),
            kb=demo_service.kb,
            health=HealthRegistry(),
            checkpointer=InMemorySaver(),
            models=[],
        )
        for n in range(2)
    ]
    customer = f"c-{uuid.uuid4().hex[:8]}"
    conv = replicas[0].start_conversation(customer_id=customer)
    with session_scope(url) as session:
        talk = get_conversation(session, conversation_id=conv, customer_id=customer)
        stuck = store_customer_message(
            session, conversation=talk, content="How long do refunds take?", idempotency_key="k-1"
        )
        stuck.created_at = utcnow() - timedelta(minutes=5)
        stuck_id = stuck.id
    start = threading.Barrier(2)
    counts: list[int] = []

    def sweep(replica: ChatService) -> None:
        start.wait()
        counts.append(replica.answer_stuck(older_than_s=120))

    threads = [threading.Thread(target=sweep, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counts) == [0, 1]  # one replica answered it; the other found it answered under the lock
    with session_scope(url) as session:
        replies = session.scalars(select(Message).where(Message.reply_to == stuck_id)).all()
        assert len(replies) == 1 and replies[0].citations
        assert session.get(Message, stuck_id).status == "answered"
