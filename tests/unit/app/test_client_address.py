"""The per-address limits count an IPv6 client by its /64: it can choose any address inside it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from app.api.deps import client_address


def request(host: str | None) -> Any:
    return SimpleNamespace(client=SimpleNamespace(host=host) if host is not None else None)


@pytest.mark.parametrize(
    ("host", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:1:2:3", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "unknown"),  # a name a proxy forwarded, not an address: one client however it varies
        ("x-6f1c9b2e", "unknown"),
        ("203.0.113.7:8080", "203.0.113.7"),  # a proxy that forwards the client's port too
        ("[2001:db8:1:2::1]:443", "2001:db8:1:2::/64"),
    ],
)
def test_an_address_is_counted_by_what_its_client_controls(host: str, counted_as: str) -> None:
    assert client_address(request(host)) == counted_as


def test_no_client_is_one_unknown_address() -> None:
    assert client_address(request(None)) == "unknown"
