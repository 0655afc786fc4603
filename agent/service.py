"""Runs one customer turn end to end: store the message first, run the graph, store the reply and the record.

A failure anywhere after the customer's message is stored still ends in a stored reply. When the database
itself is down, the message and the Offline notice are spooled on local disk and replayed when it returns.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import sqlalchemy as sa
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple, get_checkpoint_id
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from psycopg import Connection, Cursor
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool
from sqlalchemy import bindparam, case, insert, select, text, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from agent.checkpoints import CheckpointJanitor
from agent.context import TurnContext
from agent.desk import HandoffDesk
from agent.graph import build_graph
from agent.ladder import decide_mode
from agent.llm import LLMLadder, ModelSlot, build_models
from agent.prompts import minimal
from agent.prompts.store import PromptStore
from agent.state import RESET, Mode
from core import conversations as conv_store
from core import db as core_db
from core import pii, pii_vault, users
from core.breakers import HealthRegistry, ModeDecision
from core.chaos import ChaosController
from core.config import Settings
from core.db import (
    DatabaseUnavailable,
    get_engine,
    postgres_connect_args,
    session_scope,
    statement_limit_lifted,
    utcnow,
)
from core.faults import DependencyFault
from core.models import CONVERSATIONS, MESSAGES, NEW_TITLE, TURN_RECORDS, Message, TurnRecord
from core.policy import load_policy
from core.ratelimit import (
    RateLimited,
    RateLimiter,
    shared_bucket_cte,
    shared_params,
    sweep_shared,
    take_shared,
    waiting_shared,
)
from core.spool import Spool
from core.text import clean_customer_text
from core.tracing import TurnTracer
from core.users import AuthenticatedUser
from handoff import queue, tickets
from handoff.models import Ticket
from handoff.packet import offline_packet, offline_summary
from handoff.reasons import BASE_PRIORITY, HandoffReason
from knowledge.service import KnowledgeBase
from knowledge.studio import Studio

logger = logging.getLogger(__name__)

TokenCallback = Callable[[str], None]


@dataclass(frozen=True)
class TurnResult:
    conversation_id: str
    message: conv_store.MessageView
    """The stored customer message (id 0 while it waits in the spool)."""
    reply: conv_store.MessageView | None
    """The bot's reply; None while a person owns the conversation (the bot stays silent)."""
    mode: Mode
    outcome: str
    confidence: float | None
    replayed: bool = False
    """True when the idempotency key matched an earlier turn and its reply is returned again."""
    mode_reason: str = ""
    spooled: bool = False
    """True when the database was down: message and reply wait on local disk, to be replayed."""
    held: bool = False
    """True when the conversation is with a person: the message is stored for them, the bot is silent."""
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
    """Where the turn's time went (ms): accept (the message stored), lock (the conversation's lock, in this
    process and on PostgreSQL, and the checkpoint connection the turn pins), hold (is a person on it), graph
    (and node.<name> within it, node.retrieve.<part> within that), store (the reply). Only the phases it
    ran."""


def sqlite_checkpointer(path: str) -> SqliteSaver:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return SqliteSaver(sqlite3.connect(path, check_same_thread=False))


_PIN_WAIT_S = 1.0
"""How long a turn waits for a checkpoint connection to pin before doing without."""


_INTERRUPT = "__interrupt__"
"""The channel of an interrupt's pending write in a LangGraph checkpoint (the constant is private to
LangGraph; the handoff tests fail if it ever changes)."""


def _read_key(config: RunnableConfig) -> tuple[str, str, str | None]:
    configurable = config.get("configurable", {})
    return (
        str(configurable["thread_id"]),
        configurable.get("checkpoint_ns", ""),
        get_checkpoint_id(config),
    )


class _Pin:
    """A turn's pinned checkpoint connection: one read or write at a time, trusted only while the turn keeps
    using it (idle past PING_AFTER_IDLE_S, or after an error, the rest of the turn checks out its own)."""

    def __init__(self, conn: Connection[DictRow]) -> None:
        self.conn = conn
        self.active = True
        self.lock = threading.RLock()
        self.last_used = time.monotonic()
        self.kept: tuple[tuple[str, str, str | None], CheckpointTuple | None] | None = None
        """A checkpoint read ahead (`PooledPostgresSaver.read_ahead`) and the read it answers."""

    @contextlib.contextmanager
    def use(self) -> Iterator[Connection[DictRow] | None]:
        with self.lock:
            if not self.active or time.monotonic() - self.last_used > core_db.PING_AFTER_IDLE_S:
                self.active = False
                yield None
                return
            try:
                yield self.conn
            except psycopg.Error:
                self.active = False  # a dead server, or a connection left in a bad state
                raise
            finally:
                self.last_used = time.monotonic()


class PooledPostgresSaver(PostgresSaver):
    """PostgresSaver takes one process-wide lock around every cursor, even over a pool, so every turn of a
    replica waited for every other turn's checkpoint writes. A pooled connection serves one thread at a
    time already: the lock is only needed for a single shared connection."""

    def __init__(self, conn: ConnectionPool) -> None:
        super().__init__(conn)  # type: ignore[arg-type]
        self._pinned: ContextVar[_Pin | None] = ContextVar(f"pinned-{id(self)}", default=None)

    @contextlib.contextmanager
    def pinned(self) -> Iterator[None]:
        """One pooled connection for the reads and writes of this block (a turn: its state read, the graph's
        read and its write), so one checkout and one check instead of one each.

        LangGraph's executor copies the context, so its writes see the pin too; they take turns on the
        connection (a pause for a person writes the pending writes and the checkpoint side by side). A pin
        idle longer than PING_AFTER_IDLE_S (a slow LLM call) is not trusted: that read or write checks out a
        connection of its own, checked, as does any use once the block has ended. Without a connection to be
        had at once, nothing is pinned."""
        if not isinstance(self.conn, ConnectionPool) or self._pinned.get() is not None:
            yield
            return
        stack = contextlib.ExitStack()
        try:
            conn = stack.enter_context(self.conn.connection(timeout=_PIN_WAIT_S))
        except Exception:  # none free, or the database is down: each read and write fends for itself
            conn = None
        if conn is None:
            yield
            return
        with stack:
            pin = _Pin(conn)
            token = self._pinned.set(pin)
            try:
                yield
            finally:
                pin.active = False
                self._pinned.reset(token)

    def read_ahead(self, config: RunnableConfig) -> CheckpointTuple | None:
        """`get_tuple`, kept for the next read of the same checkpoint in this pin: a turn looks for a pending
        interrupt, then its graph starts from the same checkpoint (the conversation lock keeps it unchanged
        in between). The graph changes what it reads, so the tuple is handed out once."""
        saved = self.get_tuple(config)
        pin = self._pinned.get()
        if pin is not None:
            pin.kept = (_read_key(config), saved)
        return saved

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        pin = self._pinned.get()
        if pin is not None and pin.kept is not None:
            key, saved = pin.kept
            pin.kept = None
            if key == _read_key(config):
                return saved
        return super().get_tuple(config)

    def put(self, *args: Any, **kwargs: Any) -> RunnableConfig:
        self._forget_read()
        return super().put(*args, **kwargs)

    def put_writes(self, *args: Any, **kwargs: Any) -> None:
        self._forget_read()
        super().put_writes(*args, **kwargs)

    def delete_thread(self, thread_id: str) -> None:
        self._forget_read()
        super().delete_thread(thread_id)

    def _forget_read(self) -> None:
        pin = self._pinned.get()
        if pin is not None:
            pin.kept = None

    @contextlib.contextmanager
    def _cursor(self, *, pipeline: bool = False) -> Iterator[Cursor[DictRow]]:
        if self.pipe is not None or not isinstance(self.conn, ConnectionPool):
            with super()._cursor(pipeline=pipeline) as cur:
                yield cur
            return
        pin = self._pinned.get()
        with (
            pin.use() if pin is not None else contextlib.nullcontext(None) as pinned,
            contextlib.nullcontext(pinned) if pinned is not None else self.conn.connection() as conn,
        ):
            if pipeline and self.supports_pipeline:
                with conn.pipeline(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
            elif pipeline:
                with conn.transaction(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
            else:
                with conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur


def postgres_checkpointer(
    url: str, *, pool_size: int = 20, statement_timeout_s: float = 0
) -> PooledPostgresSaver:
    """LangGraph's Postgres checkpointer over a connection pool, so replicas share every thread.

    The pool connects in the background: a database that is down at start is not an error here (turns go
    Offline and spool); `ensure_checkpoint_tables` creates the tables once it answers.
    """
    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    options = conninfo_to_dict(conninfo).get("options")  # what the URL asks for, kept beside the limits
    pool: ConnectionPool = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=pool_size,
        kwargs={
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
            **postgres_connect_args(
                statement_timeout_s, connect_timeout_s=3, options=str(options) if options else None
            ),
        },
        # A restarted server leaves dead connections behind. Checked on every checkout (two a turn): unlike
        # SQLAlchemy's, this pool never drops its other connections when one turns out dead.
        check=ConnectionPool.check_connection,
        timeout=5,
        open=True,
    )
    return PooledPostgresSaver(pool)


def make_checkpointer(url: str, *, statement_timeout_s: float = 0) -> BaseCheckpointSaver:
    """`CHECKPOINT_URL`: a postgresql:// URL for the shared checkpointer (its statements limited as the
    database's, `DB_STATEMENT_TIMEOUT_S`), else a SQLite file path."""
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        return postgres_checkpointer(url, statement_timeout_s=statement_timeout_s)
    return sqlite_checkpointer(url)


def ensure_checkpoint_tables(checkpointer: BaseCheckpointSaver) -> None:
    """Create the Postgres checkpointer's tables and run LangGraph's migrations (idempotent); nothing to do
    for SQLite. Not under DB_STATEMENT_TIMEOUT_S: a cancelled `CREATE INDEX CONCURRENTLY` on a large table
    would leave an invalid index that `IF NOT EXISTS` then skips for good."""
    setup = getattr(checkpointer, "setup", None)
    if setup is None or isinstance(checkpointer, SqliteSaver):
        return
    if isinstance(checkpointer, PooledPostgresSaver) and isinstance(checkpointer.conn, ConnectionPool):
        with checkpointer.conn.connection() as conn, statement_limit_lifted(conn.execute):
            PostgresSaver(conn).setup()
        return
    setup()


def _mode(value: str | None) -> Mode:
    """A stored mode string back to the Mode literal (unknown values read as Minimal)."""
    for mode in ("full", "degraded", "minimal", "offline"):
        if value == mode:
            return mode
    return "minimal"


_DB_DOWN = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # no pooled connection free in time: busy, not a refusal of the data
    DatabaseUnavailable,
    DependencyFault,
)
_NOT_STORED = (sa_exc.SQLAlchemyError, DatabaseUnavailable, DependencyFault)
"""Anything that kept a message or reply out of the database: it goes to the spool instead of being lost."""


def _db_failure(exc: BaseException) -> bool:
    """Errors that mean the database is unreachable (held against its breaker), not a caller's mistake."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    # A pool with no connection free in time is this process being busy, not the database being down.
    return isinstance(exc, _DB_DOWN) and not isinstance(exc, sa_exc.TimeoutError)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


@contextlib.contextmanager
def _phase(timings: dict[str, float], name: str) -> Iterator[None]:
    """Adds the block's time (ms) to `timings[name]`, also when it raises."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(timings.get(name, 0.0) + _ms_since(started), 2)


def _bounded_key(key: str) -> str:
    """Idempotency keys of any length map to the stored 64 characters, one to one in practice."""
    return key if len(key) <= 64 else hashlib.sha256(key.encode()).hexdigest()


class ConversationBusy(RuntimeError):
    """A turn holds the conversation's lock (`conversation_lock(wait=False)`)."""


_RECHECK_AFTER_LOCK_MS = 1000.0
"""A turn that waited this long for its conversation's lock checks whether its message was answered
meanwhile (the stuck-turn sweep, or a retry of its key on another replica)."""
_STUCK_MAX_AGE_S = 3600.0
"""The stuck-turn sweep leaves older messages alone: answered an hour late, a reply helps nobody, and a
backlog from before the sweep existed must not flood the queue with tickets."""
_READ_MARGIN = 200
"""Characters past MAX_MESSAGE_CHARS the personal-data masker still reads (`ChatService._readable_part`)."""


def _contact_key(conversation_id: str, key: str) -> str:
    """A contact request's ticket key: the client's idempotency key within its conversation, never equal to
    another conversation's key or to the bot's own `handoff:<message id>` (64 characters at most)."""
    digest = hashlib.sha256(f"{conversation_id}\0{key}".encode()).hexdigest()
    return f"contact:{digest[:56]}"


def _held(conversation_id: str, message: Message, mode: str | None, *, replayed: bool = False) -> TurnResult:
    """The result of a message stored for the person who holds the conversation: no bot reply."""
    return TurnResult(
        conversation_id,
        conv_store.view(message),
        None,
        _mode(mode),
        "with_human",
        None,
        replayed=replayed,
        held=True,
    )


# The turn's statements, built once: building and caching a statement cost more CPU than running it.
_NEW_CONVERSATION = insert(CONVERSATIONS)
_CLAIM = (
    update(CONVERSATIONS)
    .where(CONVERSATIONS.c.id == bindparam("conv"), CONVERSATIONS.c.customer_id == bindparam("customer"))
    .values(
        updated_at=bindparam("now"),
        title=case(
            (CONVERSATIONS.c.title == NEW_TITLE, bindparam("first_title")), else_=CONVERSATIONS.c.title
        ),
    )
)
"""The customer's conversation touched and named by its first message; no row: not theirs, or not stored."""
_ADD_MESSAGE = insert(MESSAGES)
_ADD_MESSAGE_ONCE = {
    name: dialect_insert(MESSAGES)
    .on_conflict_do_nothing(index_elements=["conversation_id", "idempotency_key"])
    .returning(MESSAGES.c.id)
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
"""A customer message, unless its idempotency key is stored already (then no row: a retry)."""


def _typed(table: sa.Table, prefix: str, column: str) -> sa.ColumnElement[Any]:
    """A parameter for `column` of its type: in an INSERT's SELECT list PostgreSQL cannot tell a parameter's
    type from the column it goes to (a NULL would arrive as text). Strings are not cast: a cast to
    VARCHAR(n) would cut a value short where the column refuses it."""
    kind = table.c[column].type
    param = bindparam(f"{prefix}{column}", type_=kind)
    return param if isinstance(kind, sa.String) else sa.cast(param, kind)


_NEW_MESSAGE_COLUMNS = ("role", "content", "idempotency_key", "status", "citations", "created_at")
_CLAIMED = _CLAIM.returning(CONVERSATIONS.c.id).cte("claimed")
_ACCEPT_ON_POSTGRES = (
    postgresql.insert(MESSAGES)
    .from_select(
        ["conversation_id", *_NEW_MESSAGE_COLUMNS],
        select(_CLAIMED.c.id, *(_typed(MESSAGES, "m_", n) for n in _NEW_MESSAGE_COLUMNS)),
    )
    .on_conflict_do_nothing(index_elements=["conversation_id", "idempotency_key"])
    .returning(MESSAGES.c.id)
)
"""`_CLAIM` and `_ADD_MESSAGE_ONCE` as one statement (one round trip, atomic on its own): the message is
stored only if the conversation is the customer's and its idempotency key is new; otherwise no row. The
message's parameters are prefixed `m_`: a parameter named like a column of `conversations` would be taken
as a value for the UPDATE to set."""
_BUCKET = shared_bucket_cte()


def _with_verdict(insert_cte: sa.CTE) -> sa.Select[Any]:
    """The statement's one row: what `insert_cte` stored (its id, None for nothing) and the bucket's verdict
    (`taken`, `tokens`), read from the same statement, not from another replica's request just after."""
    stored = select(insert_cte.c.id).scalar_subquery().label("id")
    return select(stored, _BUCKET.c.taken, _BUCKET.c.tokens)


_ACCEPT_LIMITED_ON_POSTGRES = _with_verdict(
    postgresql.insert(MESSAGES)
    .from_select(
        ["conversation_id", *_NEW_MESSAGE_COLUMNS],
        select(
            _CLAIM.where(select(_BUCKET.c.taken).scalar_subquery())
            .returning(CONVERSATIONS.c.id)
            .cte("claimed")
            .c.id,
            *(_typed(MESSAGES, "m_", n) for n in _NEW_MESSAGE_COLUMNS),
        ),
    )
    .on_conflict_do_nothing(index_elements=["conversation_id", "idempotency_key"])
    .returning(MESSAGES.c.id)
    .cte("added")
)
"""`_ACCEPT_ON_POSTGRES` that also takes a token from the customer's bucket every replica shares
(`core.ratelimit`), and claims and stores nothing when none was left: the limit without a round trip of
its own. A data-modifying CTE always runs, so a retry (its key stored already) is charged too."""
_NEW_CONVERSATION_LIMITED = _with_verdict(
    postgresql.insert(CONVERSATIONS)
    .from_select(
        ["id", "customer_id"],
        select(_typed(CONVERSATIONS, "", "id"), _typed(CONVERSATIONS, "", "customer_id")).where(
            select(_BUCKET.c.taken).scalar_subquery()
        ),
    )
    .returning(CONVERSATIONS.c.id)
    .cte("added")
)
"""A new conversation only with a token from the customer's shared bucket."""
_ADD_TURN_RECORD = insert(TURN_RECORDS)
_EARLIER = MESSAGES.alias("earlier")
_REPLIED = ("answered", "failed")
"""A customer message's status once its reply is stored (both are written in one transaction)."""


def _mark_answered(*also: sa.ColumnElement[bool]) -> sa.UpdateBase:
    return (
        update(MESSAGES)
        .where(
            MESSAGES.c.id == bindparam("message"),
            ~select(_EARLIER.c.id).where(_EARLIER.c.reply_to == bindparam("message")).exists(),
            *also,
        )
        .values(status=bindparam("new_status"))
        .returning(*MESSAGES.c)
    )


_ANSWERED = _mark_answered(MESSAGES.c.status.not_in(_REPLIED))
"""The customer message marked answered (or failed), unless a reply to it is stored already.

The status test is what keeps two concurrent writers (a spool replay and a retried turn, on two replicas) to
one reply on PostgreSQL: the second waits on the first's row lock, then re-checks the row's own columns and
finds it replied. The NOT EXISTS alone would not: it is evaluated on the statement's older snapshot."""
_ANSWERED_DESPITE_STATUS = _mark_answered()
"""For a message marked replied whose reply is not stored (deleted by hand, a partial restore)."""
_SET_MODE = (
    update(CONVERSATIONS)
    .where(CONVERSATIONS.c.id == bindparam("conv"), CONVERSATIONS.c.mode != bindparam("new_mode"))
    .values(mode=bindparam("new_mode"))
)


_MARKED = _ANSWERED.cte("marked")
_REPLY_COLUMNS = ("conversation_id", "role", "content", "status", "mode", "citations", "author", "created_at")
_REPLY_ROW = (
    postgresql.insert(MESSAGES)
    .from_select(
        ["reply_to", *_REPLY_COLUMNS],
        select(_MARKED.c.id, *(_typed(MESSAGES, "r_", n) for n in _REPLY_COLUMNS)),
    )
    .returning(MESSAGES.c.id)
    .cte("reply")
)
_RECORD_COLUMNS = tuple(c.name for c in TURN_RECORDS.c if c.name not in ("id", "reply_id"))
_RECORD_ROW = (
    insert(TURN_RECORDS)
    .from_select(
        ["reply_id", *_RECORD_COLUMNS],
        select(_REPLY_ROW.c.id, *(_typed(TURN_RECORDS, "t_", n) for n in _RECORD_COLUMNS)),
    )
    .cte("record")
)
_MODE_ROW = (
    update(CONVERSATIONS)
    .where(
        CONVERSATIONS.c.id == bindparam("conv"),
        CONVERSATIONS.c.mode != bindparam("new_mode"),
        select(_REPLY_ROW.c.id).exists(),
    )
    .values(mode=bindparam("new_mode"), updated_at=bindparam("mode_at"))
    .cte("moded")
)
_STORE_ON_POSTGRES = (
    select(_MARKED, _REPLY_ROW.c.id.label("reply_id"))
    .select_from(_MARKED.join(_REPLY_ROW, sa.true()))
    .add_cte(_RECORD_ROW, _MODE_ROW)
)
"""What `_write_reply` does for a plain reply (no ticket, no personal data to put back), as one statement:
the message marked answered, the reply, the turn record and the conversation's mode, all or nothing, in one
round trip. No row when the message has a reply already (or is gone): nothing is written, and
`_write_reply` sorts it out. Parameters are prefixed (`r_`, `t_`): one named like a column of a table that a
part of the statement updates would be taken as a value to set."""


def _marking(record: dict[str, Any]) -> dict[str, Any]:
    """`_ANSWERED`'s parameters: the customer message a turn record answers, and its status once replied."""
    return {"message": record["message_id"], "new_status": "failed" if record["error"] else "answered"}


def _reply_row(conversation_id: str, record: dict[str, Any], content: str, now: datetime) -> dict[str, Any]:
    """The reply's columns but `reply_to` (the statement that stores it knows the message)."""
    return {
        "conversation_id": conversation_id,
        "role": "assistant",
        "content": content,
        "status": "delivered",
        "mode": record["mode"],
        "citations": record["citations"],
        "author": None,
        "created_at": now,
    }


def _turn_record_row(conversation_id: str, reply_id: int, record: dict[str, Any]) -> dict[str, Any]:
    """A turn record's columns from the plain record a turn (or a spool entry) carries."""
    return {
        "conversation_id": conversation_id,
        "message_id": record["message_id"],
        "reply_id": reply_id,
        "mode": record["mode"],
        "mode_reason": record["mode_reason"],
        "outcome": record["outcome"],
        "confidence": record["confidence"],
        "passages": record["passages"],
        "latencies_ms": record["latencies_ms"],
        "guards": record["guards"],
        "handoff_reason": record["handoff_reason"],
        "prompt_versions": record["prompt_versions"],
        "prompt_hashes": record.get("prompt_hashes") or {},
        "model": record["model"],
        "tokens": record["input_tokens"] + record["output_tokens"],
        "input_tokens": record["input_tokens"],
        "output_tokens": record["output_tokens"],
        "cost_usd": record["cost_usd"],
        "llm_calls": record["llm_calls"],
        "error": record["error"],
        "created_at": utcnow(),
    }


def _spooled_view(role: str, content: str, *, mode: str | None = None) -> conv_store.MessageView:
    return conv_store.MessageView(
        id=0, role=role, content=content, citations=[], mode=mode, created_at=utcnow()
    )


class ChatService:
    """One per process: the graph and checkpointer, the knowledge base, the models and their health."""

    def __init__(
        self,
        settings: Settings,
        *,
        kb: KnowledgeBase,
        checkpointer: BaseCheckpointSaver | None = None,
        health: HealthRegistry | None = None,
        models: list[ModelSlot] | None = None,
        chaos: ChaosController | None = None,
        migrate_pending: bool = False,
        tracer: TurnTracer | None = None,
    ) -> None:
        self.settings = settings
        self._migrate_pending = migrate_pending
        """True when the database was down at start: the schema is brought up once it answers."""
        self.health = health or HealthRegistry(
            failure_threshold=settings.breaker_failure_threshold,
            cooldown_s=settings.breaker_cooldown_s,
            chaos=chaos,
        )
        for name in ("database", "embeddings", "vector_index", "tracing"):
            self.health.breaker(name)
        self.kb = kb
        if kb.health is None:
            kb.attach_health(self.health)
        slots = models if models is not None else build_models(settings)
        self.llm = LLMLadder(slots, health=self.health, settings=settings) if slots else None
        self.spool = Spool(settings.spool_path)
        self.policy = load_policy(settings.policy_file)
        self.tracer = tracer or TurnTracer(settings)
        self.prompts = PromptStore(settings, client=self.tracer.client)
        """The turn's prompts: the versioned files, or Langfuse with the files as the fallback."""
        """The deployment's guardrail policy; a broken policy file stops the start with a clear message."""
        self.checkpointer = checkpointer or make_checkpointer(
            settings.checkpoint_url, statement_timeout_s=settings.db_statement_timeout_s
        )
        self._checkpoint_tables_pending = False
        try:
            ensure_checkpoint_tables(self.checkpointer)
        except Exception:  # the database is down at start: the tables are made when it answers
            logger.warning("checkpoint tables not created yet: database unavailable")
            self._checkpoint_tables_pending = True
        self.graph = build_graph(
            checkpointer=self.checkpointer, min_confidence=settings.answer_min_confidence
        )
        self._thread_locks: dict[str, threading.RLock] = {}
        failures = settings.login_failures_per_15_min
        self.login_failures = RateLimiter("login-failures", per_minute=failures / 15, burst=failures)
        """Failed logins per username typed: past LOGIN_FAILURES_PER_15_MIN the name's logins wait, whatever
        the password, so guessing one account's password from many addresses stalls (the per-address limits do
        not see that). Counted across replicas on PostgreSQL, by this process alone otherwise."""
        self._stuck_tried: set[int] = set()
        """Messages this process's stuck-turn sweep has tried: each once."""
        self._pg_locks = threading.local()
        """Conversations whose advisory lock this thread holds (the lock is taken once per thread)."""
        self._locks_guard = threading.Lock()
        self.checkpoints = CheckpointJanitor(
            self.checkpointer, available=lambda: self.health.available("database")
        )
        """The threads whose older checkpoints wait to be deleted (see agent.checkpoints)."""
        self.desk = HandoffDesk(self)
        """The agents' side: queue, claim, live replies, resolve and hand back."""
        self.studio = Studio(settings, kb=self.kb)
        """The product team's side: drafts, publish, rollback, import, quarantine, gaps (role editor)."""

    @property
    def db(self) -> str:
        return self.settings.database_url

    @contextlib.contextmanager
    def _session(self) -> Iterator[Session]:
        """A database session behind the database breaker (and its chaos switch)."""
        self._migrate_if_pending()
        with self.health.call("database", counts=_db_failure), session_scope(self.db) as session:
            yield session

    @contextlib.contextmanager
    def _autocommit(self) -> Iterator[sa.Connection]:
        """A connection outside any transaction (one statement, one round trip), behind the breaker."""
        self._migrate_if_pending()
        with self.health.call("database", counts=_db_failure), get_engine(self.db).connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def take_token(self, limiter: RateLimiter, key: str) -> float | None:
        """A token for `key` from `limiter`'s bucket that every replica shares (PostgreSQL): 0.0 when taken,
        else the seconds until one is free. None when there is no shared bucket to ask (SQLite serves one
        process; the database down or failing): the caller's own bucket decides alone."""
        if not self.db.startswith("postgresql") or not self.health.available("database"):
            return None
        try:
            with self._autocommit() as conn:
                return take_shared(conn, limiter, key)
        except _NOT_STORED as exc:
            logger.warning(
                "shared rate limit unavailable (%s); this replica's own limit decides", type(exc).__name__
            )
            return None

    def sweep_tokens(self, idle_s: float) -> int:
        """Delete the shared buckets idle for `idle_s` (PostgreSQL); 0 when there are none or on failure."""
        if not self.db.startswith("postgresql") or not self.health.available("database"):
            return 0
        try:
            with self._autocommit() as conn:
                return sweep_shared(conn, idle_s)
        except _NOT_STORED:
            logger.warning("sweeping the shared rate buckets failed", exc_info=True)
            return 0

    # health ----------------------------------------------------------------------------------------
    def status(self) -> ModeDecision:
        """The rung a turn would start on now, and why (also noted in the health registry)."""
        try:
            self.kb.ensure_vector()
            ready = len(self.kb) > 0
            retriever = self.kb.retriever
            dense = retriever.vector is not None and retriever.embedder is not None
        except Exception:  # the KB cannot even be loaded: serve the Offline notice
            logger.exception("knowledge base unavailable")
            ready, dense = False, False
        decision = decide_mode(
            health=self.health,
            models=self.llm.names if self.llm else [],
            dense_configured=dense,
            kb_ready=ready,
            disabled={s.name: s.error or "not built" for s in self.llm.slots if s.model is None}
            if self.llm
            else {},
        )
        self.health.note_mode(decision)
        return decision

    def mode(self) -> Mode:
        return self.status().mode

    # staff -----------------------------------------------------------------------------------------
    def authenticate(self, *, username: str, password: str) -> AuthenticatedUser | None:
        """The user for these credentials, or None (one answer for an unknown user or a wrong password).
        RateLimited when the name has had too many failed logins lately (`login_failures`): an unknown name
        too, so the refusal says nothing about which accounts exist."""
        key = " ".join(username.split()).casefold()[:128]
        wait = self._shared_bucket(waiting_shared, key)
        wait = self.login_failures.waiting(key) if wait is None else wait
        if wait:
            raise RateLimited(self.login_failures, wait)
        with self._session() as s:
            user = users.authenticate(s, username=username, password=password)
        if user is None and self._shared_bucket(take_shared, key) is None:
            self.login_failures.take(key)
        return user

    def _shared_bucket(self, ask: Callable[..., float], key: str) -> float | None:
        """`ask` (take or peek) of the failed-login bucket every replica shares (PostgreSQL); None when there
        is none to ask (SQLite, the database down): this process's own bucket serves."""
        if not self.db.startswith("postgresql") or not self.health.available("database"):
            return None
        try:
            with self._autocommit() as conn:
                return ask(conn, self.login_failures, key)
        except _NOT_STORED:
            return None

    def account_still_active(self, user: AuthenticatedUser) -> bool:
        """Whether the account behind a token is still active, under the same name and role (the token may be
        hours old). True while the database cannot say: the token's signature stands until it can."""
        try:
            with self._session() as s:
                users.require_current(s, user, user.role)
        except users.PermissionDenied:
            return False
        except _DB_DOWN:
            return True
        return True

    # conversations -------------------------------------------------------------------------------
    def start_conversation(self, *, customer_id: str, limit: RateLimiter | None = None) -> str:
        """A new conversation: one INSERT outside a transaction (the columns' defaults fill the rest). With
        `limit` (PostgreSQL), only with a token from the customer's shared bucket, taken by the same INSERT;
        RateLimited when none was left."""
        conversation_id = str(uuid.uuid4())
        values = {"id": conversation_id, "customer_id": customer_id}
        try:
            with self._autocommit() as conn:
                if limit is None or not self.db.startswith("postgresql"):
                    conn.execute(_NEW_CONVERSATION, values)
                else:
                    taking = shared_params(limit, customer_id)
                    row = conn.execute(_NEW_CONVERSATION_LIMITED, values | taking).one()
                    if not row.taken:
                        raise RateLimited(limit, limit.wait_for(row.tokens))
            return conversation_id
        except _DB_DOWN:
            conversation_id = conv_store.offline_conversation_id(
                customer_id=customer_id, secret=self.settings.offline_id_secret
            )
            self.spool.append(
                {"kind": "conversation", "conversation_id": conversation_id, "customer_id": customer_id}
            )
            return conversation_id

    def conversations(self, *, customer_id: str) -> list[dict[str, Any]]:
        try:
            with self._session() as s:
                return [
                    {"id": c.id, "title": c.title, "updated_at": c.updated_at, "status": c.status}
                    for c in conv_store.list_conversations(s, customer_id=customer_id)
                ]
        except _DB_DOWN:
            return [
                {"id": e["conversation_id"], "title": "Saved offline", "updated_at": None, "status": "open"}
                for e in self.spool.pending()
                if e.get("kind") == "conversation" and e.get("customer_id") == customer_id
            ]

    def transcript(self, *, conversation_id: str, customer_id: str) -> list[conv_store.MessageView]:
        """Raises NotYourConversation for someone else's thread. While the database is down: the spool."""
        try:
            with self._session() as s:
                self._claim(s, conversation_id, customer_id)
                return conv_store.transcript(s, conversation_id=conversation_id)
        except _DB_DOWN:
            views: list[conv_store.MessageView] = []
            for e in self.spool.pending():
                if e.get("conversation_id") != conversation_id or e.get("customer_id") != customer_id:
                    continue
                if e.get("kind") == "turn":
                    views.append(_spooled_view("customer", e["text"]))
                    views.append(_spooled_view("assistant", e["reply"], mode="offline"))
            return views

    def feedback(
        self, *, conversation_id: str, customer_id: str, message_id: int, rating: int, comment: str = ""
    ) -> None:
        """The customer rates one of the bot's replies (InvalidFeedback, NotYourConversation otherwise)."""
        with self._session() as s:
            conv_store.get_conversation(s, conversation_id=conversation_id, customer_id=customer_id)
            answered = conv_store.set_feedback(
                s, conversation_id=conversation_id, message_id=message_id, rating=rating, comment=comment
            )
        if answered is not None:
            self.tracer.feedback(message_id=answered, rating=rating, comment=comment or None)

    def ratings(self, *, conversation_id: str, customer_id: str) -> dict[int, int]:
        """The customer's rating of each rated reply (empty while the database is down)."""
        try:
            with self._session() as s:
                conv_store.get_conversation(s, conversation_id=conversation_id, customer_id=customer_id)
                return conv_store.ratings(s, conversation_id=conversation_id)
        except _DB_DOWN:
            return {}

    def leave_contact(
        self, *, conversation_id: str, customer_id: str, contact: str, note: str = "", key: str | None = None
    ) -> str:
        """Record how to reach the customer as a ticket (spooled if the database is down).

        Raises InvalidContact with a message to show, NotYourConversation for someone else's thread.
        """
        value = tickets.validate_contact(contact)
        entry = {
            "kind": "ticket",
            "conversation_id": conversation_id,
            "customer_id": customer_id,
            "contact": value,
            "note": note.strip()[:2000],
            "key": _contact_key(conversation_id, key or uuid.uuid4().hex),
        }
        try:
            # Under the conversation's lock, as a turn that hands off writes its ticket: two writers finding
            # no open ticket at once would each open one (PostgreSQL reads committed rows only).
            with self.conversation_lock(conversation_id), self._session() as s:
                self._claim(s, conversation_id, customer_id)  # also one started offline, not replayed yet
                self._apply_ticket(s, entry)
        except _DB_DOWN:
            self.spool.append(entry)
        return minimal.CONTACT_SAVED

    # turns ---------------------------------------------------------------------------------------
    def send(
        self,
        *,
        conversation_id: str,
        customer_id: str,
        text: str,
        idempotency_key: str | None = None,
        on_token: TokenCallback | None = None,
        on_reset: Callable[[], None] | None = None,
        limit: RateLimiter | None = None,
    ) -> TurnResult:
        """Answer one customer message. Raises NotYourConversation for someone else's thread.

        `on_token` receives the answer as it streams (Full and Degraded modes); `on_reset` says to discard
        what was streamed (a model failed mid-answer, or its answer was replaced by a safer one). With
        `limit`, on PostgreSQL the message is stored only with a token from the customer's bucket that every
        replica shares, taken in the same statement; RateLimited (nothing stored) when none was left.
        """
        key = _bounded_key(idempotency_key) if idempotency_key else uuid.uuid4().hex
        text = text.replace("\x00", "")  # no database stores NUL in text; it carries no meaning
        try:
            self.replay_spool(wait=False)  # another process replaying the shared spool: not this turn's job
        except Exception:  # the spool's own file failed (a full disk): the turn goes on, the replay waits
            logger.warning("spool replay failed; this turn goes on without it", exc_info=True)
        timings: dict[str, float] = {}
        result = self._send(conversation_id, customer_id, text, key, on_token, on_reset, timings, limit)
        return replace(result, timings_ms=timings)

    def _send(
        self,
        conversation_id: str,
        customer_id: str,
        text: str,
        key: str,
        on_token: TokenCallback | None,
        on_reset: Callable[[], None] | None,
        timings: dict[str, float],
        limit: RateLimiter | None = None,
    ) -> TurnResult:
        try:
            with _phase(timings, "accept"):
                try:
                    accepted = self._accept(conversation_id, customer_id, text, key, limit)
                except sa_exc.IntegrityError:  # a concurrent request stored this key, or claimed the thread
                    accepted = self._accept(conversation_id, customer_id, text, key)  # its token was taken
        except _NOT_STORED:
            return self._spool_turn(conversation_id, customer_id, text, key)
        if isinstance(accepted, TurnResult):
            return accepted
        message_id, message_text, retried = accepted
        waiting = time.perf_counter()
        # one turn or resume at a time on a conversation
        with self.conversation_lock(conversation_id), self._one_checkpoint_connection():
            timings["lock"] = _ms_since(waiting)
            # the same key again, or a long wait: a concurrent request, or the stuck-turn sweep, may have
            # answered it meanwhile
            if retried or timings["lock"] >= _RECHECK_AFTER_LOCK_MS:
                try:
                    again = self._accept(conversation_id, customer_id, text, key)
                except _NOT_STORED:
                    again = accepted
                if isinstance(again, TurnResult):
                    return again
            try:
                with _phase(timings, "hold"):
                    held = self._hold_for_person(conversation_id, customer_id, message_id)
            except _NOT_STORED:
                held = None  # the database just went: the turn below ends Offline, stored or spooled
            if held is not None:
                return held
            return self._run_turn(
                conversation_id,
                customer_id,
                message_id,
                message_text,
                on_token,
                on_reset,
                key=key,
                timings=timings,
            )

    def _one_checkpoint_connection(self) -> contextlib.AbstractContextManager[None]:
        """The turn's checkpoint reads and write on one pooled connection (PostgreSQL), else as they come."""
        if isinstance(self.checkpointer, PooledPostgresSaver):
            return self.checkpointer.pinned()
        return contextlib.nullcontext()

    def _accept(
        self, conversation_id: str, customer_id: str, text: str, key: str, limit: RateLimiter | None = None
    ) -> TurnResult | tuple[int, str, bool]:
        """Store the message (once per idempotency key). A key seen before returns its earlier result;
        otherwise (message id, text, whether the key was seen before)."""
        new = self._accept_new(conversation_id, customer_id, text, key, limit)
        if new is not None:
            return new
        with self._session() as s:
            conv = self._claim(s, conversation_id, customer_id)
            existing = conv_store.find_by_idempotency_key(s, conversation_id=conversation_id, key=key)
            if existing is None:
                message = conv_store.store_customer_message(
                    s, conversation=conv, content=text, idempotency_key=key
                )
                return message.id, message.content, False
            if existing.content != text:  # not a retry: a new message under an old key would be lost
                raise conv_store.KeyReused(
                    "this idempotency key was sent with a different message; send a new key for a new message"
                )
            if existing.status == "for_agent":  # a person had it: never the bot
                return _held(conversation_id, existing, conv.mode, replayed=True)
            earlier = conv_store.reply_to(s, message_id=existing.id)
            if earlier is None:  # stored but never answered (a crash mid-turn, or a retry): answer it now
                return existing.id, existing.content, True
            record = s.scalar(select(TurnRecord).where(TurnRecord.message_id == existing.id))
            return TurnResult(
                conversation_id,
                conv_store.view(existing),
                conv_store.view(earlier),
                _mode(earlier.mode),
                record.outcome if record else "failed",
                record.confidence if record else None,
                replayed=True,
                mode_reason=(record.mode_reason or "") if record else "",
            )

    def _accept_new(
        self, conversation_id: str, customer_id: str, text: str, key: str, limit: RateLimiter | None = None
    ) -> tuple[int, str, bool] | None:
        """The common case in Core (one statement on PostgreSQL, two on SQLite): a new key on a conversation
        the database holds for this customer. None for the rest (a key seen before, a conversation started
        offline, someone else's), which `_accept` answers through the ORM. The ORM's unit of work cost more
        CPU than the statements. With `limit` (PostgreSQL) the statement also takes the customer's shared
        token, and RateLimited says there was none."""
        now = utcnow()
        claim = {
            "conv": conversation_id,
            "customer": customer_id,
            "now": now,
            "first_title": conv_store.title_of(text) or NEW_TITLE,
        }
        message = {
            "conversation_id": conversation_id,
            "role": "customer",
            "content": text,
            "idempotency_key": key,
            "status": "stored",
            "citations": [],
            "created_at": now,
        }
        try:
            if self.db.startswith("postgresql"):
                with self._autocommit() as conn:
                    prefixed = {f"m_{name}": message[name] for name in _NEW_MESSAGE_COLUMNS}
                    if limit is None:
                        message_id = conn.execute(_ACCEPT_ON_POSTGRES, claim | prefixed).scalar()
                    else:
                        taking = shared_params(limit, customer_id)
                        row = conn.execute(_ACCEPT_LIMITED_ON_POSTGRES, claim | prefixed | taking).one()
                        if not row.taken:
                            raise RateLimited(limit, limit.wait_for(row.tokens))
                        message_id = row.id
            else:
                with self._session() as s:
                    c = s.connection()
                    add = _ADD_MESSAGE_ONCE.get(c.dialect.name)
                    if add is None:  # a database this path does not know: the ORM path serves
                        return None
                    if c.execute(_CLAIM, claim).rowcount != 1:
                        return None
                    message_id = c.execute(add, message).scalar()
        except sa_exc.IntegrityError:  # any other constraint: the ORM path decides
            return None
        return None if message_id is None else (int(message_id), text, False)

    @contextlib.contextmanager
    def conversation_lock(self, conversation_id: str, *, wait: bool = True) -> Iterator[None]:
        """One turn or resume at a time on a conversation's thread: in this process, and on PostgreSQL across
        replicas too (a session advisory lock), so a customer's two messages sent to two replicas at once
        cannot fork the thread. Re-entrant: a resume inside a turn reuses the turn's lock. Without a
        reachable database (or past LOCK_WAIT) only this process is serialised, and that is logged.
        `wait=False` raises ConversationBusy at once when a turn holds it (or it cannot be taken at all)."""
        lock = self.thread_lock(conversation_id)
        if not lock.acquire(blocking=wait):
            raise ConversationBusy(conversation_id)
        try:
            held: set[str] = self._pg_locks.__dict__.setdefault("held", set())
            if conversation_id in held or not self.db.startswith("postgresql"):
                yield
                return
            if not self.health.available("database"):
                yield
                return
            conn = None
            try:
                conn = get_engine(self.db).connect().execution_options(isolation_level="AUTOCOMMIT")
                if not conn.info.get("lock_timeout"):  # a session setting: once per pooled connection
                    conn.execute(text("SET lock_timeout = '30s'"))
                    conn.info["lock_timeout"] = True
                key = {"k": conversation_id}
                if not conn.execute(
                    text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"), key
                ).scalar():
                    if not wait:
                        conn.close()
                        raise ConversationBusy(conversation_id)
                    # another replica's turn holds it: wait as long as lock_timeout, past the statement limit
                    waiting = conn
                    with statement_limit_lifted(lambda sql: waiting.execute(text(sql))):
                        waiting.execute(text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"), key)
            except sa_exc.SQLAlchemyError:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.invalidate()
                        conn.close()
                conn = None
                if not wait:
                    raise ConversationBusy(conversation_id) from None
                logger.warning(
                    "conversation lock unavailable, serialised in this process only: %s", conversation_id
                )
            if conn is not None:
                held.add(conversation_id)
            try:
                yield
            finally:
                if conn is not None:
                    held.discard(conversation_id)
                    with contextlib.suppress(Exception):
                        conn.execute(
                            text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), {"k": conversation_id}
                        )
                    with contextlib.suppress(Exception):
                        conn.close()
        finally:
            lock.release()

    def _claim(self, s: Session, conversation_id: str, customer_id: str) -> conv_store.Conversation:
        """The customer's conversation, including one they started on a replica whose spool still holds it."""
        return conv_store.claim_offline_conversation(
            s,
            conversation_id=conversation_id,
            customer_id=customer_id,
            secret=self.settings.offline_id_secret,
        )

    def thread_lock(self, conversation_id: str) -> threading.RLock:
        """The lock that serialises turns and resumes of one conversation's thread in this process."""
        with self._locks_guard:
            lock = self._thread_locks.get(conversation_id)
            if lock is None:
                lock = self._thread_locks[conversation_id] = threading.RLock()
            return lock

    def interrupted_state(self, conversation_id: str) -> dict[str, Any] | None:
        """The thread's values when it waits for a person (a pending interrupt), else None.

        The common case (no interrupt pending) is told from the stored checkpoint alone, which a pinned
        PostgreSQL checkpointer keeps for the turn's graph to start from."""
        config: RunnableConfig = {"configurable": {"thread_id": conversation_id}}
        read = getattr(self.checkpointer, "read_ahead", self.checkpointer.get_tuple)
        try:
            saved = read(config)
            if saved is None or not any(write[1] == _INTERRUPT for write in saved.pending_writes or ()):
                return None
            snapshot = self.graph.get_state(config)
        except Exception:
            logger.exception("checkpoint unreadable for conversation=%s", conversation_id)
            return None
        return dict(snapshot.values) if snapshot.interrupts else None

    def _hold_for_person(self, conversation_id: str, customer_id: str, message_id: int) -> TurnResult | None:
        """While a person holds the conversation, store the message for them and keep the bot silent.

        Also repairs the two ways thread and queue can disagree: a turn that crashed after the graph
        paused but before its ticket was stored (the ticket and the reply are written now), and a
        hand-back whose resume failed or lost a race (the thread is resumed now, then the bot answers).
        """
        waiting = self.interrupted_state(conversation_id)
        if waiting is None and not self._held_by_person(conversation_id):
            return None  # the common case, in one statement
        resume: Ticket | None = None
        with self._session() as s:
            ticket = tickets.holding_ticket(s, conversation_id=conversation_id)
            if ticket is None and waiting is not None:
                key = f"handoff:{waiting.get('message_id')}"
                handed = s.scalar(
                    select(Ticket).where(Ticket.source_key == key, Ticket.conversation_id == conversation_id)
                ) or self._closed_since_pause(s, conversation_id, int(waiting.get("message_id") or 0))
                if handed is None and waiting.get("handoff"):
                    logger.warning("repairing a handoff without a ticket: conversation=%s", conversation_id)
                    record = self._record(
                        conversation_id,
                        int(waiting["message_id"]),
                        _mode(waiting.get("mode")),
                        waiting.get("mode_reason") or "",
                        waiting,
                        0.0,
                        None,
                    )
                    self._write_reply(s, conversation_id, customer_id, record)
                    ticket = tickets.holding_ticket(s, conversation_id=conversation_id)
                elif handed is not None and handed.status in ("returned", "resolved"):
                    resume = handed
            if ticket is not None:
                message = s.get(Message, message_id)
                conv = s.get(conv_store.Conversation, conversation_id)
                if message is not None:
                    message.status = "for_agent"  # the person sees it; the bot stays silent
                    return _held(conversation_id, message, conv.mode if conv else None)
        if resume is not None:
            self.desk.resume(resume.conversation_id, status=resume.status, by=resume.assignee or "support")
        return None

    @staticmethod
    def _closed_since_pause(s: Session, conversation_id: str, message_id: int) -> Ticket | None:
        """The ticket a handoff was merged into (an open contact or Offline ticket keeps its own key), closed
        after the thread paused at `message_id`: the resume it needed then failed."""
        paused_at = s.scalar(select(Message.created_at).where(Message.id == message_id))
        if paused_at is None:
            return None
        return s.scalar(
            select(Ticket)
            .where(Ticket.conversation_id == conversation_id, Ticket.closed_at >= paused_at)
            .where(Ticket.status.not_in(tickets.OPEN_STATUSES))
            .order_by(Ticket.closed_at.desc(), Ticket.id.desc())
            .limit(1)
        )

    def _held_by_person(self, conversation_id: str) -> bool:
        """Whether a person holds the conversation: one statement, outside a transaction."""
        with self._autocommit() as conn:
            return tickets.held_by_person(conn, conversation_id=conversation_id)

    def _spool_turn(self, conversation_id: str, customer_id: str, text: str, key: str) -> TurnResult:
        reason = "database unavailable; message saved on local disk"
        logger.warning("database down: spooling message of conversation=%s", conversation_id)
        self.spool.append(
            {
                "kind": "turn",
                "conversation_id": conversation_id,
                "customer_id": customer_id,
                "text": text,
                "key": key,
                "reply": minimal.OFFLINE,
                "mode_reason": reason,
                "at": utcnow().isoformat(),
            }
        )
        self.health.note_mode(ModeDecision("offline", reason))
        return TurnResult(
            conversation_id,
            _spooled_view("customer", text),
            _spooled_view("assistant", minimal.OFFLINE, mode="offline"),
            "offline",
            "handoff",
            None,
            mode_reason=reason,
            spooled=True,
        )

    def _run_turn(
        self,
        conversation_id: str,
        customer_id: str,
        message_id: int,
        text: str,
        on_token: TokenCallback | None = None,
        on_reset: Callable[[], None] | None = None,
        *,
        key: str | None = None,
        timings: dict[str, float],
    ) -> TurnResult:
        decision = self.status()
        t0 = time.perf_counter()
        state: dict[str, Any] = {}
        error: str | None = None
        readable, cut_from = self._readable_part(text)  # `text` stays as sent: a spooled reply carries it
        with self.tracer.turn(
            conversation_id=conversation_id, customer_id=customer_id, message_id=message_id
        ) as trace:
            if decision.mode == "offline":
                trace.set_input(pii.redact(readable))
                state = {
                    "reply": minimal.OFFLINE,
                    "outcome": "handoff",
                    "handoff_reason": HandoffReason.OFFLINE.value,
                    "citations": [],
                    "mode": "offline",
                    "mode_reason": decision.reason,
                }
            else:
                try:
                    masked, kinds = self._mask(conversation_id, readable)
                    trace.set_input(masked)
                    state = self._invoke(
                        conversation_id,
                        message_id,
                        masked,
                        decision,
                        on_token,
                        on_reset,
                        kinds,
                        trace.callbacks,
                        cut_from=cut_from,
                    )
                except Exception as exc:
                    logger.exception("turn failed conversation=%s message=%s", conversation_id, message_id)
                    error = type(exc).__name__
                    state = {"reply": minimal.FAILURE, "outcome": "failed", "citations": []}
                finally:  # its checkpoint is written: what it superseded goes at the next sweep
                    self.checkpoints.touched(conversation_id)
            total_ms = (time.perf_counter() - t0) * 1000
            mode = _mode(state.get("mode") or decision.mode)
            reason = state.get("mode_reason") or decision.reason
            if mode != decision.mode:
                self.health.note_mode(ModeDecision(mode, reason))
            record = self._record(conversation_id, message_id, mode, reason, state, total_ms, error)
            trace.finish(record)
        for node, ms in record["latencies_ms"].items():  # the graph's total, and each node's
            timings["graph" if node == "total" else f"node.{node}"] = ms
        try:
            with _phase(timings, "store"):
                return self._store_reply(conversation_id, customer_id, message_id, record)
        except Exception:  # the database went down during the turn (or refused it): keep it for replay
            logger.warning(
                "database down after the turn: spooling reply of message=%s", message_id, exc_info=True
            )
            message = _spooled_view("customer", text)
            spooled = True
            try:
                self.spool.append(  # with the message itself, should the database lose it (a crash)
                    {
                        "kind": "reply",
                        "conversation_id": conversation_id,
                        "customer_id": customer_id,
                        "text": text,
                        "key": key,
                        **record,
                    }
                )
            except OSError:  # the disk too: the stored message is answered by the stuck-turn sweep
                logger.exception("reply neither stored nor spooled: message=%s", message_id)
                spooled = False
                message = replace(message, id=message_id)  # stored before the turn: its real id
            return TurnResult(
                conversation_id,
                message,
                _spooled_view("assistant", record["reply"], mode=mode),
                mode,
                record["outcome"],
                record["confidence"],
                mode_reason=reason,
                spooled=spooled,
            )

    def _readable_part(self, text: str) -> tuple[str, int | None]:
        """The message as the agent will read it (normalised), cut `_READ_MARGIN` characters past
        MAX_MESSAGE_CHARS: the graph reads no further, and the personal-data scan before it grows with the
        text (a 20,000-character message of digits took ~1 s of CPU). The margin keeps a value that straddles
        the agent's own cut whole for the masker. The stored message stays as sent. Second: the length as
        sent when it was cut (None when not), for the graph to say it was truncated."""
        limit = self.settings.max_message_chars + _READ_MARGIN
        if len(text) <= limit:
            return text, None
        clean = clean_customer_text(text, max_chars=limit)
        return clean.text, (clean.original_length if clean.truncated else None)

    def _mask(self, conversation_id: str, text: str) -> tuple[str, list[str]]:
        """The text the agent works on: personal data replaced by this conversation's reversible tokens.

        With the database unavailable the text is masked all the same; its tokens just cannot be revealed.
        """
        clean = pii_vault.normalised(text)
        if not pii.find_pii(clean):  # nothing to keep in the vault: no round trip to the database
            return clean, []
        try:
            with self._session() as s:
                masked = pii_vault.mask_turn(s, conversation_id=conversation_id, text=text)
        except _NOT_STORED:
            logger.warning("pii vault unavailable conversation=%s; masking without it", conversation_id)
            return pii_vault.unrevealable(text), ["(vault unavailable)"]
        return masked.text, sorted({span.type for span in masked.spans})

    def turn_context(self, *, streaming: bool = True) -> TurnContext:
        """What the graph's nodes get besides state, with this run's LLM deadline starting now."""
        return TurnContext(
            kb=self.kb,
            settings=self.settings,
            health=self.health,
            llm=self.llm,
            policy=self.policy,
            deadline=time.monotonic() + self.settings.llm_timeout_s,
            prompts=self.prompts,
            streaming=streaming,
        )

    def _invoke(
        self,
        conversation_id: str,
        message_id: int,
        text: str,
        decision: ModeDecision,
        on_token: TokenCallback | None,
        on_reset: Callable[[], None] | None,
        masked_kinds: list[str] | None = None,
        callbacks: list[Any] | None = None,
        *,
        cut_from: int | None = None,
    ) -> dict[str, Any]:
        streaming = on_token is not None or on_reset is not None
        context = self.turn_context(streaming=streaming)
        if cut_from is not None:
            context = replace(context, cut_from=cut_from)
        final: dict[str, Any] = {}
        listening = True
        for kind, chunk in self.graph.stream(
            {
                "messages": [HumanMessage(content=text, id=f"m{message_id}")],
                "conversation_id": conversation_id,
                "message_id": message_id,
                "mode": decision.mode,
                "mode_reason": decision.reason,
                "model": None,
                "answer_source": None,
                "search_query": None,
                "guards": {RESET: True, **({"pii": {"masked": masked_kinds}} if masked_kinds else {})},
                "latencies_ms": {RESET: True},
                "prompt_versions": {RESET: True},
                "llm_usage": {RESET: True},
            },
            config={"configurable": {"thread_id": conversation_id}, "callbacks": callbacks or []},
            context=context,
            # "custom" carries the tokens to a listener; without one, LangGraph runs each node inline
            # instead of on its executor beside a stream waiter (two thread hops a step, saved).
            stream_mode=["custom", "values"] if streaming else ["values"],
            durability="exit",  # one checkpoint a turn; a crash mid-turn is repaired from the stored message
        ):
            event: dict[str, Any] = chunk if isinstance(chunk, dict) else {}
            if kind == "values":
                final = dict(event)
                continue
            try:
                if "token" in event and on_token is not None and listening:
                    on_token(event["token"])
                elif event.get("reset") and on_reset is not None and listening:
                    on_reset()
            except Exception:  # a closed page must not fail the turn: stop streaming to it
                logger.warning("stream listener failed; streaming stopped", exc_info=True)
                listening = False
        return final

    def _record(
        self,
        conversation_id: str,
        message_id: int,
        mode: Mode,
        reason: str,
        state: dict[str, Any],
        total_ms: float,
        error: str | None,
    ) -> dict[str, Any]:
        """Everything the reply and the turn record need, as plain data (it may have to wait in the spool)."""
        calls = state.get("llm_usage", {})
        triggers = state.get("triggers", [])
        inp = sum(int(c.get("input_tokens", 0)) for c in calls.values())
        out = sum(int(c.get("output_tokens", 0)) for c in calls.values())
        costs = [c["cost_usd"] for c in calls.values() if c.get("cost_usd") is not None]
        return {
            "message_id": message_id,
            "reply": state.get("reply") or minimal.FAILURE,
            "citations": [dict(c) for c in state.get("citations", [])],
            "mode": mode,
            "mode_reason": reason[:300],
            "outcome": state.get("outcome", "failed"),
            "confidence": state.get("confidence"),
            "passages": [
                {"id": p["id"], "score": p["score"], "dense": p.get("dense"), "lexical": p.get("lexical")}
                for p in state.get("passages", [])
            ],
            "latencies_ms": {**state.get("latencies_ms", {}), "total": round(total_ms, 2)},
            "guards": {**state.get("guards", {}), **({"triggers": triggers} if triggers else {})},
            "handoff_reason": state.get("handoff_reason"),
            "handoff": state.get("handoff"),
            "prompt_versions": state.get("prompt_versions", {}),
            "prompt_hashes": self.prompts.hashes(list(state.get("prompt_versions", {}))),
            "model": state.get("model"),
            "input_tokens": inp,
            "output_tokens": out,
            "cost_usd": round(sum(costs), 6) if costs else None,
            "llm_calls": calls,
            "error": error,
        }

    def _store_reply(
        self, conversation_id: str, customer_id: str, message_id: int, record: dict[str, Any]
    ) -> TurnResult:
        stored = self._store_plain_reply(conversation_id, record)
        if stored is None:
            with self._session() as s:
                stored = self._write_reply(s, conversation_id, customer_id, record)
        message, reply = stored
        return TurnResult(
            conversation_id,
            message,
            reply,
            _mode(record["mode"]),
            record["outcome"],
            record["confidence"],
            mode_reason=record["mode_reason"],
        )

    def _store_plain_reply(
        self, conversation_id: str, record: dict[str, Any]
    ) -> tuple[conv_store.MessageView, conv_store.MessageView] | None:
        """The common case on PostgreSQL in one statement (`_STORE_ON_POSTGRES`): a reply without a ticket
        and without personal data to put back. None when that does not apply or wrote nothing."""
        if (
            not self.db.startswith("postgresql")
            or record.get("handoff")
            or record["handoff_reason"] == HandoffReason.OFFLINE.value
            or pii.TOKEN_RE.search(record["reply"])
        ):
            return None
        now = utcnow()
        reply = _reply_row(conversation_id, record, record["reply"], now)
        row = _turn_record_row(conversation_id, 0, record)
        params = {
            **_marking(record),
            "conv": conversation_id,
            "new_mode": record["mode"],
            "mode_at": now,
            **{f"r_{name}": reply[name] for name in _REPLY_COLUMNS},
            **{f"t_{name}": row[name] for name in _RECORD_COLUMNS},
        }
        with self._autocommit() as conn:
            written = conn.execute(_STORE_ON_POSTGRES, params).first()
        if written is None:
            return None
        return conv_store.view(written), conv_store.view(
            SimpleNamespace(id=written.reply_id, reply_to=written.id, **reply)
        )

    def _write_reply(
        self, s: Session, conversation_id: str, customer_id: str, record: dict[str, Any]
    ) -> tuple[conv_store.MessageView, conv_store.MessageView]:
        """The reply, the turn record, the message's status and the conversation's mode, in `s`'s transaction;
        a message that has a reply already keeps it (a replayed spool entry finds the reply it wrote before).

        Core statements on the session's connection: the ORM's unit of work cost a turn more CPU than the
        statements themselves. The ORM is still used for a handoff's ticket.
        """
        c = s.connection()
        message_id = record["message_id"]
        marking = _marking(record)
        updated = c.execute(_ANSWERED, marking).first()
        if updated is None:
            # The row lock first, then a fresh look: a concurrent writer's reply is committed by then.
            c.execute(select(MESSAGES.c.id).where(MESSAGES.c.id == message_id).with_for_update())
            stored = s.get(Message, message_id)
            if stored is None:
                raise LookupError(f"message {message_id} is not stored")
            first = conv_store.reply_to(s, message_id=message_id)
            if first is not None:
                return conv_store.view(stored), conv_store.view(first)
            logger.warning("message %s is marked %s without a reply; writing one", message_id, stored.status)
            updated = c.execute(_ANSWERED_DESPITE_STATUS, marking).first()
            assert updated is not None  # the row exists and has no reply
        content = pii_vault.reveal(s, conversation_id=conversation_id, text=record["reply"])
        reply = {**_reply_row(conversation_id, record, content, utcnow()), "reply_to": message_id}
        inserted = c.execute(_ADD_MESSAGE, reply).inserted_primary_key
        assert inserted is not None
        reply_id = int(inserted[0])
        c.execute(_ADD_TURN_RECORD, _turn_record_row(conversation_id, reply_id, record))
        if record.get("handoff"):  # a trigger escalated: the ticket joins the queue with the reply
            packet = {**record["handoff"], "message_id": message_id}
            queue.enqueue(
                s,
                conversation_id=conversation_id,
                customer_id=customer_id,
                reason=HandoffReason(packet["reason"]),
                summary=packet["summary"],
                packet=packet,
                sentiment=packet["sentiment"]["last"],
                settings=self.settings,
                source_key=f"handoff:{message_id}",
            )
        elif record["handoff_reason"] == HandoffReason.OFFLINE.value:
            readable, _ = self._readable_part(updated.content)  # the scan bounded here too
            said = pii_vault.mask_turn(s, conversation_id=conversation_id, text=readable).text
            queue.enqueue(
                s,
                conversation_id=conversation_id,
                customer_id=customer_id,
                reason=HandoffReason.OFFLINE,
                summary=offline_summary(said),
                packet=offline_packet(said, mode=record["mode"], message_id=message_id),
                sentiment=None,
                settings=self.settings,
            )
        c.execute(_SET_MODE, {"conv": conversation_id, "new_mode": record["mode"]})
        loaded = s.identity_map.get(identity_key(conv_store.Conversation, conversation_id))
        if loaded is not None:  # loaded by the ticket code above: it must not show the mode from before
            s.expire(loaded, ["mode", "updated_at"])
        return conv_store.view(updated), conv_store.view(SimpleNamespace(id=reply_id, **reply))

    def _migrate_if_pending(self) -> None:
        if self._checkpoint_tables_pending and self.health.available("database"):
            try:
                ensure_checkpoint_tables(self.checkpointer)
                self._checkpoint_tables_pending = False
            except Exception as exc:
                self.health.breaker("database").record_failure(type(exc).__name__)
                return
        if not self._migrate_pending or not self.health.available("database"):
            return
        from core.migrate import upgrade

        try:
            upgrade(self.db)
        except Exception as exc:  # still down: the turn spools, the next one tries again
            self.health.breaker("database").record_failure(type(exc).__name__)
            return
        if self.settings.env == "prod":  # the check skipped at start, while the database was down
            try:
                with session_scope(self.db) as s:
                    users.check_no_default_credentials(s, self.settings)
            except users.DefaultCredentialsRefused as exc:
                # Not served until an operator changes them: the database counts as down (turns and
                # tickets spool, nothing is set aside), and the check runs again each cool-down.
                logger.error("%s", exc)
                self.health.breaker("database").force_open("demo credentials in production")
                raise DatabaseUnavailable("demo credentials in production") from exc
        self._migrate_pending = False
        try:
            self.kb.refresh()
        except Exception:  # the database is back, the index is not (yet): the KB poll builds it later
            logger.exception("knowledge base refresh failed after the database returned")

    # the spool -----------------------------------------------------------------------------------
    def replay_spool(self, *, wait: bool = True) -> int:
        """Write what was spooled while the database was down; returns how many entries were applied.
        `wait=False` returns 0 at once while another process (the spool may be shared) is replaying it."""
        if not self.spool.path.exists() or self.spool.path.stat().st_size == 0:
            return 0
        if not self.health.available("database"):
            return 0
        done = self.spool.replay(self._apply_or_set_aside, wait=wait)
        if done:
            logger.info("replayed %d spooled entries", done)
        return done

    def answer_stuck(self, *, older_than_s: float, limit: int = 20) -> int:
        """Answer customer messages stored `older_than_s` to `_STUCK_MAX_AGE_S` ago and still without a reply:
        the process that took them died mid-turn (a crash, a kill at a deploy) and nobody retried with their
        key. Each is answered as a retry of its own key would be, under the conversation's lock, taken
        without waiting: a conversation a turn holds is left for the next sweep. A message the customer has
        written after is left alone (answered now, it would land after the later reply), and this process
        tries each message once. Returns how many were answered."""
        if not self.health.available("database"):
            return 0
        now = utcnow()
        later = MESSAGES.alias("later")
        with self._session() as s:
            stuck = s.execute(
                select(
                    MESSAGES.c.id,
                    MESSAGES.c.conversation_id,
                    MESSAGES.c.content,
                    MESSAGES.c.idempotency_key,
                    CONVERSATIONS.c.customer_id,
                )
                .join(CONVERSATIONS, CONVERSATIONS.c.id == MESSAGES.c.conversation_id)
                .where(
                    MESSAGES.c.status == "stored",
                    MESSAGES.c.created_at <= now - timedelta(seconds=older_than_s),
                    MESSAGES.c.created_at >= now - timedelta(seconds=_STUCK_MAX_AGE_S),
                    MESSAGES.c.role == "customer",
                    MESSAGES.c.idempotency_key.is_not(None),
                    MESSAGES.c.id.not_in(self._stuck_tried),
                    ~select(later.c.id)
                    .where(
                        later.c.conversation_id == MESSAGES.c.conversation_id,
                        later.c.role == "customer",
                        later.c.id > MESSAGES.c.id,
                    )
                    .exists(),
                )
                .order_by(MESSAGES.c.created_at)
                .limit(limit)
            ).all()
        answered = 0
        for row in stuck:
            try:
                with self.conversation_lock(row.conversation_id, wait=False):
                    self._stuck_tried.add(row.id)
                    result = self.send(
                        conversation_id=row.conversation_id,
                        customer_id=row.customer_id,
                        text=row.content,
                        idempotency_key=row.idempotency_key,
                    )
            except ConversationBusy:  # a turn is running on it: the next sweep looks again
                continue
            except Exception:
                logger.exception("stuck message not answered: conversation=%s", row.conversation_id)
                continue
            if not result.replayed:  # else a live turn or another process's sweep answered it meanwhile
                logger.warning(
                    "answered a message left without a reply: conversation=%s", row.conversation_id
                )
                answered += 1
        if len(self._stuck_tried) > 10_000:  # ids tried over an hour ago are out of the window anyway
            self._stuck_tried.clear()
        return answered

    def _apply_or_set_aside(self, entry: dict[str, Any]) -> None:
        """Apply one entry; one the database rejects for good is set aside, so it cannot block the rest."""
        try:
            try:
                self._apply_spooled(entry)
            except sa_exc.IntegrityError:  # another replica wrote the same conversation just now: it is there
                self._apply_spooled(entry)
        except _DB_DOWN:
            raise
        except Exception as exc:
            logger.error("spooled %s entry set aside: %s", entry.get("kind"), type(exc).__name__)
            self.spool.set_aside(entry, reason=type(exc).__name__)

    def _apply_spooled(self, entry: dict[str, Any]) -> None:
        with self._session() as s:
            kind = entry.get("kind")
            if kind == "reply":
                answered = s.get(Message, entry["message_id"])
                if entry.get("key") and (answered is None or answered.idempotency_key != entry["key"]):
                    # acknowledged, then lost: a server crash can lose commits under asynchronous commit
                    logger.warning(
                        "spooled reply without its message: conversation=%s", entry["conversation_id"]
                    )
                    answered = self._spooled_message(s, self._spooled_conversation(s, entry), entry)
                    entry = {**entry, "message_id": answered.id}
                if answered is not None:
                    self._write_reply(s, answered.conversation_id, entry.get("customer_id", ""), entry)
                return
            conv = self._spooled_conversation(s, entry)
            if kind == "turn":
                message = self._spooled_message(s, conv, entry)
                record = self._record(
                    conv.id,
                    message.id,
                    "offline",
                    entry.get("mode_reason", "database unavailable"),
                    {
                        "reply": entry["reply"],
                        "outcome": "handoff",
                        "handoff_reason": HandoffReason.OFFLINE.value,
                    },
                    0.0,
                    None,
                )
                record["guards"] = {"spooled_at": entry.get("at")}
                self._write_reply(s, conv.id, entry["customer_id"], record)
            elif kind == "ticket":
                self._apply_ticket(s, entry)

    @staticmethod
    def _spooled_conversation(s: Session, entry: dict[str, Any]) -> conv_store.Conversation:
        """The entry's conversation, created if the database does not have it; never someone else's."""
        conv = s.get(conv_store.Conversation, entry["conversation_id"])
        if conv is None:
            return conv_store.create_conversation(
                s, customer_id=entry["customer_id"], conversation_id=entry["conversation_id"]
            )
        if conv.customer_id != entry["customer_id"]:
            raise conv_store.NotYourConversation(entry["conversation_id"])
        return conv

    @staticmethod
    def _spooled_message(s: Session, conv: conv_store.Conversation, entry: dict[str, Any]) -> Message:
        """The entry's customer message, stored now unless its idempotency key already is.

        A key the database holds for another message (a client reused it while the database was down, so
        no 409 could be said) does not lose this one: it is stored under a key made from both, the same
        at every replay, and answered by the entry's own reply."""
        key, content = entry["key"], entry.get("text") or ""
        existing = conv_store.find_by_idempotency_key(s, conversation_id=conv.id, key=key)
        if existing is not None and entry.get("text") is not None and existing.content != content:
            logger.warning("spooled message under a reused key kept apart: conversation=%s", conv.id)
            key = "spooled:" + hashlib.sha256(f"{key}\0{content}".encode()).hexdigest()[:40]
            existing = conv_store.find_by_idempotency_key(s, conversation_id=conv.id, key=key)
        return existing or conv_store.store_customer_message(
            s, conversation=conv, content=content, idempotency_key=key
        )

    def _apply_ticket(self, s: Session, entry: dict[str, Any]) -> None:
        """A contact request's ticket, owed a first response like any ticket of its priority (an Offline
        follow-up's), or the open ticket it joins."""
        now = utcnow()
        tickets.ensure_ticket(
            s,
            conversation_id=entry["conversation_id"],
            customer_id=entry["customer_id"],
            reason=HandoffReason.OFFLINE,
            contact=entry["contact"],
            note=entry.get("note") or None,
            source_key=entry.get("key"),
            sla_due_at=queue.sla_due(now, BASE_PRIORITY[HandoffReason.OFFLINE], self.settings),
            now=now,
        )
