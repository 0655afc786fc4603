"""`python -m core.users` as an operator runs it: a real process over a migrated SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.db import session_scope
from core.migrate import upgrade
from core.users import authenticate


def run_cli(
    *args: str, db_url: str, tmp_path: Path, env: str = "test", stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    # cwd is tmp_path so a developer's .env cannot point the CLI elsewhere.
    environment = {
        **os.environ,
        "ENV": env,
        "DATABASE_URL": db_url,
        "DATA_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "core.users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    upgrade(url)
    return url


def create_jo(
    db_url: str, tmp_path: Path, password: str = "jo-long-secret\n"
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "create",
        "--username",
        "Jo.Smith",
        "--display-name",
        "Jo Smith",
        "--role",
        "agent",
        "--password-stdin",
        db_url=db_url,
        tmp_path=tmp_path,
        stdin=password,
    )


def test_create_then_list_shows_the_account_and_never_the_hash(db_url, tmp_path):
    created = create_jo(db_url, tmp_path)
    assert created.returncode == 0, created.stderr
    assert "jo.smith" in created.stdout

    listed = run_cli("list", db_url=db_url, tmp_path=tmp_path)

    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["username", "display", "name", "role", "active"]
    assert row.split() == ["jo.smith", "Jo", "Smith", "agent", "yes"]
    assert "scrypt" not in listed.stdout and "jo-long-secret" not in listed.stdout


def test_duplicate_user_exits_2_with_one_line_and_no_traceback(db_url, tmp_path):
    assert create_jo(db_url, tmp_path).returncode == 0

    again = create_jo(db_url, tmp_path)

    assert again.returncode == 2
    assert again.stderr.strip() == "error: user 'jo.smith' already exists"
    assert "Traceback" not in again.stderr


@pytest.mark.parametrize(
    ("username", "role", "stdin", "message"),
    [
        ("joe", "agent", "short\n", "at least 10 characters"),
        ("joe", "boss", "jo-long-secret\n", "unknown role 'boss'"),
        ("joe", "agent", "", "no password on stdin"),
        ("jo", "agent", "jo-long-secret\n", "invalid username 'jo'"),
    ],
    ids=["weak-password", "unknown-role", "empty-stdin", "short-username"],
)
def test_bad_input_exits_2_with_a_one_line_message(db_url, tmp_path, username, role, stdin, message):
    result = run_cli(
        "create",
        "--username",
        username,
        "--display-name",
        "Joe",
        "--role",
        role,
        "--password-stdin",
        db_url=db_url,
        tmp_path=tmp_path,
        stdin=stdin,
    )

    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no users yet" in run_cli("list", db_url=db_url, tmp_path=tmp_path).stdout


def test_unknown_user_exits_2(db_url, tmp_path):
    result = run_cli("deactivate", "--username", "nobody", db_url=db_url, tmp_path=tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip() == "error: no user named 'nobody'"


def test_unmigrated_database_says_to_migrate(tmp_path):
    result = run_cli("list", db_url=f"sqlite:///{tmp_path / 'empty.db'}", tmp_path=tmp_path)

    assert result.returncode == 2
    assert "make migrate" in result.stderr and "Traceback" not in result.stderr


def test_seed_demo_prints_the_demo_logins_and_is_idempotent(db_url, tmp_path):
    first = run_cli("seed-demo", db_url=db_url, tmp_path=tmp_path)
    second = run_cli("seed-demo", db_url=db_url, tmp_path=tmp_path)

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "Demo accounts (dev only):",
        "  alex / alex-demo-pass (agent)",
        "  sam / sam-demo-pass (agent)",
        "  erin / erin-demo-pass (editor)",
        "  admin / admin-demo-pass (admin)",
    ]
    assert second.returncode == 0 and second.stdout == first.stdout
    listed = run_cli("list", db_url=db_url, tmp_path=tmp_path).stdout.splitlines()
    assert len(listed) == 1 + 4


def test_seed_demo_in_prod_exits_2_and_creates_nothing(db_url, tmp_path):
    refused = run_cli("seed-demo", db_url=db_url, tmp_path=tmp_path, env="prod")

    assert refused.returncode == 2
    assert "refused in production" in refused.stderr and "Traceback" not in refused.stderr
    assert "no users yet" in run_cli("list", db_url=db_url, tmp_path=tmp_path).stdout


def test_make_seed_flag_skips_demo_accounts_quietly_in_prod(db_url, tmp_path):
    skipped = run_cli("seed-demo", "--skip-in-prod", db_url=db_url, tmp_path=tmp_path, env="prod")

    assert skipped.returncode == 0, skipped.stderr
    assert "demo-pass" not in skipped.stdout
    assert "no users yet" in run_cli("list", db_url=db_url, tmp_path=tmp_path).stdout


def test_set_password_from_stdin_takes_effect_and_deactivate_shows_in_the_list(db_url, tmp_path):
    assert create_jo(db_url, tmp_path).returncode == 0

    changed = run_cli(
        "set-password",
        "--username",
        "jo.smith",
        "--password-stdin",
        db_url=db_url,
        tmp_path=tmp_path,
        stdin="another-long-secret\n",
    )
    assert changed.returncode == 0, changed.stderr
    with session_scope(db_url) as session:
        assert authenticate(session, username="jo.smith", password="another-long-secret") is not None

    gone = run_cli("deactivate", "--username", "jo.smith", db_url=db_url, tmp_path=tmp_path)

    assert gone.returncode == 0, gone.stderr
    row = run_cli("list", db_url=db_url, tmp_path=tmp_path).stdout.splitlines()[1]
    assert row.split()[-1] == "no"


def test_end_sessions_logs_an_account_out_everywhere_and_a_reactivation_brings_no_old_login_back(
    db_url, tmp_path
):
    from core.models import User
    from core.users import PermissionDenied, require_current

    assert create_jo(db_url, tmp_path).returncode == 0
    with session_scope(db_url) as session:
        before = authenticate(session, username="jo.smith", password="jo-long-secret")
    assert before is not None

    ended = run_cli("end-sessions", "--username", "jo.smith", db_url=db_url, tmp_path=tmp_path)

    assert ended.returncode == 0, ended.stderr
    with session_scope(db_url) as session:
        with pytest.raises(PermissionDenied):
            require_current(session, before)
        after = authenticate(session, username="jo.smith", password="jo-long-secret")
        assert after is not None and require_current(session, after) == after
    assert run_cli("deactivate", "--username", "jo.smith", db_url=db_url, tmp_path=tmp_path).returncode == 0
    with session_scope(db_url) as session:
        session.query(User).filter_by(username="jo.smith").update({"active": True})  # an admin reactivates
    with session_scope(db_url) as session, pytest.raises(PermissionDenied):
        require_current(session, after)
    missing = run_cli("end-sessions", "--username", "nobody", db_url=db_url, tmp_path=tmp_path)
    assert missing.returncode == 2 and "nobody" in missing.stderr
