"""Server-Sent Events as the API sends them (`event: kind` then `data: json`), read back for assertions."""

from __future__ import annotations

import json
from typing import Any


def events(raw: str) -> list[tuple[str, Any]]:
    """(kind, decoded data) for each event of a whole response body."""
    out = []
    for block in raw.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out
