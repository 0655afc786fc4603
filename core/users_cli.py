"""Manage user accounts: `python -m core.users {create,list,set-password,deactivate,end-sessions,seed-demo}`.

Passwords are read from one line of stdin (--password-stdin) or prompted for twice; never from argv,
where other users of the machine and the shell history would see them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from pydantic import ValidationError
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from core import users
from core.config import Settings, get_settings
from core.db import get_engine, session_scope
from core.logging import configure_logging

EXIT_USAGE = 2


class _InputError(Exception):
    """The password could not be read; the message says how to give it."""


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "the configured DATABASE_URL"


def _require_users_table(settings: Settings) -> None:
    if not inspect(get_engine(settings.database_url)).has_table("users"):
        raise users.UserError(
            f"no users table in {_safe_url(settings.database_url)}: run `make migrate` "
            "(or `python -m core.migrate upgrade`) first"
        )


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise _InputError("--password-stdin: no password on stdin")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise _InputError("no terminal to prompt for the password; pipe it in with --password-stdin")
    try:
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Repeat password: ")
    except EOFError:
        raise _InputError("no password given") from None
    if first != second:
        raise _InputError("the two passwords differ; nothing was changed")
    return first


def _create(args: argparse.Namespace, settings: Settings) -> int:
    # Refuse a bad name or role before asking for a password.
    username = users.normalize_username(args.username)
    role = users.parse_role(args.role)
    with session_scope(settings.database_url) as session:
        try:
            users.get_user(session, username=username)
        except users.UnknownUser:
            pass
        else:
            raise users.UserExists(f"user {username!r} already exists")
    password = _read_password(args)
    with session_scope(settings.database_url) as session:
        user = users.create_user(
            session,
            username=username,
            display_name=args.display_name,
            role=role,
            password=password,
            settings=settings,
        )
    print(f"created {user.role} {user.username} ({user.display_name})")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        accounts = users.list_users(session)
    if not accounts:
        print("no users yet: create one with `python -m core.users create` (or `seed-demo` in dev)")
        return 0
    rows = [("username", "display name", "role", "active")]
    rows += [(u.username, u.display_name, u.role, "yes" if u.active else "no") for u in accounts]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _set_password(args: argparse.Namespace, settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        username = users.get_user(session, username=args.username).username
    password = _read_password(args)
    with session_scope(settings.database_url) as session:
        users.set_password(session, username=username, password=password, settings=settings)
    print(f"password changed for {username}")
    return 0


def _deactivate(args: argparse.Namespace, settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        users.deactivate(session, username=args.username)
    print(f"deactivated {args.username.strip().lower()}")
    return 0


def _end_sessions(args: argparse.Namespace, settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        users.end_sessions(session, username=args.username)
    print(f"ended every session of {args.username.strip().lower()} (UI logins and API tokens)")
    return 0


def _seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    if settings.env == "prod" and args.skip_in_prod:
        print("no demo accounts in production (ENV=prod)")
        return 0
    with session_scope(settings.database_url) as session:
        usable = users.seed_demo_users(session, settings)
    print("Demo accounts (dev only):")
    for username, password, role in usable:
        print(f"  {username} / {password} ({role})")
    if hidden := len(users.DEMO_USERS) - len(usable):
        print(f"  ({hidden} more with a changed password or deactivated; not shown)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.users", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def command(
        name: str, run: Callable[[argparse.Namespace, Settings], int], summary: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=summary, description=summary)
        p.set_defaults(run=run)
        return p

    roles = ", ".join(r.value for r in users.Role)
    create = command("create", _create, "create an active account")
    create.add_argument("--username", required=True, help="3-64 characters of a-z 0-9 . _ -")
    create.add_argument("--display-name", required=True, help="the name customers and colleagues see")
    create.add_argument("--role", required=True, help=f"one of {roles}")
    create.add_argument("--password-stdin", action="store_true", help="read the password from one stdin line")

    command("list", _list, "list accounts (username, display name, role, active)")

    setpw = command("set-password", _set_password, "replace an account's password")
    setpw.add_argument("--username", required=True)
    setpw.add_argument("--password-stdin", action="store_true", help="read the password from one stdin line")

    deact = command("deactivate", _deactivate, "stop an account from logging in (its history stays)")
    deact.add_argument("--username", required=True)

    ends = command(
        "end-sessions",
        _end_sessions,
        "log an account out everywhere: its UI sessions and API tokens stop",
    )
    ends.add_argument("--username", required=True)

    seed = command(
        "seed-demo", _seed_demo, "create the demo accounts and print their logins (dev and test only)"
    )
    seed.add_argument(
        "--skip-in-prod", action="store_true", help="in prod, do nothing and exit 0 instead of refusing"
    )
    return parser


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("WARNING")
    try:
        settings = get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]).upper() or "settings"
        return _fail(f"invalid configuration ({where}): {first['msg']}")
    try:
        _require_users_table(settings)
        return int(args.run(args, settings))
    except (users.UserError, _InputError) as exc:
        return _fail(str(exc))
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or type(exc).__name__).strip().splitlines()
        return _fail(f"database {_safe_url(settings.database_url)}: {detail[0] if detail else exc}")
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
