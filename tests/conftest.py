"""Test-wide isolation: every run gets its own data directory; nothing touches the developer's var/."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_DATA_DIR = Path(tempfile.mkdtemp(prefix="support-tests-"))
os.environ["DATA_DIR"] = str(_DATA_DIR)
os.environ["ENV"] = "test"
os.environ["LANGFUSE_TRACING_ENABLED"] = "false"
for key in ("DATABASE_URL", "CHECKPOINT_URL", "CHROMA_URL", "LLM_MODELS"):
    os.environ.pop(key, None)

from core.config import Settings  # noqa: E402  (after the environment is set)

# A developer's .env must not leak into tests (it could point at a real database).
Settings.model_config["env_file"] = None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    runtime = sys.modules.get("agent.runtime")
    if runtime is not None:  # the service's sweeps would otherwise find the database below gone
        runtime.stop_background()
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def settings():  # type: ignore[no-untyped-def]
    from core.config import get_settings

    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
def demo_service(settings) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """The app's own service over the seeded demo help center (real model, Chroma, SQLite, checkpointer)."""
    from agent.runtime import get_service
    from core.db import session_scope
    from core.migrate import upgrade
    from core.policy import load_policy
    from knowledge.store import import_markdown

    upgrade(settings.database_url)
    with session_scope(settings.database_url) as session:
        report = import_markdown(
            session, settings.kb_content_dir.glob("*.md"), public_contacts=load_policy().brand.contacts
        )
    assert not report.errors, report.errors
    assert not report.quarantined, report.quarantined
    yield get_service()
