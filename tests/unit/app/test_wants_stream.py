"""A turn is streamed as Server-Sent Events only when the client's Accept header prefers them."""

from __future__ import annotations

import pytest

from app.api.customers import wants_stream


@pytest.mark.parametrize(
    ("accept", "stream"),
    [
        ("text/event-stream", True),
        ("Text/Event-Stream; charset=utf-8", True),
        ("application/json, text/event-stream", True),
        ("text/event-stream;q=0.9, application/json", False),
        ("text/event-stream;q=0", False),
        ("text/event-stream;q=nonsense", False),
        ("application/json", False),
        ("*/*", False),
        ("", False),
    ],
)
def test_the_accept_header_decides(accept: str, stream: bool) -> None:
    assert wants_stream(accept) is stream
