"""User accounts: roles, scrypt password hashes, login, and the dev-only demo accounts.

Keyword-only functions over a session. The command line is `python -m core.users` (core/users_cli.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import utcnow
from core.models import User

__all__ = [
    "DEMO_USERS",
    "MIN_PASSWORD_LENGTH",
    "ROLE_GRANTS",
    "STAFF_ROLES",
    "AuthenticatedUser",
    "DefaultCredentialsRefused",
    "DemoUser",
    "InvalidUser",
    "LoginEnded",
    "PermissionDenied",
    "Role",
    "UnknownUser",
    "UserError",
    "UserExists",
    "UserView",
    "WeakPassword",
    "authenticate",
    "check_no_default_credentials",
    "check_password_policy",
    "create_user",
    "deactivate",
    "end_sessions",
    "get_user",
    "hash_password",
    "list_users",
    "normalize_username",
    "parse_role",
    "require_current",
    "require_role",
    "seed_demo_users",
    "set_password",
    "still_current",
    "verify_password",
]

logger = logging.getLogger(__name__)


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    EDITOR = "editor"
    ADMIN = "admin"


ROLE_GRANTS: dict[Role, frozenset[Role]] = {
    Role.CUSTOMER: frozenset({Role.CUSTOMER}),
    Role.AGENT: frozenset({Role.AGENT}),
    Role.EDITOR: frozenset({Role.EDITOR}),
    Role.ADMIN: frozenset({Role.ADMIN, Role.AGENT, Role.EDITOR}),
}
"""The roles each role satisfies in `require_role`: an admin can do whatever an agent or editor can."""

STAFF_ROLES: frozenset[Role] = frozenset({Role.AGENT, Role.EDITOR, Role.ADMIN})


# Errors ------------------------------------------------------------------------------------------------


class UserError(Exception):
    """An account operation refused for a reason the person can fix; str() is the message to show."""


class InvalidUser(UserError, ValueError):
    """A malformed username, display name or role."""


class UserExists(UserError):
    """The username is taken."""


class UnknownUser(UserError, LookupError):
    """No account with this username."""


class WeakPassword(UserError, ValueError):
    """The password fails the policy; the message says what to change."""


class PermissionDenied(UserError):
    """Not logged in, or the account's role does not allow this."""


class LoginEnded(PermissionDenied):
    """The login no longer stands (`still_current`): the account was deactivated or renamed, its password
    changed or its sessions ended. The page or client should forget it and ask for a login again."""


class DefaultCredentialsRefused(UserError):
    """Demo accounts or demo passwords where the environment forbids them (production)."""


# Views -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthenticatedUser:
    """Who is logged in: what pages and role checks need, never the hash."""

    id: int
    username: str
    display_name: str
    role: Role
    credentials_version: int = 0
    """The account's `credentials_version` when this login was made (see `still_current`)."""


@dataclass(frozen=True)
class UserView:
    """An account as listings show it (no hash)."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None


def _view(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        active=user.active,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


# Password hashing --------------------------------------------------------------------------------------

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_SCRYPT_N = 2**20
"""Stored parameters above this are treated as malformed rather than allowed to exhaust memory."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """A salted scrypt hash as `scrypt$n$r$p$salt_b64$hash_b64` (standard library only)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_KEY_BYTES
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; any malformed or unsupported hash is simply False."""
    try:
        scheme, n_s, r_s, p_s, salt_s, key_s = stored.split("$")
        if scheme != "scrypt":
            return False
        n, r, p = int(n_s), int(r_s), int(p_s)
        if not (1 < n <= _MAX_SCRYPT_N and 0 < r <= 32 and 0 < p <= 16):
            return False
        salt = base64.b64decode(salt_s, validate=True)
        expected = base64.b64decode(key_s, validate=True)
        if not salt or not expected:
            return False
        key = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=2**26
        )
    except (ValueError, TypeError, AttributeError, binascii.Error):
        return False
    return hmac.compare_digest(key, expected)


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so a miss costs as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


# Policy ------------------------------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"[a-z0-9._-]{3,64}")


class DemoUser(NamedTuple):
    username: str
    display_name: str
    role: Role
    password: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("alex", "Alex", Role.AGENT, "alex-demo-pass"),
    DemoUser("sam", "Sam", Role.AGENT, "sam-demo-pass"),
    DemoUser("erin", "Erin", Role.EDITOR, "erin-demo-pass"),
    DemoUser("admin", "Admin", Role.ADMIN, "admin-demo-pass"),
)
"""Development logins, printed by `make run`; refused in production."""

_KNOWN_DEFAULT_PASSWORDS = frozenset(
    {u.password for u in DEMO_USERS}
    | {
        "password123",
        "password1234",
        "passw0rd123",
        "changeme123",
        "administrator",
        "admin12345",
        "admin123456",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "letmein123",
        "welcome123",
        "iloveyou123",
        "support123",
        "default123",
    }
)


def check_password_policy(password: str, *, username: str, settings: Settings) -> None:
    """Raise WeakPassword unless `password` is acceptable for `username` in this environment."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"password too short: use at least {MIN_PASSWORD_LENGTH} characters "
            f"(this one has {len(password)})"
        )
    if settings.env != "prod":
        return
    if password.lower() in _KNOWN_DEFAULT_PASSWORDS:
        raise WeakPassword("that password is a known demo or default password; choose one of your own")
    if password.strip().lower() == username.strip().lower():
        raise WeakPassword("the password must not be the same as the username")


def normalize_username(username: str) -> str:
    """Lowercased; raises InvalidUser unless it is 3-64 characters of a-z, 0-9, '.', '_' and '-'."""
    name = username.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise InvalidUser(f"invalid username {username!r}: use 3-64 characters of a-z, 0-9, '.', '_' and '-'")
    return name


def parse_role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidUser(f"unknown role {role!r}: choose one of {choices}") from None


# Accounts ----------------------------------------------------------------------------------------------


def _find(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).one_or_none()


def _get(session: Session, username: str) -> User:
    user = _find(session, normalize_username(username))
    if user is None:
        raise UnknownUser(f"no user named {username.strip().lower()!r}")
    return user


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: Role | str,
    password: str,
    settings: Settings,
) -> UserView:
    """A new active account; raises InvalidUser, WeakPassword or UserExists with a message to show."""
    name = normalize_username(username)
    shown = display_name.strip()
    if not shown or len(shown) > 100:
        raise InvalidUser("display name must be 1-100 characters")
    role = parse_role(role)
    check_password_policy(password, username=name, settings=settings)
    if _find(session, name) is not None:
        raise UserExists(f"user {name!r} already exists")
    user = User(
        username=name, display_name=shown, role=role.value, password_hash=hash_password(password), active=True
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # created concurrently between the check and the insert
        raise UserExists(f"user {name!r} already exists") from None
    logger.info("user created id=%s role=%s", user.id, user.role)
    return _view(user)


def get_user(session: Session, *, username: str) -> UserView:
    """The account, or UnknownUser."""
    return _view(_get(session, username))


def list_users(session: Session) -> list[UserView]:
    return [_view(u) for u in session.scalars(select(User).order_by(User.username))]


def authenticate(session: Session, *, username: str, password: str) -> AuthenticatedUser | None:
    """The user when the password matches an active account, else None (one scrypt either way)."""
    try:
        user = _find(session, normalize_username(username))
    except InvalidUser:
        user = None
    if user is None:
        verify_password(password, _dummy_hash())
        logger.info("login failed: unknown user")
        return None
    if not verify_password(password, user.password_hash):
        logger.info("login failed user_id=%s: wrong password", user.id)
        return None
    if not user.active:
        logger.info("login refused user_id=%s: inactive", user.id)
        return None
    user.last_login_at = utcnow()
    session.flush()
    logger.info("login user_id=%s", user.id)
    return _logged_in(user)


def _logged_in(user: User) -> AuthenticatedUser:
    return AuthenticatedUser(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        credentials_version=user.credentials_version or 0,
    )


def _end_logins(user: User) -> None:
    """Every login made so far (UI sessions, API tokens still within their lifetime) stops counting."""
    user.credentials_version = (user.credentials_version or 0) + 1


def set_password(session: Session, *, username: str, password: str, settings: Settings) -> None:
    """Replace the account's password, subject to the policy; logins made with the old one end."""
    user = _get(session, username)
    check_password_policy(password, username=user.username, settings=settings)
    user.password_hash = hash_password(password)
    _end_logins(user)
    session.flush()
    logger.info("password changed user_id=%s", user.id)


def end_sessions(session: Session, *, username: str) -> None:
    """Log the account out everywhere (a lost laptop, a leaked token); its password stays."""
    user = _get(session, username)
    _end_logins(user)
    session.flush()
    logger.info("sessions ended user_id=%s", user.id)


def deactivate(session: Session, *, username: str) -> None:
    """The account can no longer log in; its history stays. Its logins end too, so reactivating it
    later does not bring back a token issued before."""
    user = _get(session, username)
    user.active = False
    _end_logins(user)
    session.flush()
    logger.info("user deactivated id=%s", user.id)


def require_role(user: AuthenticatedUser | None, *roles: Role | str) -> AuthenticatedUser:
    """The user, if logged in with one of `roles` (none given: any login); else PermissionDenied."""
    if user is None:
        raise PermissionDenied("please log in to continue")
    wanted = {parse_role(r) for r in roles}
    if wanted and not wanted & ROLE_GRANTS[user.role]:
        needed = " or ".join(sorted(wanted))
        raise PermissionDenied(f"this needs the {needed} role; you are logged in as {user.role}")
    return user


def require_current(
    session: Session, user: AuthenticatedUser | None, *roles: Role | str
) -> AuthenticatedUser:
    """`require_role` against the account as the database has it now, not as it was at login: a
    deactivated, renamed or demoted account loses access at its next action."""
    me = require_role(user, *roles)
    row = session.get(User, me.id)
    if row is None or not still_current(row, me):
        raise LoginEnded("your account is no longer active; log in again")
    return require_role(_logged_in(row), *roles)


def still_current(row: User, login: AuthenticatedUser) -> bool:
    """Whether a login still stands for the account `row` (the database's row of `login.id`): the account
    is active, has the same name, and its password has not changed nor its sessions been ended since the
    login was made."""
    return (
        row.active
        and row.username == login.username
        and (row.credentials_version or 0) == login.credentials_version
    )


# Demo accounts -----------------------------------------------------------------------------------------


def seed_demo_users(session: Session, settings: Settings) -> list[tuple[str, str, Role]]:
    """Create the missing demo accounts (dev and test only) and return the (username, password, role)
    that log in; accounts whose password was changed or that were deactivated are left alone and omitted."""
    if settings.env == "prod":
        raise DefaultCredentialsRefused(
            "demo accounts are refused in production (ENV=prod); create real accounts with "
            "`python -m core.users create`"
        )
    usable: list[tuple[str, str, Role]] = []
    for demo in DEMO_USERS:
        user = _find(session, demo.username)
        if user is None:
            create_user(
                session,
                username=demo.username,
                display_name=demo.display_name,
                role=demo.role,
                password=demo.password,
                settings=settings,
            )
        elif not (
            user.active and user.role == demo.role and verify_password(demo.password, user.password_hash)
        ):
            continue
        usable.append((demo.username, demo.password, demo.role))
    return usable


def check_no_default_credentials(session: Session, settings: Settings) -> None:
    """In production, raise DefaultCredentialsRefused if an active account still logs in with a demo password.

    Demo passwords only arrive with a database that was seeded in development, so the staff accounts and
    the demo usernames are checked: one scrypt per account and password, not per customer."""
    if settings.env != "prod":
        return
    demo_names = {d.username for d in DEMO_USERS}
    staff = {r.value for r in STAFF_ROLES}
    found: list[str] = []
    for user in session.scalars(select(User).where(User.active.is_(True)).order_by(User.username)):
        if user.role not in staff and user.username not in demo_names:
            continue
        if any(verify_password(d.password, user.password_hash) for d in DEMO_USERS):
            found.append(user.username)
    if found:
        raise DefaultCredentialsRefused(
            f"refusing to start in production: {', '.join(found)} still use a demo password; change it with "
            "`python -m core.users set-password --username NAME` or deactivate the account"
        )


if __name__ == "__main__":
    import sys

    from core.users_cli import main

    sys.exit(main())
