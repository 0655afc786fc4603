"""The docker-compose topology as processes (PostgreSQL, `chroma run`, a stub LLM server, two uvicorn API
replicas, Streamlit), configured by the compose file's environment variables: what stateless replicas must
do together, what outages do to the mode, and a property-based run of the OpenAPI schema."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from core.users import Role
from evals.topology import Topology, postgres_available
from tests import sse
from tests.accounts import PASSWORD, account
from tests.ci import unavailable

pytestmark = pytest.mark.slow

COOLDOWN_S = 2.0


@pytest.fixture(scope="module")
def topo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    if not postgres_available():
        unavailable("no PostgreSQL server binaries; `make test` installs them", what="process topology tests")
    settings = {
        "BREAKER_COOLDOWN_S": str(COOLDOWN_S),
        "KB_POLL_S": "1",
        "API_BACKGROUND_S": "0.5",
        "CHECKPOINT_PRUNE_S": "1",
        "API_LOGIN_LIMIT_PER_MIN": "1000",  # every test client is 127.0.0.1 (the limit: test_api.py)
        "API_GUEST_LIMIT_PER_MIN": "100000",
    }
    with Topology(Path(tmp_path_factory.mktemp("topology")), replicas=2, ui=True, settings=settings) as t:
        yield t


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def guest(http: httpx.Client, url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {http.post(f'{url}/v1/auth/guest').json()['token']}"}


def staff(http: httpx.Client, topo: Topology, url: str, role: Role) -> dict[str, str]:
    user = account(topo.env["DATABASE_URL"], role)
    answer = http.post(f"{url}/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def say(http: httpx.Client, url: str, me: dict[str, str], cid: str, words: str) -> dict[str, Any]:
    answer = http.post(f"{url}/v1/conversations/{cid}/messages", headers=me, json={"text": words})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_one_conversation_moves_between_replicas_with_its_history(topo: Topology, http: httpx.Client) -> None:
    a, b = topo.api_urls
    me = guest(http, a)  # a token from one replica is good on the other (shared secret)
    cid = http.post(f"{b}/v1/conversations", headers=me).json()["id"]
    first = say(http, a, me, cid, "How long do refunds take to reach my card?")
    second = say(http, b, me, cid, "And what about store credit?")
    assert first["mode"] == second["mode"] == "full"
    assert first["reply"]["citations"] and second["reply"]["citations"]
    shown = http.get(f"{a}/v1/conversations/{cid}", headers=me).json()["messages"]
    assert [m["role"] for m in shown] == ["customer", "assistant", "customer", "assistant"]
    other = guest(http, b)
    assert http.get(f"{b}/v1/conversations/{cid}", headers=other).status_code == 404
    engine = create_engine(topo.env["DATABASE_URL"])
    count = text("SELECT count(*) FROM checkpoints WHERE thread_id = :t")
    try:  # each replica's sweep deleted what its turn superseded: the thread keeps its latest checkpoint
        with engine.connect() as conn:
            wait_for(lambda: conn.execute(count, {"t": cid}).scalar() == 1, 10, "one checkpoint left")
    finally:
        engine.dispose()
    pruned = [_metric(http.get(f"{url}/metrics").text, "support_checkpoints_pruned_total") for url in (a, b)]
    assert sum(pruned) >= 1


def test_replicas_freeze_their_start_up_heap_and_report_gc_pauses(topo: Topology, http: httpx.Client) -> None:
    """core.heap: what a replica built at start-up is out of the collector's walks, and /metrics shows the
    pauses (the freeze's own full collection among them)."""
    for url in topo.api_urls:
        text_format = http.get(f"{url}/metrics").text
        assert _metric(text_format, "support_gc_frozen_objects") > 100_000  # libraries, model, knowledge base
        assert _metric(text_format, 'support_gc_pause_seconds_count{generation="2"}') >= 1
        assert _metric(text_format, 'support_gc_pause_seconds_sum{generation="2"}') > 0


def _metric(text_format: str, name: str) -> float:
    line = next(line for line in text_format.splitlines() if line.startswith(f"{name} "))
    return float(line.split()[1])


def test_each_part_reports_its_cpu_and_each_turn_its_time(topo: Topology, http: httpx.Client) -> None:
    """What `python -m evals.load` prints about where a turn's time and CPU go."""
    from evals.load import llm_ms_by_key, turn_times_ms

    before = topo.cpu_seconds()
    a = topo.api_urls[0]
    # /proc counts CPU in clock ticks (10 ms) and a turn costs PostgreSQL a few ms spread over several
    # backends, so a handful of turns may not move its figure: talk until it moves, within a bound
    # (a new customer every 5 turns stays far below the per-customer rate limit).
    for turn in range(30):
        if turn % 5 == 0:
            me = guest(http, a)
            cid = http.post(f"{a}/v1/conversations", headers=me).json()["id"]
        say(http, a, me, cid, "How long do refunds take to reach my card?")
        after = topo.cpu_seconds()
        if turn >= 2 and after["postgres"] > before["postgres"]:
            break
    assert {"postgres", "chroma", "llm", "api-0", "api-1"} <= set(after)
    assert after["api-0"] > before["api-0"] and after["postgres"] > before["postgres"]
    times = turn_times_ms(topo.env["DATABASE_URL"])
    assert len(times) >= 3 and all(t > 0 for t in times)
    key = uuid.uuid4().hex
    answered = http.post(
        f"{a}/v1/conversations/{cid}/messages",
        headers={**me, "Idempotency-Key": key},
        json={"text": "How long do refunds take to reach my card?"},
    ).json()
    assert answered["mode"] == "full" and answered["outcome"] == "answered"  # the stub LLM wrote it
    assert llm_ms_by_key(topo.env["DATABASE_URL"])[key] > 0


def test_the_floor_serves_a_turn_on_the_same_services_and_stores_its_reply(
    topo: Topology, http: httpx.Client
) -> None:
    """`python -m evals.load --floor`: the mandated parts with nothing of the app, on the same services."""
    from evals.load import Sent, lost_messages

    with topo.extra_replica("evals.topology.floor_app:app") as floor:
        token = http.post(f"{floor}/v1/auth/guest").json()["token"]
        me = {"Authorization": f"Bearer {token}"}
        cid = http.post(f"{floor}/v1/conversations", headers=me).json()["id"]
        keys = [uuid.uuid4().hex, uuid.uuid4().hex]
        for key, words in zip(keys, ("How long do refunds take?", "And to my card?"), strict=True):
            answer = http.post(
                f"{floor}/v1/conversations/{cid}/messages",
                headers={**me, "Idempotency-Key": key},
                json={"text": words},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["reply"].strip()
        assert (
            http.post(f"{floor}/v1/conversations/{cid}/messages", headers=me, json={"text": ""}).status_code
            == 422
        )
    sent = [Sent(key, cid, 200, 1.0, 0.0) for key in keys]
    assert lost_messages(topo.env["DATABASE_URL"], sent) == []  # both replies stored, each to its message
    assert lost_messages(topo.env["DATABASE_URL"], [Sent("never-sent", cid, 200, 1.0, 0.0)]) == ["never-sent"]


def test_a_streamed_full_mode_answer_arrives_token_by_token(topo: Topology, http: httpx.Client) -> None:
    a = topo.api_urls[0]
    me = guest(http, a)
    cid = http.post(f"{a}/v1/conversations", headers=me).json()["id"]
    answer, events = sse.post(
        http, f"{a}/v1/conversations/{cid}/messages", me, "How long do refunds take to reach my card?"
    )
    assert answer.status_code == 200
    kinds = [k for k, _ in events]
    assert kinds.count("token") >= 2 and kinds[-1] == "reply", kinds
    reply = events[-1][1]
    assert reply["mode"] == "full" and reply["reply"]["citations"]
    if "reset" not in kinds:  # what was streamed is what was stored (a rail would have said reset)
        streamed = "".join(d["text"] for k, d in events if k == "token")
        assert streamed.strip() and streamed.strip()[:40] in reply["reply"]["content"]


def test_agent_on_one_replica_takes_over_and_hands_back_to_the_bot_on_the_other(
    topo: Topology, http: httpx.Client
) -> None:
    a, b = topo.api_urls
    me = guest(http, a)
    cid = http.post(f"{a}/v1/conversations", headers=me).json()["id"]
    assert say(http, a, me, cid, "I want to speak to a human agent now")["outcome"] == "handoff"
    agent = staff(http, topo, b, Role.AGENT)
    queue = http.get(f"{b}/v1/queue", headers=agent).json()
    ticket = next(t for t in queue if t["conversation_id"] == cid)
    assert http.post(f"{b}/v1/tickets/{ticket['id']}/claim", headers=agent).status_code == 200
    assert http.post(
        f"{b}/v1/tickets/{ticket['id']}/replies", headers=agent, json={"text": "Hello, Sam here."}
    )
    held = say(http, a, me, cid, "hi Sam, my parcel never came")
    assert held["held"] and held["reply"] is None
    handed = http.post(f"{b}/v1/tickets/{ticket['id']}/hand-back", headers=agent, json={"note": "done"})
    assert handed.status_code == 200 and handed.json()["resumed"] is True
    back = say(http, a, me, cid, "How do I return an item?")
    assert not back["held"] and back["reply"]["citations"]


def test_a_publish_on_one_replica_is_served_by_the_other(topo: Topology, http: httpx.Client) -> None:
    a, b = topo.api_urls
    editor = staff(http, topo, a, Role.EDITOR)
    word = f"zephyrine{uuid.uuid4().hex[:6]}"
    draft = http.post(
        f"{a}/v1/kb/drafts",
        headers=editor,
        json={
            "title": "Plant care kits",
            "body": f"# Plant care kits\n\n## What is inside\n\nEach {word} kit has soil.",
        },
    ).json()
    published = http.post(f"{a}/v1/kb/versions/{draft['id']}/publish", headers=editor, json={})
    assert published.json()["status"] == "published", published.text
    me = guest(http, b)

    def found() -> bool:
        hits = http.get(f"{b}/v1/kb/search", headers=me, params={"q": f"what is in the {word} kit"}).json()
        return bool(hits["passages"]) and hits["passages"][0]["article"] == draft["slug"]

    wait_for(found, 20, "the other replica serves the published article")


def test_the_ui_runs_on_the_same_settings(topo: Topology, http: httpx.Client) -> None:
    assert topo.ui_url is not None
    assert http.get(f"{topo.ui_url}/_stcore/health").status_code == 200


def test_a_customer_s_rate_limit_holds_across_replicas(topo: Topology, http: httpx.Client) -> None:
    """API_RATE_LIMIT_PER_MIN (60: a burst of 15) counts a customer's requests on both replicas together:
    each replica's own bucket would let through 15 of its own."""
    a, b = topo.api_urls
    me = guest(http, a)
    started = time.monotonic()
    answers = [http.post(f"{url}/v1/conversations", headers=me) for url in [a, b] * 12]
    codes = [r.status_code for r in answers]
    refill = int(time.monotonic() - started) + 1  # one token a second comes back meanwhile
    assert 15 <= codes.count(201) <= 15 + refill and 429 in codes  # one replica alone would allow 24
    refused = answers[codes.index(429)]
    assert refused.json()["error"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
    assert http.post(f"{a}/v1/conversations", headers=guest(http, b)).status_code == 201  # someone else
    you = guest(http, b)  # messages too: their token is taken by the statement that stores them
    cid = http.post(f"{a}/v1/conversations", headers=you).json()["id"]
    started = time.monotonic()
    sent = [
        http.post(f"{url}/v1/conversations/{cid}/messages", headers=you, json={"text": f"hello {n}"})
        for n, url in enumerate([b, a] * 12)
    ]
    codes = [r.status_code for r in sent]
    refill = int(time.monotonic() - started) + 1
    assert 14 <= codes.count(200) <= 14 + refill and 429 in codes
    shown = http.get(f"{a}/v1/conversations/{cid}", headers=you).json()["messages"]
    assert sum(1 for m in shown if m["role"] == "customer") == codes.count(200)  # a refused one is not stored


def _modes(topo: Topology) -> set[str]:
    return {h.get("mode", "unreachable") for h in topo.health()}


def test_each_outage_is_a_mode_change_and_recovers_by_itself(topo: Topology, http: httpx.Client) -> None:
    a, b = topo.api_urls
    me = guest(http, a)
    cid = http.post(f"{a}/v1/conversations", headers=me).json()["id"]
    for service, expected in (("chroma", "degraded"), ("llm", "minimal")):
        topo.stop(service)
        try:
            turns = [
                say(http, url, me, cid, "How long do refunds take to reach my card?") for url in (a, b, a, b)
            ]
            assert {t["mode"] for t in turns[-2:]} == {expected}, (service, [t["mode"] for t in turns])
            assert all(t["reply"]["content"] for t in turns)
        finally:
            topo.start(service)
        up = time.monotonic()
        wait_for(lambda: _modes(topo) == {"full"}, COOLDOWN_S + 5, f"{service} back: both replicas in Full")
        assert time.monotonic() - up <= COOLDOWN_S + 5
    topo.stop("postgres")
    try:
        down = [
            say(http, url, me, cid, f"my order is late, message {n}") for n, url in enumerate((a, b, a, b))
        ]
        assert all(t["reply"]["content"] for t in down)
        assert down[-1]["mode"] == "offline" and down[-1]["spooled"]
    finally:
        topo.start("postgres")
    wait_for(lambda: all(h.get("spooled") == 0 for h in topo.health()), 30, "spools replayed")
    engine = create_engine(topo.env["DATABASE_URL"])
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT content FROM messages WHERE conversation_id = :c AND role = 'customer'"), {"c": cid}
        ).scalars()
        contents = set(stored)
    engine.dispose()
    assert {f"my order is late, message {n}" for n in range(4)} <= contents
    wait_for(lambda: _modes(topo) == {"full"}, COOLDOWN_S + 5, "postgres back: both replicas in Full")


def test_property_based_requests_never_get_a_server_error(topo: Topology, http: httpx.Client) -> None:
    import schemathesis

    url = topo.api_urls[0]
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    customer = guest(http, url)
    admin = staff(http, topo, url, Role.ADMIN)
    staff_paths = ("/v1/queue", "/v1/tickets", "/v1/kb/articles", "/v1/kb/drafts", "/v1/kb/versions")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/publish"):  # publishing random drafts is covered by the studio tests
            continue
        headers = admin if operation.path.startswith(staff_paths) else customer
        _examples(operation, url, headers, failures)()
    assert not failures, failures[:5]


def _examples(operation: Any, url: str, headers: dict[str, str], failures: list[str]) -> Any:
    """A Hypothesis test of one operation: generated requests, each answered without a 5xx."""
    from hypothesis import HealthCheck, given, settings

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        answer = case.call(base_url=url, headers=headers)
        if answer.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} -> {answer.status_code}: {answer.text[:200]}"
            )

    return run
