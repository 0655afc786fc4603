"""A message whose process died mid-turn is answered by the stuck-turn sweep, once, on PostgreSQL, even when
two replicas sweep at the same instant."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select

from agent.service import ChatService
from core.db import session_scope
from core.migrate import upgrade
from core.models import Message
from tests.integration.test_claim_race import _fresh_postgres_database
from tests.services import replicas, stored_unanswered

pytestmark = pytest.mark.slow


def test_two_replicas_sweeping_at_once_answer_a_stuck_message_once(
    demo_service, settings, postgres_url, tmp_path
):
    url = _fresh_postgres_database(postgres_url)
    upgrade(url)
    services = replicas(settings, demo_service.kb, url, tmp_path)
    customer = f"c-{uuid.uuid4().hex[:8]}"
    conv = services[0].start_conversation(customer_id=customer)
    stuck_id = stored_unanswered(url, (conv, customer), "How long do refunds take?", "k-1", minutes_ago=5)
    start = threading.Barrier(2)
    counts: list[int] = []

    def sweep(replica: ChatService) -> None:
        start.wait()
        counts.append(replica.answer_stuck(older_than_s=120))

    threads = [threading.Thread(target=sweep, args=(r,)) for r in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counts) == [0, 1]  # one replica answered it; the other found it answered under the lock
    with session_scope(url) as session:
        replies = session.scalars(select(Message).where(Message.reply_to == stuck_id)).all()
        assert len(replies) == 1 and replies[0].citations
        assert session.get(Message, stuck_id).status == "answered"
