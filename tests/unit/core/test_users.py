"""Accounts: scrypt hashes, the password policy, roles, login, and demo accounts that never reach prod."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import users
from core.config import Settings
from core.db import session_scope
from core.migrate import upgrade
from core.models import User
from core.users import (
    AuthenticatedUser,
    DefaultCredentialsRefused,
    InvalidUser,
    PermissionDenied,
    Role,
    UnknownUser,
    UserExists,
    WeakPassword,
    authenticate,
    check_no_default_credentials,
    check_password_policy,
    create_user,
    deactivate,
    hash_password,
    require_role,
    seed_demo_users,
    set_password,
    verify_password,
)

DEV = Settings(env="dev")
TEST = Settings(env="test")
PROD = Settings(env="prod")


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    upgrade(url)
    return url


def add(
    url: str, username: str = "joe", *, role: Role = Role.AGENT, password: str = "correct-horse-1"
) -> None:
    with session_scope(url) as session:
        create_user(
            session,
            username=username,
            display_name=username.title(),
            role=role,
            password=password,
            settings=TEST,
        )


def login(url: str, username: str, password: str) -> AuthenticatedUser | None:
    with session_scope(url) as session:
        return authenticate(session, username=username, password=password)


def user_row(url: str, username: str) -> User:
    with session_scope(url) as session:
        return session.scalars(select(User).where(User.username == username)).one()


# Hashing -----------------------------------------------------------------------------------------------


def test_hash_verifies_its_password_and_no_other():
    stored = hash_password("correct-horse-1")

    assert verify_password("correct-horse-1", stored)
    assert not verify_password("correct-horse-2", stored)
    assert not verify_password("", stored)


def test_hash_is_scrypt_with_its_parameters_and_a_fresh_salt_each_time():
    first, second = hash_password("same password"), hash_password("same password")

    scheme, n, r, p, salt, _key = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert salt != second.split("$")[4]
    assert first != second
    assert verify_password("same password", first) and verify_password("same password", second)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "scrypt$16384$8$1$AAAA",
        "bcrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$abc$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$16384$8$1$not*base64$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$",
        "scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # n not 2**k
        "scrypt$1099511627776$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$16384$0$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ],
)
def test_malformed_hash_verifies_false_without_raising(stored):
    assert verify_password("anything-at-all", stored) is False


def test_tampered_hash_verifies_false():
    stored = hash_password("correct-horse-1")
    head, key = stored.rsplit("$", 1)
    tampered = f"{head}${'A' if key[0] != 'A' else 'B'}{key[1:]}"

    assert not verify_password("correct-horse-1", tampered)


# Policy ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [DEV, TEST, PROD], ids=["dev", "test", "prod"])
def test_password_shorter_than_ten_characters_is_refused_everywhere_with_the_rule(settings):
    with pytest.raises(WeakPassword, match="at least 10 characters"):
        check_password_policy("nine-char", username="joe", settings=settings)


def test_dev_accepts_a_demo_password_that_prod_refuses():
    check_password_policy("alex-demo-pass", username="joe", settings=DEV)

    with pytest.raises(WeakPassword, match="demo or default"):
        check_password_policy("alex-demo-pass", username="joe", settings=PROD)
    with pytest.raises(WeakPassword, match="demo or default"):
        check_password_policy("Password123", username="joe", settings=PROD)


def test_prod_refuses_the_username_as_password():
    with pytest.raises(WeakPassword, match="username"):
        check_password_policy("Jo.Smith.1", username="jo.smith.1", settings=PROD)
    check_password_policy("a-real-long-secret", username="jo.smith.1", settings=PROD)


# Accounts ----------------------------------------------------------------------------------------------


def test_username_is_lowercased_and_a_second_one_differing_in_case_is_a_duplicate(db):
    add(db, "Jo.Smith")

    assert user_row(db, "jo.smith").display_name == "Jo.Smith"
    with pytest.raises(UserExists, match="already exists"):
        add(db, "JO.SMITH")


@pytest.mark.parametrize("username", ["jo", "x" * 65, "jo smith", "jo@example.com", "jö-smith"])
def test_malformed_usernames_are_refused(db, username):
    with pytest.raises(InvalidUser, match="3-64 characters"):
        add(db, username)


def test_unknown_role_is_refused_naming_the_roles(db):
    with pytest.raises(InvalidUser, match="customer, agent, editor, admin"):
        add(db, "joe", role="boss")  # type: ignore[arg-type]


def test_weak_password_creates_nothing(db):
    with pytest.raises(WeakPassword):
        add(db, "joe", password="short")
    with session_scope(db) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_password_is_stored_only_as_a_hash(db):
    add(db, "joe", password="correct-horse-1")

    stored = user_row(db, "joe").password_hash
    assert stored.startswith("scrypt$") and "correct-horse-1" not in stored


# Login -------------------------------------------------------------------------------------------------


def test_login_returns_who_and_what_role_without_the_hash_and_records_the_time(db):
    add(db, "joe", role=Role.EDITOR)
    assert user_row(db, "joe").last_login_at is None

    who = login(db, "Joe", "correct-horse-1")

    assert who == AuthenticatedUser(id=who.id, username="joe", display_name="Joe", role=Role.EDITOR)
    assert not hasattr(who, "password_hash")
    assert user_row(db, "joe").last_login_at is not None


def test_wrong_password_does_not_log_in(db):
    add(db, "joe")

    assert login(db, "joe", "correct-horse-2") is None
    assert user_row(db, "joe").last_login_at is None


@pytest.mark.parametrize("username", ["nobody", "x", "not a valid name"])
def test_unknown_user_does_not_log_in_but_still_costs_one_hash_check(db, monkeypatch, username):
    checks: list[str] = []
    real = users.verify_password

    def counting(password: str, stored: str) -> bool:
        checks.append(stored)
        return real(password, stored)

    monkeypatch.setattr(users, "verify_password", counting)

    assert login(db, username, "correct-horse-1") is None
    assert len(checks) == 1 and checks[0].startswith("scrypt$")


def test_deactivated_user_cannot_log_in(db):
    add(db, "joe")
    with session_scope(db) as session:
        deactivate(session, username="joe")

    assert login(db, "joe", "correct-horse-1") is None
    assert user_row(db, "joe").active is False


def test_set_password_replaces_the_old_one_and_follows_the_policy(db):
    add(db, "joe")
    with session_scope(db) as session, pytest.raises(WeakPassword):
        set_password(session, username="joe", password="short", settings=TEST)
    with session_scope(db) as session:
        set_password(session, username="joe", password="new-long-secret", settings=TEST)

    assert login(db, "joe", "correct-horse-1") is None
    assert login(db, "joe", "new-long-secret") is not None


def test_changing_an_unknown_user_says_so(db):
    with session_scope(db) as session, pytest.raises(UnknownUser, match="nobody"):
        set_password(session, username="nobody", password="new-long-secret", settings=TEST)
    with session_scope(db) as session, pytest.raises(UnknownUser, match="nobody"):
        deactivate(session, username="nobody")


# Roles -------------------------------------------------------------------------------------------------


def who(role: Role) -> AuthenticatedUser:
    return AuthenticatedUser(id=1, username="jo", display_name="Jo", role=role)


def test_not_logged_in_is_denied_with_a_request_to_log_in():
    with pytest.raises(PermissionDenied, match="log in"):
        require_role(None, Role.AGENT)
    with pytest.raises(PermissionDenied, match="log in"):
        require_role(None)


def test_a_role_passes_its_own_check_and_not_another():
    agent = who(Role.AGENT)

    assert require_role(agent, Role.AGENT) is agent
    assert require_role(agent, Role.EDITOR, Role.AGENT) is agent
    assert require_role(agent) is agent
    with pytest.raises(PermissionDenied, match="editor role; you are logged in as agent"):
        require_role(agent, Role.EDITOR)


@pytest.mark.parametrize("role", [Role.AGENT, Role.EDITOR, Role.ADMIN, "agent"])
def test_admin_passes_every_staff_check(role):
    admin = who(Role.ADMIN)

    assert require_role(admin, role) is admin


def test_a_customer_passes_no_staff_check():
    for role in (Role.AGENT, Role.EDITOR, Role.ADMIN):
        with pytest.raises(PermissionDenied):
            require_role(who(Role.CUSTOMER), role)
    with pytest.raises(PermissionDenied):
        require_role(who(Role.AGENT), Role.ADMIN)


# Demo accounts -----------------------------------------------------------------------------------------


def demo_logins() -> list[tuple[str, str, Role]]:
    return [(d.username, d.password, d.role) for d in users.DEMO_USERS]


def test_demo_seeding_creates_the_four_accounts_that_then_log_in(db):
    with session_scope(db) as session:
        created = seed_demo_users(session, DEV)

    assert created == demo_logins()
    assert {u[0] for u in created} == {"alex", "sam", "erin", "admin"}
    for username, password, role in created:
        assert login(db, username, password) == AuthenticatedUser(
            id=user_row(db, username).id,
            username=username,
            display_name=user_row(db, username).display_name,
            role=role,
        )
    assert user_row(db, "alex").display_name == "Alex" and user_row(db, "sam").display_name == "Sam"


def test_demo_seeding_twice_changes_nothing_and_keeps_a_changed_password(db):
    with session_scope(db) as session:
        seed_demo_users(session, TEST)
    with session_scope(db) as session:
        set_password(session, username="erin", password="erins-own-secret", settings=TEST)
    hashes = {name: user_row(db, name).password_hash for name in ("alex", "sam", "erin", "admin")}

    with session_scope(db) as session:
        again = seed_demo_users(session, TEST)

    assert [u[0] for u in again] == ["alex", "sam", "admin"]  # erin no longer logs in with the demo password
    assert {n: user_row(db, n).password_hash for n in hashes} == hashes
    with session_scope(db) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 4
    assert login(db, "erin", "erins-own-secret") is not None


def test_demo_seeding_is_refused_in_prod(db):
    with session_scope(db) as session, pytest.raises(DefaultCredentialsRefused, match="production"):
        seed_demo_users(session, PROD)
    with session_scope(db) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_dev_and_test_start_quietly_with_demo_accounts(db):
    with session_scope(db) as session:
        seed_demo_users(session, DEV)
        check_no_default_credentials(session, DEV)
        check_no_default_credentials(session, TEST)


def test_prod_refuses_to_start_while_a_demo_password_remains_and_starts_once_changed(db):
    with session_scope(db) as session:
        seed_demo_users(session, DEV)
    with session_scope(db) as session, pytest.raises(DefaultCredentialsRefused) as refused:
        check_no_default_credentials(session, PROD)
    assert all(name in str(refused.value) for name in ("alex", "sam", "erin", "admin"))

    with session_scope(db) as session:
        for name in ("alex", "sam", "erin"):
            set_password(session, username=name, password=f"{name}-own-long-secret", settings=PROD)
        deactivate(session, username="admin")

    with session_scope(db) as session:
        check_no_default_credentials(session, PROD)


def test_prod_refuses_a_demo_password_set_on_another_staff_account(db):
    add(db, "joe", role=Role.AGENT, password="sam-demo-pass")  # possible only outside prod

    with session_scope(db) as session, pytest.raises(DefaultCredentialsRefused, match="joe"):
        check_no_default_credentials(session, PROD)
