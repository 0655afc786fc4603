"""Fixtures of the integration tests that start real servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evals.topology.postgres import postgres_available, throwaway_postgres
from tests.ci import unavailable


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server for the module (skipped locally without one; required in CI)."""
    if not postgres_available():
        unavailable(
            "no usable PostgreSQL server (initdb under /usr/lib/postgresql/*/bin,"
            " and a `postgres` user when root); `make test` installs it",
            what="PostgreSQL tests",
        )
    with throwaway_postgres() as url:
        yield url
