"""Claiming is atomic: twenty agents pressing "claim" at the same instant, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from core.conversations import create_conversation
from core.db import get_engine, session_scope
from core.migrate import upgrade
from core.models import Message
from handoff import queue
from handoff.models import TicketEvent
from handoff.reasons import HandoffReason

AGENTS = 20
CONFLICT = re.compile(
    r"^Ticket #\d+ is (already being handled by agent-\d+|being claimed by another agent right now)\.$"
)


def _fresh_postgres_database(server_url: str) -> str:
    name = f"race_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind (a database of its own on the shared PostgreSQL server)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.db'}"
    else:
        url = _fresh_postgres_database(request.getfixturevalue("postgres_url"))
    upgrade(url)
    yield url
    get_engine(url).dispose()


def waiting_ticket(url: str, settings: Any) -> int:
    with session_scope(url) as s:
        conv = create_conversation(s, customer_id="cust-race")
        return queue.enqueue(
            s,
            conversation_id=conv.id,
            customer_id="cust-race",
            reason=HandoffReason.EXPLICIT_REQUEST,
            summary="Wants a person",
            packet={},
            sentiment=None,
            settings=settings,
        ).id


def race(url: str, attempt: Callable[[Session, str], Any]) -> list[tuple[str, str, Any]]:
    """Run `attempt(session, agent)` for all agents at once, each in its own session: (agent, kind, value)."""
    barrier = threading.Barrier(AGENTS, timeout=30)
    results: list[tuple[str, str, Any]] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        agent = f"agent-{n}"
        try:
            with session_scope(url) as s:
                barrier.wait()
                outcome: tuple[str, str, Any] = (agent, "won", attempt(s, agent))
        except queue.ClaimConflict as exc:
            outcome = (agent, "conflict", str(exc))
        except Exception as exc:  # reported by the assertions below, with the thread's agent
            outcome = (agent, "error", repr(exc))
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(AGENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a claimer hung"
    assert [r for r in results if r[1] == "error"] == []
    assert len(results) == AGENTS
    return results


def claimed_events_and_joined_messages(url: str, ticket_id: int) -> tuple[int, int]:
    with session_scope(url) as s:
        ticket = queue.get_ticket(s, ticket_id=ticket_id)
        claims = s.scalar(
            select(func.count())
            .select_from(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "claimed")
        )
        joined = s.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.conversation_id == ticket.conversation_id,
                Message.role == "system",
                Message.content.like("% joined the chat"),
            )
        )
        return int(claims or 0), int(joined or 0)


def test_twenty_agents_claim_one_ticket_only_one_wins(db, settings):
    ticket_id = waiting_ticket(db, settings)

    results = race(
        db, lambda s, agent: queue.claim(s, ticket_id=ticket_id, agent=agent, display_name=agent.title()).id
    )

    winners = [agent for agent, kind, _ in results if kind == "won"]
    conflicts = [message for _, kind, message in results if kind == "conflict"]
    assert len(winners) == 1
    assert len(conflicts) == AGENTS - 1
    assert all(CONFLICT.match(m) and f"#{ticket_id} " in m for m in conflicts), conflicts
    with session_scope(db) as s:
        ticket = queue.get_ticket(s, ticket_id=ticket_id)
        assert (ticket.status, ticket.assignee) == ("assigned", winners[0])
    assert claimed_events_and_joined_messages(db, ticket_id) == (1, 1)


def test_twenty_agents_claim_next_from_two_tickets_two_win_different_ones(db, settings):
    tickets = {waiting_ticket(db, settings), waiting_ticket(db, settings)}

    def take_next(s: Session, agent: str) -> int | None:
        ticket = queue.claim_next(s, agent=agent, display_name=agent.title(), settings=settings)
        return None if ticket is None else ticket.id

    results = race(db, take_next)

    won = {agent: ticket_id for agent, kind, ticket_id in results if kind == "won" and ticket_id is not None}
    assert set(won.values()) == tickets and len(won) == 2
    assert sum(1 for _, kind, ticket_id in results if kind == "won" and ticket_id is None) == AGENTS - 2
    with session_scope(db) as s:
        for agent, ticket_id in won.items():
            assert queue.get_ticket(s, ticket_id=ticket_id).assignee == agent
    for ticket_id in tickets:
        assert claimed_events_and_joined_messages(db, ticket_id) == (1, 1)
