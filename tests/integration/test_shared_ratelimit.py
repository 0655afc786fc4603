"""A per-customer limit holds across replicas: token buckets in PostgreSQL, taken atomically, by the database
server's clock; idle buckets are swept; without PostgreSQL each replica's own bucket decides."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from core.migrate import upgrade
from core.ratelimit import RateLimited, RateLimiter, shared_key, sweep_shared, take_shared
from tests import services
from tests.integration.test_claim_race import _fresh_postgres_database

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def url(postgres_url: str) -> str:
    fresh = _fresh_postgres_database(postgres_url)
    upgrade(fresh)
    return fresh


@pytest.fixture
def replicas(url: str) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    """Two engines of their own, as two API replicas would have."""
    engines = tuple(sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT") for _ in range(2))
    yield engines  # type: ignore[misc]
    for engine in engines:
        engine.dispose()


def take(engine: sa.Engine, limiter: RateLimiter, key: str) -> float:
    with engine.connect() as conn:
        return take_shared(conn, limiter, key)


def test_two_replicas_share_one_bucket_per_customer(replicas: tuple[sa.Engine, sa.Engine]) -> None:
    a, b = replicas
    limiter = RateLimiter("messages", per_minute=6, burst=3)  # one token every 10 s
    me, other = f"guest-{uuid.uuid4()}", f"guest-{uuid.uuid4()}"
    assert [take(engine, limiter, me) for engine in (a, b, a)] == [0.0, 0.0, 0.0]
    waits = [take(engine, limiter, me) for engine in (b, a)]
    assert all(9.0 < wait <= 10.0 for wait in waits), waits  # empty on both replicas, ~10 s to the next
    assert take(b, limiter, other) == 0.0  # another customer has a bucket of their own
    logins = RateLimiter("logins", per_minute=6, burst=3)
    assert take(a, logins, me) == 0.0  # and another limit too


def test_the_bucket_refills_at_the_limit_s_rate(replicas: tuple[sa.Engine, sa.Engine]) -> None:
    a, b = replicas
    limiter = RateLimiter("messages", per_minute=600, burst=2)  # ten tokens a second
    me = f"guest-{uuid.uuid4()}"
    assert [take(a, limiter, me), take(b, limiter, me)] == [0.0, 0.0]
    wait = take(a, limiter, me)
    assert 0.0 < wait <= 0.1
    time.sleep(wait + 0.05)
    assert take(b, limiter, me) == 0.0
    assert take(a, limiter, me) > 0.0


def test_concurrent_requests_on_many_connections_take_exactly_the_burst(url: str) -> None:
    engine = sa.create_engine(url, pool_size=20, isolation_level="AUTOCOMMIT")
    limiter = RateLimiter("messages", per_minute=1, burst=5)
    me = f"guest-{uuid.uuid4()}"
    start = threading.Barrier(20)
    waits: list[float] = []

    def one() -> None:
        start.wait()
        waits.append(take(engine, limiter, me))

    threads = [threading.Thread(target=one) for _ in range(20)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        engine.dispose()
    assert len(waits) == 20
    assert sum(1 for w in waits if w == 0.0) == 5  # the other fifteen were told to wait


def test_a_sweep_deletes_only_the_buckets_idle_long_enough(replicas: tuple[sa.Engine, sa.Engine]) -> None:
    a, _ = replicas
    limiter = RateLimiter("messages", per_minute=60, burst=3)
    idle, busy = f"guest-{uuid.uuid4()}", f"guest-{uuid.uuid4()}"
    take(a, limiter, idle)
    take(a, limiter, busy)
    with a.connect() as conn:
        conn.execute(
            sa.text("UPDATE rate_buckets SET at = at - 120 WHERE key = :k"),
            {"k": shared_key("messages", idle)},
        )
        assert sweep_shared(conn, limiter.full_after_s + 60) >= 1
        left = set(conn.execute(sa.text("SELECT key FROM rate_buckets")).scalars())
    assert shared_key("messages", idle) not in left and shared_key("messages", busy) in left
    assert take(a, limiter, idle) == 0.0  # a swept bucket starts full again


def test_a_long_key_is_shortened_to_a_hash_that_still_tells_keys_apart() -> None:
    long_a, long_b = "a" * 300, "a" * 299 + "b"
    assert len(shared_key("messages", long_a)) <= 240
    assert shared_key("messages", long_a) != shared_key("messages", long_b)
    assert shared_key("messages", "guest-1") == "messages:guest-1"


def test_a_message_takes_its_token_in_the_statement_that_stores_it(demo_service, settings, url, tmp_path):
    """Two replicas' services on one database: the customer's burst is shared, the message past it is
    refused with how long to wait, and nothing of it is stored."""
    replicas = services.replicas(settings, demo_service.kb, url, tmp_path)
    limiter = RateLimiter("messages", per_minute=6, burst=3)
    me = f"guest-{uuid.uuid4()}"
    conv = replicas[0].start_conversation(customer_id=me)
    for n in range(3):
        done = replicas[n % 2].send(conversation_id=conv, customer_id=me, text=f"hello {n}", limit=limiter)
        assert done.reply is not None and not done.spooled
    with pytest.raises(RateLimited) as refused:
        replicas[1].send(conversation_id=conv, customer_id=me, text="one too many", limit=limiter)
    assert 9.0 < refused.value.wait <= 10.0
    shown = replicas[0].transcript(conversation_id=conv, customer_id=me)
    assert [m.content for m in shown if m.role == "customer"] == ["hello 0", "hello 1", "hello 2"]
    unlimited = replicas[0].send(conversation_id=conv, customer_id=me, text="from the web page")
    assert unlimited.reply is not None  # no limit asked (the Streamlit page): the shared bucket is not asked


def test_a_new_conversation_takes_its_token_in_its_insert(demo_service, settings, url, tmp_path):
    replicas = services.replicas(settings, demo_service.kb, url, tmp_path)
    limiter = RateLimiter("messages", per_minute=6, burst=2)
    me = f"guest-{uuid.uuid4()}"
    started = [replicas[n].start_conversation(customer_id=me, limit=limiter) for n in range(2)]
    with pytest.raises(RateLimited) as refused:
        replicas[0].start_conversation(customer_id=me, limit=limiter)
    assert 9.0 < refused.value.wait <= 10.0
    assert {c["id"] for c in replicas[1].conversations(customer_id=me)} == set(started)  # none stored for it


def test_failed_logins_for_one_name_are_counted_across_replicas(demo_service, settings, url, tmp_path):
    """A guesser sending each try to another replica gets no more tries than on one."""
    from core.users import Role
    from tests.accounts import PASSWORD, account

    replicas = services.replicas(
        settings.model_copy(update={"login_failures_per_15_min": 3}), demo_service.kb, url, tmp_path
    )
    name = account(url, Role.AGENT).username
    for n in range(3):
        assert replicas[n % 2].authenticate(username=name, password=f"guess-{n}") is None
    for replica in replicas:  # the right password too, on either replica
        with pytest.raises(RateLimited) as refused:
            replica.authenticate(username=name, password=PASSWORD)
        assert refused.value.limiter.name == "login-failures" and refused.value.wait > 200
    other = account(url, Role.AGENT).username
    assert replicas[1].authenticate(username=other, password=PASSWORD) is not None
