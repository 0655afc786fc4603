"""What the page tests share: a service on its own database with named accounts, serving it to the pages,
opening a page, and its login form."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import agent.runtime
from core import users
from core.config import Settings
from core.db import session_scope
from core.migrate import upgrade

UI = Path(__file__).resolve().parents[2] / "app" / "ui"
PASSWORD = "a-long-test-pass"


def own_database(
    settings: Settings, folder: Path, accounts: Iterable[tuple[str, str]], **updates: Any
) -> Settings:
    """Settings over a migrated SQLite database in `folder`, with (username, role) accounts whose display
    name is the username titled and whose password is PASSWORD."""
    config = settings.model_copy(
        update={"data_dir": folder, "database_url": f"sqlite:///{folder / 'support.db'}", **updates}
    )
    upgrade(config.database_url)
    with session_scope(config.database_url) as s:
        for name, role in accounts:
            users.create_user(
                s, username=name, display_name=name.title(), role=role, password=PASSWORD, settings=config
            )
    return config


@contextmanager
def serving(monkeypatch: pytest.MonkeyPatch, service: Any) -> Iterator[Any]:
    """The pages get `service` (what `agent.runtime.get_service` returns), with no cached copy around."""
    monkeypatch.setattr(agent.runtime, "_service", service)
    st.cache_resource.clear()
    try:
        yield service
    finally:
        st.cache_resource.clear()


def open_page(script: str) -> AppTest:
    at = AppTest.from_file(str(UI / script), default_timeout=120)
    at.run()
    assert not at.exception
    return at


def log_in(at: AppTest, username: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="login_username").set_value(username)
    at.text_input(key="login_password").set_value(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at
