"""A real database outage: PostgreSQL stopped mid-conversation, messages spooled on disk, replayed after."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import create_engine, select, text

from agent.prompts import minimal
from agent.service import ChatService, PooledPostgresSaver, ensure_checkpoint_tables, postgres_checkpointer
from core import db as core_db
from core.breakers import HealthRegistry
from core.conversations import NotYourConversation
from core.db import session_scope
from core.migrate import upgrade
from core.models import Message
from core.spool import Spool
from evals.topology.postgres import postgres_available, postgres_server
from handoff.models import Ticket
from tests.clock import FakeClock

pytestmark = pytest.mark.skipif(not postgres_available(), reason="PostgreSQL server binaries not installed")


def test_postgres_outage_spools_turns_and_tickets_and_replays_them_in_order(demo_service, settings, tmp_path):
    clock = FakeClock()
    with postgres_server() as server:
        upgrade(server.url)
        config = settings.model_copy(update={"database_url": server.url, "data_dir": tmp_path})
        health = HealthRegistry(failure_threshold=1, cooldown_s=10.0, clock=clock)
        service = ChatService(
            config, kb=demo_service.kb, health=health, checkpointer=InMemorySaver(), models=[]
        )
        customer = f"c-{uuid.uuid4().hex[:8]}"
        conv = service.start_conversation(customer_id=customer)
        before = service.send(conversation_id=conv, customer_id=customer, text="How do I return an item?")
        assert before.mode == "minimal" and not before.spooled

        server.stop()
        down = service.send(conversation_id=conv, customer_id=customer, text="My parcel never arrived")
        assert down.spooled and down.reply.content == minimal.OFFLINE
        assert service.status().mode == "offline"
        assert "database unavailable" in service.status().reason
        later = service.send(conversation_id=conv, customer_id=customer, text="Hello? Anyone there?")
        assert later.spooled
        service.leave_contact(conversation_id=conv, customer_id=customer, contact="+1 415 555 0199")
        new_conv = service.start_conversation(customer_id=customer)  # created while down, spooled too
        assert len(Spool(config.spool_path)) == 4

        server.start()
        clock.advance(11)  # the breaker lets a probe through; the next turn replays the spool first
        after = service.send(
            conversation_id=new_conv, customer_id=customer, text="What are your phone hours?"
        )
        assert not after.spooled and after.mode == "minimal"
        assert len(service.spool) == 0
        with session_scope(server.url) as s:
            texts = [
                m.content
                for m in s.scalars(
                    select(Message).where(Message.conversation_id == conv).order_by(Message.id)
                )
            ]
            assert texts[0] == "How do I return an item?"
            assert texts[2:] == [
                "My parcel never arrived",
                minimal.OFFLINE,
                "Hello? Anyone there?",
                minimal.OFFLINE,
            ]
            tickets = s.scalars(select(Ticket).where(Ticket.conversation_id == conv)).all()
            assert len(tickets) == 1
            assert tickets[0].contact == "+1 415 555 0199" and tickets[0].reason == "offline"
        assert [c["id"] for c in service.conversations(customer_id=customer)].count(new_conv) == 1


def test_postgres_stores_nul_bytes_and_overlong_keys_without_losing_the_message(
    demo_service, settings, tmp_path
):
    with postgres_server() as server:
        config = settings.model_copy(update={"database_url": server.url, "data_dir": tmp_path})
        # the database came up empty after the app started: the schema is created on first use
        service = ChatService(
            config, kb=demo_service.kb, checkpointer=InMemorySaver(), models=[], migrate_pending=True
        )
        customer = f"c-{uuid.uuid4().hex[:8]}"
        conv = service.start_conversation(customer_id=customer)
        key = "k" * 200
        first = service.send(
            conversation_id=conv, customer_id=customer, text="refund\x00 please", idempotency_key=key
        )
        assert not first.spooled and first.message.content == "refund please"
        again = service.send(
            conversation_id=conv, customer_id=customer, text="refund\x00 please", idempotency_key=key
        )
        assert again.replayed and again.reply.id == first.reply.id
        assert len(service.spool) == 0


def test_a_database_back_with_demo_passwords_in_prod_spools_until_they_are_changed(
    demo_service, settings, tmp_path
):
    """Down at start, the database returns holding demo passwords in production: the service does not serve
    from it (it counts as down: turns spool, nothing is set aside as unappliable), and replays everything
    once an operator has changed the passwords."""
    from core.users import DEMO_USERS, seed_demo_users, set_password

    url = f"sqlite:///{tmp_path / 'prod.db'}"
    upgrade(url)
    with session_scope(url) as s:
        seed_demo_users(s, settings)
    clock = FakeClock()
    config = settings.model_copy(update={"database_url": url, "data_dir": tmp_path, "env": "prod"})
    health = HealthRegistry(failure_threshold=1, cooldown_s=10.0, clock=clock)
    service = ChatService(
        config,
        kb=demo_service.kb,
        health=health,
        checkpointer=InMemorySaver(),
        models=[],
        migrate_pending=True,
    )
    customer = f"c-{uuid.uuid4().hex[:8]}"
    conv = service.start_conversation(customer_id=customer)
    down = service.send(conversation_id=conv, customer_id=customer, text="My parcel never arrived")
    assert down.spooled and down.reply.content == minimal.OFFLINE
    assert service.status().mode == "offline"
    assert service.replay_spool() == 0 and len(service.spool) == 2
    dead = service.spool.path.with_name(service.spool.path.stem + ".dead.jsonl")
    assert not dead.exists()  # nothing set aside as unappliable
    with session_scope(url) as s:
        for demo in DEMO_USERS:
            set_password(
                s, username=demo.username, password=f"{demo.username}-changed-secret-1", settings=config
            )
    clock.advance(11)
    assert service.replay_spool() == 2
    shown = service.transcript(conversation_id=conv, customer_id=customer)
    assert [(m.role, m.content) for m in shown] == [
        ("customer", "My parcel never arrived"),
        ("assistant", minimal.OFFLINE),
    ]


def test_a_spooled_reply_restores_the_message_a_crashed_database_lost(demo_service, settings, tmp_path):
    """The database acknowledged the customer's message, then crashed before the reply and lost the
    message (asynchronous commit): the spooled reply carries the message, and replay stores both."""
    with postgres_server() as server:
        upgrade(server.url)
        config = settings.model_copy(update={"database_url": server.url, "data_dir": tmp_path})
        service = ChatService(config, kb=demo_service.kb, checkpointer=InMemorySaver(), models=[])
        customer = f"c-{uuid.uuid4().hex[:8]}"
        conv = service.start_conversation(customer_id=customer)
        service.spool.append(
            {
                "kind": "reply",
                "conversation_id": conv,
                "customer_id": customer,
                "text": "Where is my parcel?",
                "key": "k-lost-1",
                **service._record(
                    conv, 999_999, "minimal", "test", {"reply": "Here is what I found."}, 1.0, None
                ),
            }
        )
        assert service.replay_spool() == 1
        shown = service.transcript(conversation_id=conv, customer_id=customer)
        assert [(m.role, m.content) for m in shown] == [
            ("customer", "Where is my parcel?"),
            ("assistant", "Here is what I found."),
        ]
        assert shown[1].reply_to == shown[0].id


def test_the_conversation_lock_is_reentrant_and_excludes_another_replica(demo_service, settings, tmp_path):
    """A resume inside a turn takes the lock again without waiting on itself; another process (here a second
    service on the same database) waits until the turn lets go."""
    with postgres_server() as server:
        upgrade(server.url)
        config = settings.model_copy(update={"database_url": server.url, "data_dir": tmp_path})
        one, two = (
            ChatService(config, kb=demo_service.kb, checkpointer=InMemorySaver(), models=[]) for _ in range(2)
        )
        conv = str(uuid.uuid4())
        took: list[float] = []
        with one.conversation_lock(conv):
            t0 = time.monotonic()
            with one.conversation_lock(conv):  # re-entrant: no wait on its own advisory lock
                pass
            assert time.monotonic() - t0 < 2

            def other() -> None:
                start = time.monotonic()
                with two.conversation_lock(conv):
                    took.append(time.monotonic() - start)

            waiter = threading.Thread(target=other)
            waiter.start()
            time.sleep(1.0)
            assert not took  # the other replica waits while this one holds the conversation
        waiter.join(10)
        assert took and took[0] >= 0.9


def _service_on(url: str, settings, demo_service, tmp_path) -> tuple[ChatService, PooledPostgresSaver]:
    """A service with its data and its LangGraph checkpoints on the PostgreSQL server at `url` (no LLM)."""
    upgrade(url)
    config = settings.model_copy(update={"database_url": url, "checkpoint_url": url, "data_dir": tmp_path})
    checkpointer = postgres_checkpointer(url)
    ensure_checkpoint_tables(checkpointer)
    return ChatService(config, kb=demo_service.kb, checkpointer=checkpointer, models=[]), checkpointer


@pytest.fixture
def on_postgres(demo_service, settings, tmp_path) -> Iterator[tuple[ChatService, str, str, str]]:  # type: ignore[no-untyped-def]
    """A service with its data and checkpoints on a PostgreSQL server of its own (no LLM), the server's URL,
    and a new customer's conversation."""
    with postgres_server() as server:
        service, _ = _service_on(server.url, settings, demo_service, tmp_path)
        customer = f"c-{uuid.uuid4().hex[:8]}"
        yield service, server.url, customer, service.start_conversation(customer_id=customer)


def _one_checkpoint(url: str) -> tuple[PooledPostgresSaver, RunnableConfig]:
    """A checkpointer on `url` holding one empty checkpoint, and that checkpoint's config."""
    from langgraph.checkpoint.base import empty_checkpoint

    checkpointer = postgres_checkpointer(url)
    ensure_checkpoint_tables(checkpointer)
    config: RunnableConfig = {"configurable": {"thread_id": str(uuid.uuid4()), "checkpoint_ns": ""}}
    return checkpointer, checkpointer.put(config, empty_checkpoint(), {}, {})


def _all_returned(pool) -> bool:
    stats = pool.get_stats()
    return stats.get("pool_available", 0) == stats.get("pool_size", 0)


def test_a_turn_reads_and_writes_its_checkpoints_over_one_pooled_connection(demo_service, settings, tmp_path):
    """The state read before the turn, the graph's read and its write share one checkout (one check), and the
    write, made on LangGraph's executor thread, is there for the next turn."""
    with postgres_server() as server:
        service, checkpointer = _service_on(server.url, settings, demo_service, tmp_path)
        customer = f"c-{uuid.uuid4().hex[:8]}"
        conv = service.start_conversation(customer_id=customer)
        pool = checkpointer.conn
        before = pool.get_stats().get("requests_num", 0)
        first = service.send(conversation_id=conv, customer_id=customer, text="Do you ship to Canada?")
        assert pool.get_stats().get("requests_num", 0) - before == 1
        follow = service.send(conversation_id=conv, customer_id=customer, text="How long does it take?")
        assert first.reply.citations[0]["article"] == "shipping-to-canada"
        assert follow.reply.citations[0]["article"] == "shipping-to-canada"  # the first turn's state was read
        stored = service.graph.get_state({"configurable": {"thread_id": conv}}).values["messages"]
        assert [m.content for m in stored if m.type == "human"] == [
            "Do you ship to Canada?",
            "How long does it take?",
        ]
        # a pause for a person writes the pending writes and the checkpoint side by side: they take turns
        handed = service.send(conversation_id=conv, customer_id=customer, text="Can I talk to a real person?")
        assert handed.outcome == "handoff" and service.interrupted_state(conv) is not None
        waiting = service.send(conversation_id=conv, customer_id=customer, text="Hello? Anyone there?")
        assert waiting.held and waiting.reply is None  # the pending interrupt was seen: the bot stays silent
        assert _all_returned(pool)  # all back


def test_a_checkpoint_read_ahead_answers_the_next_read_once_and_a_write_forgets_it(monkeypatch) -> None:
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.postgres import PostgresSaver

    with postgres_server() as server:
        checkpointer, saved = _one_checkpoint(server.url)
        reads: list[RunnableConfig] = []
        real = PostgresSaver.get_tuple
        monkeypatch.setattr(PostgresSaver, "get_tuple", lambda self, c: reads.append(c) or real(self, c))
        config: RunnableConfig = {"configurable": {"thread_id": saved["configurable"]["thread_id"]}}
        with checkpointer.pinned():
            ahead = checkpointer.read_ahead(config)
            assert ahead is not None and checkpointer.get_tuple(config) is ahead and len(reads) == 1
            assert checkpointer.get_tuple(config) is not ahead and len(reads) == 2  # handed out once
            checkpointer.read_ahead(config)
            checkpointer.put(saved, empty_checkpoint(), {}, {})  # a write in between
            assert checkpointer.get_tuple(config) is not None and len(reads) == 4
            checkpointer.read_ahead(config)
            other: RunnableConfig = {"configurable": {"thread_id": "another"}}
            assert checkpointer.get_tuple(other) is None and len(reads) == 6  # another thread: read
        checkpointer.read_ahead(config)  # no pin: nothing kept
        checkpointer.get_tuple(config)
        assert len(reads) == 8


def test_writes_on_the_pinned_checkpoint_connection_take_turns() -> None:
    """LangGraph's executor writes pending writes and checkpoints side by side; on one pinned connection two
    pipelines at once would break it (psycopg asserts), so they run one after the other."""
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    with postgres_server() as server:
        checkpointer, saved = _one_checkpoint(server.url)
        before = checkpointer.conn.get_stats().get("requests_num", 0)
        with checkpointer.pinned(), ThreadPoolExecutor(4) as pool:
            futures = [
                pool.submit(
                    contextvars.copy_context().run,
                    checkpointer.put_writes,
                    saved,
                    [("channel", {"n": n, "text": "x" * 2000})],
                    f"task-{n}",
                )
                for n in range(40)
            ]
            for future in futures:
                future.result()
        assert checkpointer.conn.get_stats().get("requests_num", 0) - before == 1  # all on the pinned one
        stored = checkpointer.get_tuple(saved)
        assert stored is not None and len(stored.pending_writes or []) == 40


def test_a_pinned_checkpoint_connection_is_trusted_only_while_the_turn_uses_it(monkeypatch) -> None:
    """Idle past PING_AFTER_IDLE_S (a slow LLM call) or once the block has ended (a thread that kept a copy of
    the turn's context), a read checks out a connection of its own, checked, instead of the pinned one."""
    import contextvars

    with postgres_server() as server:
        checkpointer, saved = _one_checkpoint(server.url)
        pool = checkpointer.conn

        def requests() -> int:
            return pool.get_stats().get("requests_num", 0)

        before = requests()
        with checkpointer.pinned():
            assert checkpointer.get_tuple(saved) is not None
            assert checkpointer.get_tuple(saved) is not None
            assert requests() - before == 1  # both reads on the pin
            monkeypatch.setattr(core_db, "PING_AFTER_IDLE_S", 0.0)  # as if the pin had sat idle
            assert checkpointer.get_tuple(saved) is not None
            assert requests() - before == 2  # a checkout of its own
            kept = contextvars.copy_context()
        assert kept.run(checkpointer.get_tuple, saved) is not None  # after the block: never the returned pin
        assert requests() - before == 3
        assert _all_returned(pool)


@pytest.mark.parametrize("idle", [True, False], ids=["idle-connections", "busy-connections"])
def test_connections_from_before_a_restart_never_fail_a_turn_once_idle(
    demo_service, settings, tmp_path, monkeypatch, idle
):
    """SQLAlchemy's pooled connections are pinged only after sitting idle (PING_AFTER_IDLE_S): after a
    restart an idle one is replaced at checkout and the turn is served. One used just before a crash-restart
    is not pinged: the turn that meets it is spooled (nothing lost) and the pool drops every connection from
    before. The checkpointer's pool checks every checkout, so no turn after the first fails."""
    monkeypatch.setattr(core_db, "PING_AFTER_IDLE_S", 0.0 if idle else 3600.0)
    with postgres_server() as server:
        service, _ = _service_on(server.url, settings, demo_service, tmp_path)
        customer = f"c-{uuid.uuid4().hex[:8]}"
        conv = service.start_conversation(customer_id=customer)
        assert not service.send(
            conversation_id=conv, customer_id=customer, text="How do I return an item?"
        ).spooled

        server.stop()
        server.start()
        turn = service.send(conversation_id=conv, customer_id=customer, text="Do you ship to Canada?")
        if idle:
            assert not turn.spooled and turn.mode == "minimal" and turn.outcome != "failed"
        else:
            assert turn.spooled  # met a dead connection; kept on disk, replayed below
        again = service.send(conversation_id=conv, customer_id=customer, text="What are your phone hours?")
        assert not again.spooled and again.outcome != "failed"  # the checkpointer's pool replaced dead ones
        assert len(service.spool) == 0
        with session_scope(server.url) as s:
            texts = [m.content for m in s.scalars(select(Message).where(Message.conversation_id == conv))]
        assert {"Do you ship to Canada?", "What are your phone hours?"} <= set(texts)


@pytest.mark.parametrize("second_writer", ["transaction", "one statement"])
def test_two_writers_of_one_reply_at_once_store_it_once(on_postgres, second_writer):
    """A spool replay and a retried turn (two replicas) writing the same message's reply at the same moment:
    the second waits for the first's commit and then finds the reply, instead of storing a second one. The
    second writes as a spool replay does (a transaction) or as a turn does (one statement on PostgreSQL)."""
    import threading

    service, url, customer, conv = on_postgres
    accepted = service._accept(conv, customer, "Where is my parcel?", uuid.uuid4().hex)
    assert isinstance(accepted, tuple)
    message_id = accepted[0]

    def record(reply: str) -> dict:
        return service._record(conv, message_id, "minimal", "test", {"reply": reply}, 1.0, None)

    first = session_scope(url)
    session = first.__enter__()
    seen: list = []

    def write_second() -> None:
        if second_writer == "transaction":
            seen.append(_write_and_commit(service, url, conv, customer, record("another")))
        else:
            seen.append(service._store_reply(conv, customer, message_id, record("another")).reply)

    second = threading.Thread(target=write_second, daemon=True)
    try:
        service._write_reply(session, conv, customer, record("the first writer's reply"))  # not committed
        second.start()
        assert _waiting_on_a_lock(url, within_s=10)  # the second writer, on the first's row lock
    finally:
        first.__exit__(None, None, None)  # commit
    second.join(10)
    assert seen and seen[0].content == "the first writer's reply"
    with session_scope(url) as s:
        replies = s.scalars(select(Message).where(Message.reply_to == message_id)).all()
        status = s.get(Message, message_id).status
    assert [r.content for r in replies] == ["the first writer's reply"] and status == "answered"


def _waiting_on_a_lock(url: str, *, within_s: float) -> bool:
    import time

    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE messages%'"
    )
    try:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.execute(query).scalar():
                    return True
            time.sleep(0.05)
        return False
    finally:
        engine.dispose()


def _write_and_commit(service: ChatService, url: str, conv: str, customer: str, record: dict):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        return service._write_reply(s, conv, customer, record)[1]


def _statements(url: str) -> tuple[list[str], object]:
    """The SQL the service's engine sends to `url` from now on (checkpoints, on their own pool, aside)."""
    from sqlalchemy import event

    sent: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    event.listen(core_db.get_engine(url), "before_cursor_execute", note)
    return sent, note


def test_a_turn_on_postgres_stores_its_message_and_its_reply_in_one_statement_each(on_postgres):
    """The message (conversation claimed and named) and the reply (message marked, reply, turn record and
    conversation mode) each in one round trip: each statement is atomic on its own."""
    from sqlalchemy import event

    from core.models import Conversation, TurnRecord

    service, url, customer, conv = on_postgres
    sent, note = _statements(url)
    try:
        result = service.send(conversation_id=conv, customer_id=customer, text="How do I return an item?")
    finally:
        event.remove(core_db.get_engine(url), "before_cursor_execute", note)
    assert result.mode == "minimal" and result.outcome == "answered" and not result.spooled
    inserts = [s for s in sent if s.lstrip().startswith("WITH")]
    assert len(inserts) == 2, sent  # the message, then the reply with its record
    assert not any(s.lstrip().startswith(("INSERT", "UPDATE")) for s in sent), sent  # none on its own
    with session_scope(url) as s:
        message = s.get(Message, result.message.id)
        reply = s.get(Message, result.reply.id)
        record = s.scalar(select(TurnRecord).where(TurnRecord.message_id == message.id))
        conversation = s.get(Conversation, conv)
        assert message.status == "answered" and message.content == "How do I return an item?"
        assert reply.reply_to == message.id and reply.content == result.reply.content
        assert reply.citations == result.reply.citations and reply.citations
        assert record.reply_id == reply.id and record.mode == "minimal" and record.outcome == "answered"
        assert record.passages and record.latencies_ms["total"] > 0
        assert conversation.mode == "minimal" and conversation.title == "How do I return an item?"


def test_on_postgres_a_second_reply_to_one_message_is_refused_and_the_first_returned(on_postgres):
    service, url, customer, conv = on_postgres
    first = service.send(conversation_id=conv, customer_id=customer, text="Do you ship to Canada?")
    record = service._record(conv, first.message.id, "minimal", "test", {"reply": "another"}, 1.0, None)
    again = service._store_reply(conv, customer, first.message.id, record)
    assert again.reply.id == first.reply.id and again.reply.content == first.reply.content
    with session_scope(url) as s:
        replies = s.scalars(select(Message).where(Message.reply_to == first.message.id)).all()
    assert [r.id for r in replies] == [first.reply.id]


def test_on_postgres_a_reply_with_personal_data_gets_its_values_back_and_someone_else_gets_nothing(
    on_postgres,
):
    service, url, customer, conv = on_postgres
    accepted = service._accept(conv, customer, "write to jane.doe@example.com", uuid.uuid4().hex)
    assert isinstance(accepted, tuple)
    masked, kinds = service._mask(conv, "write to jane.doe@example.com")
    assert "jane.doe@example.com" not in masked and kinds
    record = service._record(conv, accepted[0], "minimal", "test", {"reply": f"We {masked}."}, 1.0, None)
    stored = service._store_reply(conv, customer, accepted[0], record)
    assert stored.reply.content == "We write to jane.doe@example.com."

    stranger = f"c-{uuid.uuid4().hex[:8]}"
    with pytest.raises(NotYourConversation):
        service.send(conversation_id=conv, customer_id=stranger, text="show me")
    with session_scope(url) as s:
        texts = [m.content for m in s.scalars(select(Message).where(Message.conversation_id == conv))]
    assert "show me" not in texts


def _limited_service(
    url: str, limit_s: float, settings, demo_service, tmp_path, monkeypatch
) -> tuple[ChatService, PooledPostgresSaver]:
    """A service on `url` whose PostgreSQL connections carry DB_STATEMENT_TIMEOUT_S = `limit_s`."""
    upgrade(url)
    config = settings.model_copy(
        update={"database_url": url, "data_dir": tmp_path, "db_statement_timeout_s": limit_s}
    )
    monkeypatch.setattr(core_db, "get_settings", lambda: config)  # the engines' reader of the setting
    checkpointer = postgres_checkpointer(url, statement_timeout_s=limit_s)
    ensure_checkpoint_tables(checkpointer)
    return ChatService(config, kb=demo_service.kb, checkpointer=checkpointer, models=[]), checkpointer


def test_a_stuck_database_fails_the_turn_at_the_statement_limit_and_the_reply_is_stored_after(
    demo_service, settings, tmp_path, monkeypatch
):
    """DB_STATEMENT_TIMEOUT_S: a table locked by someone else (a runaway migration, a stuck session) makes
    the turn's first statement wait. It is cancelled at the limit: the customer gets the Offline notice at
    once, spooled, and it is stored when the table is free again, instead of a turn that hangs as long as the
    lock."""
    with postgres_server() as server:
        service, checkpointer = _limited_service(
            server.url, 1.0, settings, demo_service, tmp_path, monkeypatch
        )
        with core_db.get_engine(server.url).connect() as conn:  # both pools carry the limit
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1s"
            assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == "10s"
        with checkpointer.conn.connection() as raw:
            assert raw.execute("SHOW statement_timeout").fetchone()["statement_timeout"] == "1s"
            assert raw.info.get_parameters()["tcp_user_timeout"] == "1000"  # a silent host: given up on
        customer = f"c-{uuid.uuid4().hex[:8]}"
        conv = service.start_conversation(customer_id=customer)

        blocker = create_engine(server.url)
        held = blocker.connect()
        held.execute(text("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE"))
        released = threading.Timer(20, held.rollback)  # without a limit the turn waits for this
        released.start()
        results = []
        t0 = time.monotonic()
        turn = threading.Thread(
            target=lambda: results.append(
                service.send(conversation_id=conv, customer_id=customer, text="How do I return an item?")
            )
        )
        turn.start()
        turn.join(10)
        took = time.monotonic() - t0
        try:
            assert results, "the turn still waits on the locked table"
            [stuck] = results
            assert stuck.spooled and stuck.reply.content == minimal.OFFLINE
            assert took < 8
        finally:
            released.cancel()
            held.rollback()
            held.close()
            blocker.dispose()
            turn.join(30)
        assert service.replay_spool() >= 1
        with session_scope(server.url) as s:
            stored = s.scalars(
                select(Message).where(Message.conversation_id == conv).order_by(Message.id)
            ).all()
            assert [(m.role, m.content) for m in stored] == [
                ("customer", "How do I return an item?"),
                ("assistant", minimal.OFFLINE),
            ]
        checkpointer.conn.close()
        core_db.get_engine(server.url).dispose()


def _iptables(*args: str) -> bool:
    if os.geteuid() != 0 or shutil.which("iptables") is None:
        return False
    return subprocess.run(["iptables", "-w", *args], capture_output=True, check=False).returncode == 0


def test_a_vanished_database_host_is_given_up_on_and_the_turn_spooled(
    demo_service, settings, tmp_path, monkeypatch
):
    """A host that vanishes mid-conversation (a dead VM, a partition) sends no reset: without keepalives and
    `tcp_user_timeout` a turn would wait for the kernel's retransmissions (~15 min). Dropping the server's
    packets with iptables stands in for it: the turn is spooled within seconds and stored after."""
    if not _iptables("-S", "INPUT"):
        pytest.skip("needs root and iptables to drop the server's packets")
    with postgres_server() as server:
        service, checkpointer = _limited_service(
            server.url, 2.0, settings, demo_service, tmp_path, monkeypatch
        )
        customer = f"c-{uuid.uuid4().hex[:8]}"
        conv = service.start_conversation(customer_id=customer)
        before = service.send(conversation_id=conv, customer_id=customer, text="How do I return an item?")
        assert not before.spooled  # the pools now hold established connections to the host

        rules = [
            ["INPUT", "-p", "tcp", "-i", "lo", side, str(server.port), "-j", "DROP"]
            for side in ("--dport", "--sport")
        ]
        results: list = []
        try:
            for rule in rules:
                assert _iptables("-I", *rule)
            t0 = time.monotonic()
            turn = threading.Thread(
                target=lambda: results.append(
                    service.send(conversation_id=conv, customer_id=customer, text="My parcel never arrived")
                ),
                daemon=True,
            )
            turn.start()
            turn.join(40)
            took = time.monotonic() - t0
        finally:
            for rule in rules:
                _iptables("-D", *rule)
        assert results, "the turn still waits on a host that vanished"
        [gone] = results
        assert gone.spooled and gone.reply.content == minimal.OFFLINE
        assert took < 20, took
        deadline = time.monotonic() + 30
        while service.spool and time.monotonic() < deadline:  # the host is back: the spool replays
            service.replay_spool()
            time.sleep(0.5)
        with session_scope(server.url) as s:
            stored = [m.content for m in s.scalars(select(Message).where(Message.conversation_id == conv))]
        assert "My parcel never arrived" in stored and minimal.OFFLINE in stored
        checkpointer.conn.close()
        core_db.get_engine(server.url).dispose()


def test_a_replica_waits_for_the_conversation_past_the_statement_limit(
    demo_service, settings, tmp_path, monkeypatch, caplog
):
    """The cross-replica conversation lock waits as long as lock_timeout (a turn with a slow model), not the
    statement limit: giving up at the limit would run two replicas' turns on one thread side by side."""
    with postgres_server() as server:
        one, _ = _limited_service(server.url, 1.0, settings, demo_service, tmp_path / "one", monkeypatch)
        two, _ = _limited_service(server.url, 1.0, settings, demo_service, tmp_path / "two", monkeypatch)
        conv = str(uuid.uuid4())
        took: list[float] = []

        def other() -> None:
            start = time.monotonic()
            with two.conversation_lock(conv):
                took.append(time.monotonic() - start)

        with caplog.at_level("WARNING", logger="agent.service"), one.conversation_lock(conv):
            waiter = threading.Thread(target=other)
            waiter.start()
            time.sleep(2.5)  # longer than the 1 s statement limit
            assert not took
        waiter.join(10)
        assert took and took[0] >= 2.4
        assert "conversation lock unavailable" not in caplog.text
        with core_db.get_engine(server.url).connect() as conn:  # the waiting connection has its limit back
            shown = {conn.execute(text("SHOW statement_timeout")).scalar() for _ in range(5)}
            assert shown == {"1s"}
        core_db.get_engine(server.url).dispose()


def test_the_limits_keep_the_options_a_database_url_already_has(
    demo_service, settings, tmp_path, monkeypatch
):
    """`?options=-c search_path=...` in DATABASE_URL or CHECKPOINT_URL survives the limits' own options."""
    with postgres_server() as server:
        url = f"{server.url}?options=-c%20application_name%3Dsupport-api"
        _, checkpointer = _limited_service(url, 1.0, settings, demo_service, tmp_path, monkeypatch)
        with core_db.get_engine(url).connect() as conn:
            assert conn.execute(text("SHOW application_name")).scalar() == "support-api"
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1s"
        with checkpointer.conn.connection() as raw:
            row = raw.execute(
                "SELECT current_setting('application_name') AS a, current_setting('statement_timeout') AS s"
            ).fetchone()
            assert row == {"a": "support-api", "s": "1s"}
        checkpointer.conn.close()
        core_db.get_engine(url).dispose()


def test_langgraphs_table_setup_is_not_cut_short_by_the_statement_limit(
    demo_service, settings, tmp_path, monkeypatch
):
    """LangGraph's migrations (`CREATE INDEX CONCURRENTLY` among them) run without the limit: one cancelled
    on a large table would leave an invalid index that `IF NOT EXISTS` skips for good. Here its migrations
    table is locked for longer than the 1 s limit; the setup waits it out, and the pool keeps its limit."""
    with postgres_server() as server:
        _, checkpointer = _limited_service(server.url, 1.0, settings, demo_service, tmp_path, monkeypatch)
        blocker = create_engine(server.url)
        held = blocker.connect()
        held.execute(text("LOCK TABLE checkpoint_migrations IN ACCESS EXCLUSIVE MODE"))
        threading.Timer(2.0, held.rollback).start()
        t0 = time.monotonic()
        ensure_checkpoint_tables(checkpointer)  # raised QueryCanceled at 1 s under the limit
        assert time.monotonic() - t0 >= 1.9
        held.close()
        blocker.dispose()
        with checkpointer.conn.connection() as raw:
            assert raw.execute("SHOW statement_timeout").fetchone()["statement_timeout"] == "1s"
        checkpointer.conn.close()
        core_db.get_engine(server.url).dispose()
