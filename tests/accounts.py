"""Accounts for tests: a new user of a role, logged in (what a page holds after its login form)."""

from __future__ import annotations

import uuid

from core.config import Settings
from core.db import session_scope
from core.users import AuthenticatedUser, Role, create_user

PASSWORD = "a-long-password-1"


def account(url: str, role: Role, *, username: str | None = None) -> AuthenticatedUser:
    with session_scope(url) as s:
        view = create_user(
            s,
            username=username or f"{role.value[:2]}{uuid.uuid4().hex[:8]}",
            display_name=role.value.title(),
            role=role,
            password=PASSWORD,
            settings=Settings(),
        )
    return AuthenticatedUser(view.id, view.username, view.display_name, role)
