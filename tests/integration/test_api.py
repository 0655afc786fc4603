"""The HTTP API over the real service (seeded demo help center, real model, Chroma, SQLite): customers'
conversations in JSON and SSE, the handoff queue, the knowledge base, operations endpoints, and the
security rules (ownership, roles, tokens, rate and size limits)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from langgraph.checkpoint.memory import InMemorySaver

from agent.service import ChatService
from app.api.main import create_app
from core.breakers import HealthRegistry
from core.tokens import TokenClaims, issue
from core.users import AuthenticatedUser, Role
from evals.load import parse_server_timing
from tests import sse
from tests.accounts import PASSWORD, account

pytestmark = pytest.mark.slow


def _service(settings, demo_service, **overrides: Any) -> ChatService:  # type: ignore[no-untyped-def]
    cfg = settings.model_copy(update=overrides)
    health = HealthRegistry(
        failure_threshold=cfg.breaker_failure_threshold, cooldown_s=cfg.breaker_cooldown_s
    )
    return ChatService(cfg, kb=demo_service.kb, checkpointer=InMemorySaver(), health=health)


@pytest.fixture
def api(settings, demo_service) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    svc = _service(settings, demo_service, kb_eval_check=False)
    with TestClient(create_app(service=svc)) as client:
        yield client


def guest(client: TestClient) -> dict[str, str]:
    token = client.post("/v1/auth/guest").json()["token"]
    return {"Authorization": f"Bearer {token}"}


def signed_in(client: TestClient, settings, role: Role) -> tuple[AuthenticatedUser, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A new account of `role` and the headers of a token from /v1/auth/login."""
    user = account(settings.database_url, role)
    answer = client.post("/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return user, {"Authorization": f"Bearer {answer.json()['token']}"}


def login(client: TestClient, settings, role: Role) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return signed_in(client, settings, role)[1]


def conversation(client: TestClient, headers: dict[str, str]) -> str:
    created = client.post("/v1/conversations", headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_customer_question_gets_a_stored_cited_reply(api: TestClient) -> None:
    me = guest(api)
    cid = conversation(api, me)
    sent = api.post(
        f"/v1/conversations/{cid}/messages", headers=me, json={"text": "How long do refunds take?"}
    )
    assert sent.status_code == 200, sent.text
    turn = sent.json()
    assert turn["mode"] == "minimal"
    assert turn["reply"]["citations"], turn
    assert turn["message"]["id"] > 0 and turn["reply"]["reply_to"] == turn["message"]["id"]
    shown = api.get(f"/v1/conversations/{cid}", headers=me).json()
    assert [m["role"] for m in shown["messages"]] == ["customer", "assistant"]
    assert shown["messages"][1]["content"] == turn["reply"]["content"]
    assert [c["id"] for c in api.get("/v1/conversations", headers=me).json()] == [cid]


def test_server_timing_says_where_a_turn_spent_its_time_when_switched_on(
    api: TestClient,
    settings,
    demo_service,  # type: ignore[no-untyped-def]
) -> None:
    me = guest(api)
    sent = api.post(f"/v1/conversations/{conversation(api, me)}/messages", headers=me, json={"text": "Hi"})
    assert sent.status_code == 200 and "Server-Timing" not in sent.headers  # off by default
    svc = _service(settings, demo_service, kb_eval_check=False, api_server_timing=True)
    with TestClient(create_app(service=svc)) as client:
        me = guest(client)
        cid = conversation(client, me)
        question = {"text": "How long do refunds take?"}
        sent = client.post(f"/v1/conversations/{cid}/messages", headers=me, json=question)
        assert sent.status_code == 200
        phases = parse_server_timing(sent.headers["Server-Timing"])
        assert {"wait", "turn", "accept", "lock", "hold", "graph", "store", "node.retrieve"} <= phases.keys()
        assert all(ms >= 0 for ms in phases.values())
        assert phases["graph"] > 0 and phases["node.retrieve"] <= phases["graph"]
        inside = phases["accept"] + phases["lock"] + phases["hold"] + phases["graph"] + phases["store"]
        assert inside <= phases["turn"] + 0.1  # the phases are parts of the turn (rounded to 0.01 ms)
        again = client.post(  # a replayed key stores nothing new: only its look-up
            f"/v1/conversations/{cid}/messages",
            headers={**me, "Idempotency-Key": "st-1"},
            json={"text": "Do you ship to Canada?"},
        )
        replay = client.post(
            f"/v1/conversations/{cid}/messages",
            headers={**me, "Idempotency-Key": "st-1"},
            json={"text": "Do you ship to Canada?"},
        )
        assert "graph" in parse_server_timing(again.headers["Server-Timing"])
        assert replay.json()["replayed"] is True
        assert set(parse_server_timing(replay.headers["Server-Timing"])) == {"wait", "turn", "accept"}


def test_same_idempotency_key_returns_the_first_reply_not_a_second_turn(api: TestClient) -> None:
    me = guest(api)
    cid = conversation(api, me)
    body = {"text": "Do you ship to Canada?"}
    first = api.post(f"/v1/conversations/{cid}/messages", headers={**me, "Idempotency-Key": "k-1"}, json=body)
    again = api.post(f"/v1/conversations/{cid}/messages", headers={**me, "Idempotency-Key": "k-1"}, json=body)
    assert again.json()["replayed"] is True
    assert again.json()["reply"]["id"] == first.json()["reply"]["id"]
    assert len(api.get(f"/v1/conversations/{cid}", headers=me).json()["messages"]) == 2


def test_an_idempotency_key_sent_again_with_another_message_is_a_409_not_a_lost_message(
    api: TestClient,
) -> None:
    """A retry repeats its message; a different message under a used key would otherwise be answered with the
    first one's reply and never stored. The client is told, and sends it again with a new key."""
    me = guest(api)
    cid = conversation(api, me)
    url = f"/v1/conversations/{cid}/messages"
    first = api.post(url, headers={**me, "Idempotency-Key": "k-1"}, json={"text": "Where is my order?"})
    assert first.status_code == 200
    reused = api.post(url, headers={**me, "Idempotency-Key": "k-1"}, json={"text": "Cancel it please"})
    assert reused.status_code == 409 and reused.json()["error"] == "key_reused"
    answer, events = sse.post(api, url, {**me, "Idempotency-Key": "k-1"}, "Cancel it please")
    assert answer.status_code == 200 and events[-1][0] == "error" and events[-1][1]["error"] == "key_reused"
    assert len(api.get(f"/v1/conversations/{cid}", headers=me).json()["messages"]) == 2
    again = api.post(url, headers={**me, "Idempotency-Key": "k-2"}, json={"text": "Cancel it please"})
    assert again.status_code == 200 and again.json()["message"]["content"] == "Cancel it please"


def test_streamed_turn_ends_in_one_reply_event_matching_the_transcript(api: TestClient) -> None:
    me = guest(api)
    cid = conversation(api, me)
    answer, events = sse.post(api, f"/v1/conversations/{cid}/messages", me, "What is your return policy?")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert events[-1][0] == "reply"
    stored = api.get(f"/v1/conversations/{cid}", headers=me).json()["messages"]
    assert events[-1][1]["reply"]["content"] == stored[-1]["content"]


def test_a_stream_whose_turn_is_slow_sends_keep_alive_comments_until_the_reply(
    api: TestClient, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A balancer closing idle connections must not cut a stream whose turn waits for a worker."""
    import app.api.customers as customers

    real_send = customers._send

    def slow_send(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.5)  # the turn waits (for a worker, a slow model) before anything is streamed
        return real_send(*args, **kwargs)

    monkeypatch.setattr(customers, "SSE_KEEPALIVE_S", 0.1)
    monkeypatch.setattr(customers, "_send", slow_send)
    me = guest(api)
    cid = conversation(api, me)
    with api.stream(
        "POST",
        f"/v1/conversations/{cid}/messages",
        headers={**me, "Accept": "text/event-stream"},
        json={"text": "What is your return policy?"},
    ) as answer:
        body = answer.read().decode()
    assert body.startswith(": keep-alive\n\n") and body.count(": keep-alive") >= 2
    assert sse.events(body)[-1][0] == "reply"


def test_a_customer_cannot_read_or_write_another_customers_conversation(api: TestClient) -> None:
    owner, other = guest(api), guest(api)
    cid = conversation(api, owner)
    api.post(f"/v1/conversations/{cid}/messages", headers=owner, json={"text": "my order BW-1234 is late"})
    assert api.get(f"/v1/conversations/{cid}", headers=other).status_code == 404
    posted = api.post(f"/v1/conversations/{cid}/messages", headers=other, json={"text": "hello"})
    assert posted.status_code == 404
    streamed = api.post(
        f"/v1/conversations/{cid}/messages",
        headers={**other, "Accept": "text/event-stream"},
        json={"text": "hello"},
    )
    assert streamed.status_code == 404
    rated = api.post(f"/v1/conversations/{cid}/feedback", headers=other, json={"message_id": 1, "rating": 1})
    assert rated.status_code == 404
    assert api.get("/v1/conversations", headers=other).json() == []
    assert len(api.get(f"/v1/conversations/{cid}", headers=owner).json()["messages"]) == 2


def test_missing_forged_and_expired_tokens_are_refused(api: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    assert api.post("/v1/conversations").status_code == 401
    token = api.post("/v1/auth/guest").json()["token"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert api.post("/v1/conversations", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    admin = TokenClaims(subject="user:1", role=Role.ADMIN, expires_at=int(time.time()) + 60, user_id=1)
    other_secret = issue(admin, secret="not-this-deployment")
    assert api.get("/v1/queue", headers={"Authorization": f"Bearer {other_secret}"}).status_code == 401
    old = TokenClaims(subject="guest-x", role=Role.CUSTOMER, expires_at=int(time.time()) - 1)
    expired = issue(old, secret=settings.token_secret())
    refused = api.post("/v1/conversations", headers={"Authorization": f"Bearer {expired}"})
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]


def test_staff_endpoints_need_the_right_role(api: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    customer = guest(api)
    agent = login(api, settings, Role.AGENT)
    editor = login(api, settings, Role.EDITOR)
    admin = login(api, settings, Role.ADMIN)
    assert api.get("/v1/queue", headers=customer).status_code == 403
    assert api.get("/v1/queue", headers=editor).status_code == 403
    assert api.get("/v1/queue", headers=agent).status_code == 200
    assert api.get("/v1/queue", headers=admin).status_code == 200
    assert api.get("/v1/kb/articles", headers=customer).status_code == 403
    assert api.get("/v1/kb/articles", headers=agent).status_code == 403
    assert api.get("/v1/kb/articles", headers=editor).status_code == 200
    assert api.post("/v1/conversations", headers=agent).status_code == 403  # staff never act as customers
    wrong = api.post("/v1/auth/login", json={"username": "nobody-here", "password": "wrong-password"})
    assert wrong.status_code == 401


def test_a_deactivated_agent_loses_the_queue_with_a_still_valid_token(api: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    from core.db import session_scope
    from core.users import deactivate

    user, headers = signed_in(api, settings, Role.AGENT)
    assert api.get("/v1/queue", headers=headers).status_code == 200
    with session_scope(settings.database_url) as s:
        deactivate(s, username=user.username)
    assert api.get("/v1/queue", headers=headers).status_code == 403


def test_a_deactivated_customer_account_loses_access_with_a_still_valid_token(
    api: TestClient, settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from app.api import deps
    from core.db import session_scope
    from core.users import deactivate

    monkeypatch.setattr(deps, "ACCOUNT_CHECK_S", 0.0)  # asked at every request, not once in 30 s
    user, headers = signed_in(api, settings, Role.CUSTOMER)
    assert api.post("/v1/conversations", headers=headers).status_code == 201
    with session_scope(settings.database_url) as s:
        deactivate(s, username=user.username)
    refused = api.get("/v1/conversations", headers=headers)
    assert refused.status_code == 403 and "no longer active" in refused.json()["detail"]
    assert api.get("/v1/conversations", headers=guest(api)).status_code == 200  # guests have no account


def test_a_password_change_or_ended_sessions_void_tokens_issued_before(
    api: TestClient, settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from app.api import deps
    from core.db import session_scope
    from core.users import end_sessions, set_password

    monkeypatch.setattr(deps, "ACCOUNT_CHECK_S", 0.0)
    agent, agent_headers = signed_in(api, settings, Role.AGENT)
    customer, customer_headers = signed_in(api, settings, Role.CUSTOMER)
    assert api.get("/v1/queue", headers=agent_headers).status_code == 200
    assert api.get("/v1/conversations", headers=customer_headers).status_code == 200
    with session_scope(settings.database_url) as s:
        set_password(s, username=agent.username, password="a-brand-new-passphrase", settings=settings)
        end_sessions(s, username=customer.username)

    assert api.get("/v1/queue", headers=agent_headers).status_code == 403
    assert api.get("/v1/conversations", headers=customer_headers).status_code == 403
    for voided in (agent_headers, customer_headers):  # the help-center search too, for any account's token
        assert api.get("/v1/kb/search", params={"q": "refund"}, headers=voided).status_code == 403
    assert api.get("/v1/kb/search", params={"q": "refund"}, headers=guest(api)).status_code == 200
    # Logging in again gives a token that works: the new password for the agent, the same for the customer.
    again = api.post(
        "/v1/auth/login", json={"username": agent.username, "password": "a-brand-new-passphrase"}
    )
    assert (
        api.get("/v1/queue", headers={"Authorization": f"Bearer {again.json()['token']}"}).status_code == 200
    )
    monkeypatch.setattr(deps, "ACCOUNT_CHECK_S", 30.0)  # as served: an account checked once in 30 s
    back = api.post("/v1/auth/login", json={"username": customer.username, "password": PASSWORD})
    assert (
        api.get("/v1/conversations", headers={"Authorization": f"Bearer {back.json()['token']}"}).status_code
        == 200
    )
    # The owner's new login vouches for itself only, never for the token the ended sessions voided.
    assert api.get("/v1/conversations", headers=customer_headers).status_code == 403


def test_messages_over_the_per_customer_rate_get_429_with_retry_after(settings, demo_service) -> None:  # type: ignore[no-untyped-def]
    svc = _service(settings, demo_service, api_rate_limit_per_min=12)  # a burst of 3: a conversation, 2 turns
    with TestClient(create_app(service=svc)) as client:
        me, other = guest(client), guest(client)
        cid = conversation(client, me)
        codes = [
            client.post(f"/v1/conversations/{cid}/messages", headers=me, json={"text": f"hi {i}"}).status_code
            for i in range(3)
        ]
        assert codes == [200, 200, 429]
        limited = client.post(f"/v1/conversations/{cid}/messages", headers=me, json={"text": "again"})
        assert int(limited.headers["Retry-After"]) >= 1
        assert (
            client.post(
                f"/v1/conversations/{conversation(client, other)}/messages",
                headers=other,
                json={"text": "hi"},
            ).status_code
            == 200
        )  # another customer has a bucket of their own
        assert len(client.get(f"/v1/conversations/{cid}", headers=me).json()["messages"]) == 4


def test_knowledge_base_searches_are_limited_per_token_holder(settings, demo_service) -> None:  # type: ignore[no-untyped-def]
    svc = _service(settings, demo_service, api_rate_limit_per_min=12)  # a burst of 3
    with TestClient(create_app(service=svc)) as client:
        me, other = guest(client), guest(client)
        codes = [
            client.get("/v1/kb/search", params={"q": "refund"}, headers=me).status_code for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        assert client.get("/v1/kb/search", params={"q": "refund"}, headers=other).status_code == 200


def test_token_requests_from_one_address_are_limited(settings, demo_service) -> None:  # type: ignore[no-untyped-def]
    svc = _service(settings, demo_service, api_login_limit_per_min=10)  # a burst of 5
    with TestClient(create_app(service=svc)) as client:
        codes = [client.post("/v1/auth/guest").status_code for _ in range(6)]
        assert codes == [201] * 5 + [429]
        refused = client.post("/v1/auth/login", json={"username": "someone", "password": "whatever-it-is"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_failed_logins_for_one_username_from_many_addresses_stall_its_logins(settings, demo_service) -> None:  # type: ignore[no-untyped-def]
    svc = _service(settings, demo_service, login_failures_per_15_min=3)
    app = create_app(service=svc)
    with TestClient(app) as client:
        user, _ = signed_in(client, settings, Role.AGENT)
        for n in range(3):  # a guesser spread over addresses: the per-address limit never sees them
            guesser = TestClient(app, client=(f"198.51.100.{n}", 40000))
            wrong = {"username": user.username, "password": f"guess-number-{n}"}
            assert guesser.post("/v1/auth/login", json=wrong).status_code == 401
        right = {"username": user.username, "password": PASSWORD}
        stalled = TestClient(app, client=("203.0.113.50", 40000)).post("/v1/auth/login", json=right)
        assert stalled.status_code == 429 and "failed logins" in stalled.json()["detail"]
        assert int(stalled.headers["Retry-After"]) >= 60
        _, other = signed_in(client, settings, Role.AGENT)  # other accounts log in as before
        assert client.get("/v1/queue", headers=other).status_code == 200
        unknown = {"username": "nobody-" + user.username, "password": "x"}
        elsewhere = TestClient(app, client=("203.0.113.51", 40000))
        for _ in range(3):  # an unknown name stalls the same way: the answer says nothing of who exists
            elsewhere.post("/v1/auth/login", json=unknown)
        assert elsewhere.post("/v1/auth/login", json=unknown).status_code == 429


def test_guests_behind_one_address_share_a_message_limit_that_fresh_tokens_do_not_escape(
    settings, demo_service
) -> None:  # type: ignore[no-untyped-def]
    svc = _service(settings, demo_service, api_guest_limit_per_min=8, api_login_limit_per_min=100)  # burst 2
    app = create_app(service=svc)
    with TestClient(app) as client:
        assert [client.post("/v1/conversations", headers=guest(client)).status_code for _ in range(3)] == [
            201,
            201,
            429,
        ]
        late = guest(client)
        refused = client.post("/v1/conversations", headers=late)
        assert refused.status_code == 429 and "this address" in refused.json()["detail"]
        assert int(refused.headers["Retry-After"]) >= 1
        search = client.get("/v1/kb/search", params={"q": "refund"}, headers=late)
        assert search.status_code == 429  # a fresh guest's searches are no way around the address's budget
        _, registered = signed_in(client, settings, Role.CUSTOMER)  # accountable: its own limit only
        assert client.post("/v1/conversations", headers=registered).status_code == 201
        elsewhere = TestClient(app, client=("203.0.113.9", 50000))  # the same replica, another address
        assert elsewhere.post("/v1/conversations", headers=guest(elsewhere)).status_code == 201


def test_oversized_bodies_get_413_before_parsing(api: TestClient) -> None:
    me = guest(api)
    cid = conversation(api, me)
    big = {"text": "x" * 600_000}
    answer = api.post(f"/v1/conversations/{cid}/messages", headers=me, json=big)
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b'{"text": "'
        for _ in range(600):
            yield b"y" * 1000
        yield b'"}'

    chunked = api.post(
        f"/v1/conversations/{cid}/messages",
        headers={**me, "Content-Type": "application/json"},
        content=chunks(),
    )
    assert chunked.status_code == 413
    assert api.get(f"/v1/conversations/{cid}", headers=me).json()["messages"] == []


def test_bad_input_gets_a_clear_422_and_nothing_is_stored(api: TestClient) -> None:
    me = guest(api)
    cid = conversation(api, me)
    for body in ({"text": "   "}, {"text": ""}, {}, {"text": "hi", "extra": 1}):
        answer = api.post(f"/v1/conversations/{cid}/messages", headers=me, json=body)
        assert answer.status_code == 422, body
    rated = api.post(f"/v1/conversations/{cid}/feedback", headers=me, json={"message_id": 1, "rating": 5})
    assert rated.status_code == 422
    for odd in ("not-a-uuid", cid.upper(), "%00" * 12, "é" * 36):  # never reaches the database
        assert (
            api.post(f"/v1/conversations/{odd}/messages", headers=me, json={"text": "hi"}).status_code == 422
        )
    bad_token = api.post("/v1/conversations", headers={"Authorization": "Bearer v1.abc.é".encode()})
    assert bad_token.status_code == 401
    contact = api.post(f"/v1/conversations/{cid}/contact", headers=me, json={"contact": "not reachable"})
    assert contact.status_code == 422 and contact.json()["detail"]
    assert api.get(f"/v1/conversations/{cid}", headers=me).json()["messages"] == []


def test_invalid_json_values_get_a_problem_422_that_never_echoes_the_input(api: TestClient) -> None:
    """Values JSON can carry but no answer can echo (a lone surrogate, an infinite or NaN number) were a 500
    with the input in the log; every 422 is now `{error, detail}` naming the field, without the input."""
    me = guest(api)
    cid = conversation(api, me)
    raw = {"Content-Type": "application/json"}
    secret = "hunter2-" * 40  # over the password's 256 characters: refused, never sent back
    for path, body, field in (
        ("/v1/auth/login", '{"username": "\\udc00x", "password": "x", "x": 1e999}', "body.(a field"),
        (
            f"/v1/conversations/{cid}/feedback",
            '{"message_id": 1, "rating": 1, "card 4111": 1}',
            "body.(a field",
        ),
        (
            f"/v1/conversations/{cid}/feedback",
            '{"message_id": 1, "rating": ' + "[" * 900 + "]" * 900 + "}",
            "rating",
        ),
        ("/v1/auth/login", '{"username": NaN, "password": "x"}', "body.username"),
        ("/v1/auth/login", f'{{"username": "someone", "password": "{secret}"}}', "body.password"),
        (f"/v1/conversations/{cid}/feedback", '{"message_id": Infinity, "rating": 1}', "body.message_id"),
    ):
        answer = api.post(path, content=body, headers=raw | me)
        assert answer.status_code == 422, (path, body, answer.text)
        problem = answer.json()
        assert problem["error"] == "invalid" and field in problem["detail"], problem
        assert secret not in answer.text and "Infinity" not in answer.text and "NaN" not in answer.text
        assert "4111" not in answer.text
    # What the framework refuses before any endpoint (a body it cannot parse, an unknown path or method) is
    # answered in the same shape.
    for method, path, body, status in (
        ("POST", f"/v1/conversations/{cid}/messages", b'{"text": ' + b"[" * 100_000 + b"}", 400),
        ("POST", f"/v1/conversations/{cid}/messages", b'{"text": "\xff\xfe"}', 400),
        ("GET", "/v1/no-such-thing", b"", 404),
        ("DELETE", "/v1/auth/login", b"", 405),
    ):
        answer = api.request(method, path, content=body, headers=raw)
        assert answer.status_code == status and set(answer.json()) == {"error", "detail"}, answer.text
    schema = api.get("/openapi.json").json()
    documented = schema["paths"]["/v1/conversations/{conversation_id}/messages"]["post"]["responses"]["422"]
    assert documented["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_an_emoji_cut_in_half_is_kept_as_a_replacement_character(api: TestClient) -> None:
    """`JSON.stringify` of a string sliced through an emoji sends a lone surrogate: the message is stored and
    answered, the half emoji shown as U+FFFD, instead of a 500 and a lost message."""
    me = guest(api)
    cid = conversation(api, me)
    body = '{"text": "where is my order \\ud83d please"}'
    answer = api.post(
        f"/v1/conversations/{cid}/messages", content=body, headers=me | {"Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"]["content"] == "where is my order \ufffd please"
    shown = api.get(f"/v1/conversations/{cid}", headers=me).json()["messages"]
    assert [m["role"] for m in shown] == ["customer", "assistant"]


def test_handoff_over_the_api_agent_claims_replies_and_resolves(api: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    me = guest(api)
    cid = conversation(api, me)
    turn = api.post(
        f"/v1/conversations/{cid}/messages",
        headers=me,
        json={"text": "I want to talk to a real person please"},
    ).json()
    assert turn["outcome"] == "handoff"
    waiting = api.get(f"/v1/conversations/{cid}", headers=me).json()["handoff"]
    assert waiting["state"] == "waiting"
    agent = login(api, settings, Role.AGENT)
    tickets = [t for t in api.get("/v1/queue", headers=agent).json() if t["conversation_id"] == cid]
    assert len(tickets) == 1 and tickets[0]["reason"] == "explicit_request"
    tid = tickets[0]["id"]
    assert api.post(f"/v1/tickets/{tid}/claim", headers=agent).status_code == 200
    other_agent = login(api, settings, Role.AGENT)
    assert api.post(f"/v1/tickets/{tid}/claim", headers=other_agent).status_code == 409
    detail = api.get(f"/v1/tickets/{tid}", headers=agent).json()
    assert detail["packet"]["reason"] == "explicit_request"
    keyed = {**agent, "Idempotency-Key": "reply-1"}
    said = api.post(f"/v1/tickets/{tid}/replies", headers=keyed, json={"text": "Hi, I'm here to help."})
    assert said.status_code == 201
    retried = api.post(f"/v1/tickets/{tid}/replies", headers=keyed, json={"text": "Hi, I'm here to help."})
    assert retried.status_code == 201 and retried.json()["id"] == said.json()["id"]
    other = api.post(f"/v1/tickets/{tid}/replies", headers=keyed, json={"text": "Something else"})
    assert other.status_code == 409 and other.json()["error"] == "key_reused"
    held = api.post(f"/v1/conversations/{cid}/messages", headers=me, json={"text": "thanks!"}).json()
    assert held["held"] is True and held["reply"] is None
    shown = api.get(f"/v1/conversations/{cid}", headers=me).json()
    assert "Hi, I'm here to help." in [m["content"] for m in shown["messages"]]
    assert shown["handoff"]["state"] == "assigned"
    # Passing it on: only its agent or an admin; a released ticket waits for the next person.
    _, admin = signed_in(api, settings, Role.ADMIN)
    kim, kims = signed_in(api, settings, Role.AGENT)
    assert api.post(f"/v1/tickets/{tid}/release", headers=other_agent, json={}).status_code == 409
    assert api.post(f"/v1/tickets/{tid}/release", headers=me, json={}).status_code == 403
    moved = api.post(f"/v1/tickets/{tid}/reassign", headers=admin, json={"to": kim.username})
    assert moved.status_code == 200
    assert api.post(f"/v1/tickets/{tid}/release", headers=kims, json={"note": "off shift"}).status_code == 200
    assert api.get(f"/v1/conversations/{cid}", headers=me).json()["handoff"]["state"] == "waiting"
    assert api.post(f"/v1/tickets/{tid}/claim", headers=agent).status_code == 200
    done = api.post(f"/v1/tickets/{tid}/resolve", headers=agent, json={"outcome": "solved"})
    assert done.status_code == 200
    assert (
        api.post(f"/v1/tickets/{tid}/resolve", headers=agent, json={"outcome": "solved"}).status_code == 409
    )
    assert api.get("/v1/tickets/999999", headers=agent).status_code == 404


def test_contact_keys_are_per_conversation_and_cannot_take_a_handoff_s_key(api: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    """A client's idempotency key names its own request only: two customers' clients sending the same key
    each get their ticket, and a key shaped like the bot's own (`handoff:<message id>`) cannot pre-empt a
    handoff."""
    from sqlalchemy import select

    from core.db import session_scope
    from handoff.models import Ticket

    alice, bob = guest(api), guest(api)
    a_cid, b_cid = conversation(api, alice), conversation(api, bob)
    for who, cid, contact in ((alice, a_cid, "alice@example.com"), (bob, b_cid, "bob@example.com")):
        body = {"contact": contact, "idempotency_key": "contact-1"}
        assert api.post(f"/v1/conversations/{cid}/contact", headers=who, json=body).status_code == 201
    again = {"contact": "alice@example.com", "idempotency_key": "contact-1"}  # a retry: the same ticket
    assert api.post(f"/v1/conversations/{a_cid}/contact", headers=alice, json=again).status_code == 201
    with session_scope(settings.database_url) as s:
        held = s.scalars(select(Ticket).where(Ticket.conversation_id.in_([a_cid, b_cid]))).all()
        assert sorted(t.contact or "" for t in held) == ["alice@example.com", "bob@example.com"]
    victim = guest(api)
    v_cid = conversation(api, victim)
    hi = api.post(f"/v1/conversations/{v_cid}/messages", headers=victim, json={"text": "hello"}).json()
    next_id = hi["reply"]["id"] + 1  # the victim's next message, as an attacker would guess it
    for guess in range(next_id, next_id + 3):
        body = {"contact": "mallory@example.com", "idempotency_key": f"handoff:{guess}"}
        assert api.post(f"/v1/conversations/{a_cid}/contact", headers=alice, json=body).status_code == 201
    turn = api.post(
        f"/v1/conversations/{v_cid}/messages",
        headers=victim,
        json={"text": "I want to talk to a real person"},
    ).json()
    assert turn["outcome"] == "handoff" and turn["message"]["id"] in range(next_id, next_id + 3)
    waiting = api.get(f"/v1/conversations/{v_cid}", headers=victim).json()["handoff"]
    assert waiting is not None and waiting["state"] == "waiting"


def test_kb_search_and_an_editor_publishes_a_draft(api: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    me = guest(api)
    found = api.get("/v1/kb/search", headers=me, params={"q": "how long do refunds take"}).json()
    assert found["passages"] and found["passages"][0]["article"]
    editor = login(api, settings, Role.EDITOR)
    draft = api.post(
        "/v1/kb/drafts",
        headers=editor,
        json={
            "title": "Gift wrapping",
            "body": "# Gift wrapping\n\n## Cost\n\nGift wrapping costs 4 euros a parcel at checkout.",
            "category": "orders",
        },
    )
    assert draft.status_code == 201, draft.text
    version = draft.json()
    assert api.post(f"/v1/kb/versions/{version['id']}/publish", headers=me, json={}).status_code == 403
    published = api.post(f"/v1/kb/versions/{version['id']}/publish", headers=editor, json={"note": "new"})
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    hits = api.get("/v1/kb/search", headers=me, params={"q": "how much is gift wrapping"}).json()
    assert hits["passages"][0]["article"] == version["slug"]
    history = api.get(f"/v1/kb/articles/{version['slug']}/versions", headers=editor).json()
    assert [v["status"] for v in history][:1] == ["published"]


def test_a_publish_is_checked_only_for_a_draft_and_one_check_at_a_time(
    api: TestClient, settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Each publish's eval check is a subprocess of up to minutes: not run for a version that cannot be
    published, and not twice at once in one process."""
    from app.api import kb

    checks: list[int] = []

    def check(settings: Any, version_id: int) -> dict[str, Any]:
        checks.append(version_id)
        return {"passed": True}

    monkeypatch.setattr(kb, "kb_eval_check", check)
    editor = login(api, settings, Role.EDITOR)
    body = {
        "title": "Gift boxes",
        "body": "# Gift boxes\n\n## Cost\n\nA gift box costs 6 euros.",
        "category": "x",
    }
    version = api.post("/v1/kb/drafts", headers=editor, json=body).json()
    url = f"/v1/kb/versions/{version['id']}/publish"
    assert kb._CHECKING.acquire(blocking=False)  # another editor's check is running
    try:
        busy = api.post(url, headers=editor, json={})
    finally:
        kb._CHECKING.release()
    assert busy.status_code == 429 and busy.json()["error"] == "busy" and checks == []
    assert api.post(url, headers=editor, json={}).json()["status"] == "published" and checks == [
        version["id"]
    ]
    again = api.post(url, headers=editor, json={})
    assert again.status_code == 409 and "only a draft" in again.json()["detail"]
    assert checks == [version["id"]]  # no second check for a version already published


def test_kb_errors_say_which_kind(api: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    editor = login(api, settings, Role.EDITOR)
    missing = api.get("/v1/kb/articles/no-such-article/versions", headers=editor)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert api.post("/v1/kb/versions/999999/publish", headers=editor, json={}).status_code == 404
    empty = api.post("/v1/kb/drafts", headers=editor, json={"title": "  ", "body": "Some text."})
    assert empty.status_code == 422 and "title" in empty.json()["detail"]
    [served] = [a for a in api.get("/v1/kb/articles", headers=editor).json() if a["published_version"]][:1]
    slug, current = served["slug"], served["published_version"]
    assert (
        api.post(f"/v1/kb/articles/{slug}/rollback", headers=editor, json={"to_version": 999}).status_code
        == 404
    )
    again = api.post(f"/v1/kb/articles/{slug}/rollback", headers=editor, json={"to_version": current})
    assert again.status_code == 409 and again.json()["error"] == "conflict"  # well formed, but already served


def test_health_ready_and_metrics(api: TestClient) -> None:
    me = guest(api)
    cid = conversation(api, me)
    api.post(f"/v1/conversations/{cid}/messages", headers=me, json={"text": "Do you ship to Canada?"})
    health = api.get("/health").json()
    assert health["mode"] == "minimal" and health["status"] == "degraded"
    assert {b["name"] for b in health["breakers"]} >= {"database", "vector_index", "embeddings"}
    assert api.get("/ready").json()["ready"] is True
    text = api.get("/metrics").text
    assert 'support_turns_total{mode="minimal"' in text
    assert (
        'support_http_requests_total{method="POST",route="/v1/conversations/{conversation_id}/messages"'
        in text
    )
    assert 'support_mode{mode="minimal"} 1.0' in text
    assert 'support_breaker_state{dependency="database"} 0.0' in text


def test_with_an_operators_token_health_and_metrics_need_it_and_ready_stays_open(settings) -> None:  # type: ignore[no-untyped-def]
    guarded = settings.model_copy(update={"api_ops_token": "ops-" + "x" * 40})

    def no_service() -> ChatService:
        raise RuntimeError("not needed here")

    with TestClient(create_app(guarded, build_service=no_service)) as client:
        for path in ("/health", "/metrics"):
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                guest(client),
                {"Authorization": "ops-" + "x" * 40},
            ):
                refused = client.get(path, headers=headers)
                assert refused.status_code == 401 and refused.json()["error"] == "unauthenticated", (
                    path,
                    headers,
                )
                assert refused.headers["WWW-Authenticate"] == "Bearer"
            assert client.get(path, headers={"Authorization": "Bearer ops-" + "x" * 40}).status_code == 200
        assert client.get("/ready").status_code == 503  # open, and says the service is not built


def test_ready_is_503_until_the_service_is_built(settings) -> None:  # type: ignore[no-untyped-def]
    import threading

    release = threading.Event()

    def slow_build() -> ChatService:
        release.wait(10)
        raise RuntimeError("no service in this test")

    with TestClient(create_app(settings, build_service=slow_build)) as client:
        assert client.get("/ready").status_code == 503
        assert client.get("/health").json()["status"] == "starting"
        me = guest(client)
        busy = client.post("/v1/conversations", headers=me)
        assert busy.status_code == 503 and busy.headers["Retry-After"]
        release.set()


def test_prod_refuses_to_start_without_a_real_api_secret(settings) -> None:  # type: ignore[no-untyped-def]
    prod = settings.model_copy(update={"env": "prod", "api_secret": ""})
    with pytest.raises(ValueError, match="API_SECRET"):
        create_app(prod, build_service=lambda: None)  # type: ignore[arg-type,return-value]
