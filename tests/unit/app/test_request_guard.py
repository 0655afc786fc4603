"""The body limit holds however the request frames its body (RequestGuard, driven as ASGI)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.api.metrics import Metrics, RequestGuard

LIMIT = 1000


def run(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, int]:
    """(status answered, bytes the app read) for a POST whose body arrives in `chunks`."""
    read = {"bytes": 0}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            read["bytes"] += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/x", "headers": headers}
    guard = RequestGuard(app, metrics=Metrics(), max_body=LIMIT)
    # On a thread of its own: an earlier test (the browser's sync API) may leave this thread's loop running.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, guard(scope, receive, send)).result()
    return sent[0]["status"], read["bytes"]


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    assert run([(b"content-length", b"5000")], [b"x" * 5000]) == (413, 0)


def test_a_chunked_body_is_counted_as_it_is_read() -> None:
    assert run([(b"transfer-encoding", b"chunked")], [b"x" * 600, b"x" * 600]) == (413, 0)
    assert run([(b"transfer-encoding", b"chunked")], [b"x" * 400, b"x" * 400]) == (200, 800)


def test_a_small_length_beside_transfer_encoding_does_not_let_a_large_chunked_body_through() -> None:
    """h11 reads such a body as chunked, whatever Content-Length says: the guard counts it."""
    headers = [(b"content-length", b"3"), (b"transfer-encoding", b"chunked")]
    assert run(headers, [b"x" * 800, b"x" * 800, b"x" * 800]) == (413, 0)
