"""Checkpoint retention through the service: real turns on SQLite and on PostgreSQL, a handoff that waits
across a sweep, and the backlog command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.service import ChatService, ensure_checkpoint_tables, make_checkpointer
from core import users
from core.migrate import upgrade
from tests.ci import unavailable

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def service(request, demo_service, settings, tmp_path) -> Iterator[ChatService]:  # type: ignore[no-untyped-def]
    if request.param == "postgres":
        from evals.topology.postgres import postgres_available

        if not postgres_available():
            unavailable("no usable PostgreSQL server", what="PostgreSQL tests")
        url = request.getfixturevalue("postgres_url")
        database, checkpoints = url, url
    else:
        database, checkpoints = f"sqlite:///{tmp_path / 'support.db'}", str(tmp_path / "checkpoints.db")
    config = settings.model_copy(
        update={"data_dir": tmp_path, "database_url": database, "checkpoint_url": checkpoints}
    )
    upgrade(database)
    saver = make_checkpointer(checkpoints)
    ensure_checkpoint_tables(saver)
    yield ChatService(config, kb=demo_service.kb, checkpointer=saver, models=[])


def _checkpoints(svc: ChatService, conversation_id: str) -> int:
    return len(list(svc.checkpointer.list({"configurable": {"thread_id": conversation_id}})))


def _messages(svc: ChatService, conversation_id: str) -> list[str]:
    state = svc.graph.get_state({"configurable": {"thread_id": conversation_id}})
    return [str(m.content) for m in state.values["messages"]]


def test_a_sweep_leaves_one_checkpoint_and_the_conversation_goes_on(service):
    svc = service
    customer = f"c-{uuid.uuid4().hex[:8]}"
    conv = svc.start_conversation(customer_id=customer)
    for text in ("How do I return an item?", "How long do refunds take?", "Do you ship to Canada?"):
        assert svc.send(conversation_id=conv, customer_id=customer, text=text).outcome == "answered"
    assert _checkpoints(svc, conv) == 3
    history = _messages(svc, conv)

    swept = svc.checkpoints.sweep()

    assert swept.pruned >= 1 and swept.failed == 0 and swept.left == 0
    assert _checkpoints(svc, conv) == 1
    assert _messages(svc, conv) == history  # the latest checkpoint holds the whole thread
    after = svc.send(conversation_id=conv, customer_id=customer, text="And what does shipping there cost?")
    assert after.reply is not None and after.outcome == "answered"
    assert _messages(svc, conv)[: len(history)] == history and len(_messages(svc, conv)) == len(history) + 2
    assert _checkpoints(svc, conv) == 2 and svc.checkpoints.waiting() == 1


def test_a_conversation_waiting_for_a_person_still_waits_after_a_sweep_and_hands_back(service):
    svc = service
    customer = f"c-{uuid.uuid4().hex[:8]}"
    conv = svc.start_conversation(customer_id=customer)
    svc.send(conversation_id=conv, customer_id=customer, text="How do I return an item?")
    asked = svc.send(
        conversation_id=conv, customer_id=customer, text="I'd like to talk to a real person please"
    )
    assert asked.outcome == "handoff"

    svc.checkpoints.sweep()

    assert _checkpoints(svc, conv) == 1
    assert svc.interrupted_state(conv) is not None  # the pending interrupt stayed with the latest checkpoint
    name = f"agent{uuid.uuid4().hex[:6]}"
    with svc._session() as s:
        users.create_user(
            s,
            username=name,
            display_name="Alex",
            role="agent",
            password="a-long-test-pass",
            settings=svc.settings,
        )
    alex = svc.authenticate(username=name, password="a-long-test-pass")
    assert alex is not None
    ticket = next(t for t in svc.desk.queue(alex) if t.conversation_id == conv)
    svc.desk.claim(alex, ticket.id)
    svc.desk.reply(alex, ticket.id, "Hi, I'm Alex; the return is booked.")
    svc.desk.hand_back(alex, ticket.id)

    assert svc.interrupted_state(conv) is None
    assert any("the return is booked" in m for m in _messages(svc, conv))
    svc.checkpoints.sweep()  # the resume wrote checkpoints of its own: they go too
    assert _checkpoints(svc, conv) == 1
    after = svc.send(conversation_id=conv, customer_id=customer, text="How long do refunds take?")
    assert after.outcome == "answered"


def test_the_backlog_command_prunes_every_conversation(service, tmp_path):
    svc = service
    conversations = []
    for _ in range(2):
        customer = f"c-{uuid.uuid4().hex[:8]}"
        conv = svc.start_conversation(customer_id=customer)
        for text in ("How do I return an item?", "How long do refunds take?"):
            svc.send(conversation_id=conv, customer_id=customer, text=text)
        conversations.append(conv)
    history = {conv: _messages(svc, conv) for conv in conversations}
    env = {
        **os.environ,
        "CHECKPOINT_URL": svc.settings.checkpoint_url,
        "DATABASE_URL": svc.settings.database_url,
        "DATA_DIR": str(tmp_path),
    }

    done = subprocess.run(
        [sys.executable, "-m", "agent.checkpoints", "prune", "--batch", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    pruned = re.search(
        r"pruned (\d+) conversations: (\d+) checkpoints \((\d+) KB\) before, (\d+) \((\d+) KB\) after",
        done.stdout,
    )
    assert pruned is not None, done.stdout
    assert int(pruned[1]) >= 2 and int(pruned[2]) > int(pruned[4]) and int(pruned[3]) > int(pruned[5])
    for conv in conversations:
        assert _checkpoints(svc, conv) == 1 and _messages(svc, conv) == history[conv]
    stats = subprocess.run(
        [sys.executable, "-m", "agent.checkpoints", "stats"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    counted = re.match(r"(\d+) checkpoints of (\d+) conversations, (\d+) KB of data", stats.stdout)
    assert counted is not None, stats.stdout
    assert counted[1] == counted[2]  # one checkpoint per conversation, everywhere


def test_on_postgres_a_prune_beside_a_saving_turn_keeps_what_the_turn_wrote(postgres_url):
    """A turn's put writes its blobs, then its checkpoint: a prune between the two must not take the blobs,
    and the checkpoints that turn read from stay readable."""
    from langgraph.checkpoint.base import empty_checkpoint

    from agent.checkpoints import prune_threads
    from agent.service import postgres_checkpointer

    saver = postgres_checkpointer(postgres_url.replace("postgresql+psycopg://", "postgresql://", 1))
    ensure_checkpoint_tables(saver)
    thread = f"t-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    versions = []
    for step in range(3):
        checkpoint = empty_checkpoint()
        version = saver.get_next_version(versions[-1] if versions else None, None)
        versions.append(version)
        checkpoint["channel_values"] = {"messages": [f"turn {step}"]}
        checkpoint["channel_versions"] = {"messages": version}
        config = saver.put(config, checkpoint, {}, {"messages": version})
    in_flight = saver.get_next_version(versions[-1], None)
    with saver._cursor() as cur:  # the next turn's blob, its checkpoint not saved yet
        cur.execute(
            "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)"
            " VALUES (%s, '', 'messages', %s, 'empty', NULL)",
            (thread, in_flight),
        )

    assert prune_threads(saver, [thread]) == 2

    with saver._cursor() as cur:
        cur.execute("SELECT version FROM checkpoint_blobs WHERE thread_id = %s ORDER BY version", (thread,))
        assert [row["version"] for row in cur.fetchall()] == [versions[-1], in_flight]
    kept = saver.get_tuple({"configurable": {"thread_id": thread}})
    assert kept is not None and kept.checkpoint["channel_values"] == {"messages": ["turn 2"]}


def test_an_api_replica_prunes_what_its_turns_superseded_when_it_shuts_down(demo_service, settings, tmp_path):
    from fastapi.testclient import TestClient

    from app.api.main import create_app

    config = settings.model_copy(
        update={
            "data_dir": tmp_path,
            "database_url": f"sqlite:///{tmp_path / 'support.db'}",
            "checkpoint_url": str(tmp_path / "checkpoints.db"),
            "kb_eval_check": False,
        }
    )
    upgrade(config.database_url)
    saver = make_checkpointer(config.checkpoint_url)
    svc = ChatService(config, kb=demo_service.kb, checkpointer=saver, models=[])
    with TestClient(create_app(service=svc)) as client:
        me = {"Authorization": f"Bearer {client.post('/v1/auth/guest').json()['token']}"}
        cid = client.post("/v1/conversations", headers=me).json()["id"]
        for text in ("How do I return an item?", "How long do refunds take?"):
            sent = client.post(f"/v1/conversations/{cid}/messages", headers=me, json={"text": text})
            assert sent.status_code == 200, sent.text
        assert _checkpoints(svc, cid) == 2  # no sweep yet: CHECKPOINT_PRUNE_S is a minute

    assert _checkpoints(svc, cid) == 1 and svc.checkpoints.waiting() == 0
