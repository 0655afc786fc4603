"""Editors' decision on quarantined versions: release (publish) or reject, recorded with who and why.

    python -m knowledge.review list
    python -m knowledge.review show ID --by USER
    python -m knowledge.review release ID --by USER [--note TEXT] | reject ID --by USER --note TEXT

Every command but `list` needs an editor's (or admin's) login: the password is prompted for, or read from
one line of stdin with --password-stdin (never from the command line).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import get_settings
from core.db import session_scope, utcnow
from core.logging import configure_logging
from core.users import AuthenticatedUser, PermissionDenied, Role, UnknownUser, authenticate, require_role
from knowledge import audit
from knowledge.models import Article, ArticleVersion
from knowledge.store import publish

__all__ = ["QuarantinedVersion", "ReviewError", "check_release", "quarantined", "reject", "release"]


class ReviewError(ValueError):
    """The decision cannot be taken (unknown version, not quarantined); the message says why."""


@dataclass(frozen=True)
class QuarantinedVersion:
    version_id: int
    article: str
    version: int
    title: str
    source: str
    created_by: str
    findings: list[dict[str, Any]]


def quarantined(session: Session) -> list[QuarantinedVersion]:
    """Every version waiting for an editor, oldest first."""
    rows = session.execute(
        select(ArticleVersion, Article.slug)
        .join(Article, Article.id == ArticleVersion.article_id)
        .where(ArticleVersion.status == "quarantined")
        .order_by(ArticleVersion.created_at, ArticleVersion.id)
    ).all()
    return [
        QuarantinedVersion(v.id, slug, v.version, v.title, v.source, v.created_by, list(v.scan or []))
        for v, slug in rows
    ]


def _held(session: Session, version_id: int) -> ArticleVersion:
    version = session.get(ArticleVersion, version_id)
    if version is None:
        raise ReviewError(f"there is no article version {version_id}")
    if version.status != "quarantined":
        raise ReviewError(f"version {version_id} is {version.status}, not quarantined")
    return version


def release(
    session: Session, *, version_id: int, editor: AuthenticatedUser, note: str = ""
) -> ArticleVersion:
    """The editor has read the findings and publishes the version as it is."""
    require_role(editor, Role.EDITOR)
    version = _held(session, version_id)
    check_release(session, version)
    version.reviewed_by, version.reviewed_at, version.review_note = editor.username, utcnow(), note or None
    published = publish(session, version_id=version.id)
    _audit(session, editor, "released", version, note)
    return published


def check_release(session: Session, version: ArticleVersion) -> None:
    """A quarantined version older than the one being served cannot be released over it."""
    article = session.get(Article, version.article_id)
    current = (
        session.get(ArticleVersion, article.published_version_id)
        if article and article.published_version_id
        else None
    )
    if current is not None and current.version > version.version:
        raise ReviewError(
            f"version {current.version} of this article is already published and newer; reject this one"
        )


def reject(session: Session, *, version_id: int, editor: AuthenticatedUser, note: str) -> ArticleVersion:
    """The version is never served; the note tells its author why."""
    require_role(editor, Role.EDITOR)
    if not note.strip():
        raise ReviewError("say why the version is rejected (--note)")
    version = _held(session, version_id)
    version.status = "rejected"
    version.reviewed_by, version.reviewed_at, version.review_note = editor.username, utcnow(), note.strip()
    _audit(session, editor, "rejected", version, note)
    return version


def _audit(
    session: Session, editor: AuthenticatedUser, action: str, version: ArticleVersion, note: str
) -> None:
    article = session.get(Article, version.article_id)
    assert article is not None  # the foreign key
    audit.record(
        session,
        actor=editor.username,
        action=action,
        target=article.slug,
        version=version.version,
        note=note.strip(),
    )


def read_password(from_stdin: bool) -> str:
    """The password from one line of stdin, or a terminal prompt (never from the command line)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise PermissionDenied("no terminal to prompt for the password; pipe it in with --password-stdin")
    return getpass.getpass("Password: ")


def login_editor(session: Session, username: str, password: str) -> AuthenticatedUser:
    """The logged-in editor: a wrong name or password gets the same answer, and the role is checked."""
    user = authenticate(session, username=username, password=password)
    if user is None:
        raise PermissionDenied("wrong username or password, or the account is deactivated")
    return require_role(user, Role.EDITOR)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge.review", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="versions waiting for an editor")
    for name, what in (
        ("show", "one quarantined version's findings and text"),
        ("release", "publish a quarantined version as it is"),
        ("reject", "never serve a quarantined version"),
    ):
        cmd = sub.add_parser(name, help=what)
        cmd.add_argument("version_id", type=int)
        cmd.add_argument("--by", required=True, help="the editor's username (role editor or admin)")
        cmd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        if name != "show":
            cmd.add_argument("--note", default="", help="why (required to reject)")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    settings = get_settings()
    try:
        with session_scope(settings.database_url) as session:
            if args.command == "list":
                waiting = quarantined(session)
                for q in waiting:
                    kinds = ", ".join(sorted({f["kind"] for f in q.findings}))
                    print(
                        f"{q.version_id:>5}  {q.article} v{q.version}  {kinds}  ({q.source or q.created_by})"
                    )
                print(f"{len(waiting)} version(s) quarantined")
                return 0
            editor = login_editor(session, args.by, read_password(args.password_stdin))
            if args.command == "show":
                version = _held(session, args.version_id)
                for f in version.scan or []:
                    print(f"- {f['kind']} ({f['detail']}) in {f['section']!r}: {f['evidence']}")
                print()
                print(version.body)
                return 0
            if args.command == "release":
                release(session, version_id=args.version_id, editor=editor, note=args.note)
            else:
                reject(session, version_id=args.version_id, editor=editor, note=args.note)
    except (ReviewError, PermissionDenied, UnknownUser) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "release":
        from knowledge.service import KnowledgeBase

        KnowledgeBase(settings).refresh()
        print(f"version {args.version_id} released and indexed")
    else:
        print(f"version {args.version_id} rejected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
