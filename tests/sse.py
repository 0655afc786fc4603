"""Server-Sent Events as the API sends them (`event: kind` then `data: json`), read back for assertions."""

from __future__ import annotations

import json
from typing import Any

import httpx


def events(raw: str) -> list[tuple[str, Any]]:
    """(kind, decoded data) for each event of a whole response body; comments (`: keep-alive`) skipped."""
    out = []
    for block in raw.strip().split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if lines:
            fields = dict(line.split(": ", 1) for line in lines)
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def post(
    client: httpx.Client, url: str, headers: dict[str, str], text: str
) -> tuple[httpx.Response, list[tuple[str, Any]]]:
    """Send one message asking for an event stream; the response (read whole) and its events."""
    with client.stream(
        "POST", url, headers={**headers, "Accept": "text/event-stream"}, json={"text": text}
    ) as answer:
        body = answer.read().decode()
    return answer, events(body) if answer.status_code == 200 else []
