"""SQLAlchemy engine and sessions: SQLite under var/ by default, Postgres by DATABASE_URL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.config import get_settings


class Base(DeclarativeBase):
    """Declarative base of every table; the migrations are written against it."""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class DatabaseUnavailable(RuntimeError):
    """The relational store cannot be reached."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def postgres_connect_args(
    statement_timeout_s: float, *, connect_timeout_s: int = 5, options: str | None = None
) -> dict[str, Any]:
    """libpq parameters of the PostgreSQL connections that serve customers (SQLAlchemy's pool and the
    checkpointer's): how long a statement may run, and when a silent server host is given up on. `options`
    are the ones the URL already asks for (e.g. `-c search_path=support`): kept, since these replace them."""
    args: dict[str, Any] = {"connect_timeout": connect_timeout_s}
    if statement_timeout_s > 0:
        ms = max(1, round(statement_timeout_s * 1000))
        limits = f"-c statement_timeout={ms} -c idle_in_transaction_session_timeout={10 * ms}"
        args |= {
            "options": f"{options} {limits}" if options else limits,
            # A vanished host (no reset ever comes): what we send and it never acknowledges fails the
            # connection after the statement limit; while we only wait for it, keepalives probe after 10 s of
            # silence and give up after 3 unanswered, 5 s apart.
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": ms,
        }
    return args


@contextmanager
def statement_limit_lifted(execute: Callable[[str], Any]) -> Iterator[None]:
    """Run the block's statements on this PostgreSQL connection without `DB_STATEMENT_TIMEOUT_S`, then give
    it back its own limit (RESET: the value its startup options set). `execute` runs one SQL string on it."""
    execute("SET statement_timeout = 0")
    try:
        yield
    finally:
        execute("RESET statement_timeout")


def get_engine(url: str) -> Engine:
    """One engine per URL (and statement limit, `DB_STATEMENT_TIMEOUT_S`) per process."""
    return _engine(url, get_settings().db_statement_timeout_s)


@lru_cache(maxsize=8)
def _engine(url: str, statement_timeout_s: float) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, hide_parameters=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Errors must not carry customer text into logs; a dead server must fail fast, not hang the turn.
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_timeout=5,
        hide_parameters=True,
        connect_args=postgres_connect_args(statement_timeout_s, options=_url_options(url)),
    )
    event.listen(engine, "connect", _note_use)  # a new connection needs no ping
    event.listen(engine, "checkin", _note_use)
    event.listen(engine, "checkout", partial(_ping_if_idle, engine.dialect))
    return engine


PING_AFTER_IDLE_S = 2.0
"""A pooled connection idle this long is pinged before use (a restarted server leaves dead ones behind); one
returned just now is not: a busy process would otherwise spend a round trip on every checkout."""


def _note_use(_dbapi_conn: Any, record: Any) -> None:
    if record is not None:
        record.info["returned_at"] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    """SQLAlchemy's pre-ping, only for connections that sat idle. A dead one invalidates every connection
    of the pool made before it (as pre-ping does) and the checkout is retried with a fresh one, so no request
    meets a connection from before a server restart."""
    returned = record.info.get("returned_at")
    if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE_S:
        return
    try:
        alive = dialect.do_ping(dbapi_conn)
    except Exception as exc:
        raise InvalidatePoolError("the pooled connection is dead") from exc
    if not alive:
        raise InvalidatePoolError("the pooled connection is dead")


def _url_options(url: str) -> str | None:
    options = make_url(url).query.get("options")
    return " ".join(options) if isinstance(options, tuple) else options


def _factory(url: str) -> sessionmaker[Session]:
    return _sessions(url, get_settings().db_statement_timeout_s)


@lru_cache(maxsize=8)
def _sessions(url: str, statement_timeout_s: float) -> sessionmaker[Session]:
    return sessionmaker(bind=_engine(url, statement_timeout_s), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = _factory(url)()
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()
