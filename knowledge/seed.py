"""Load the demo help center into SQL, publish it, and index it: `python -m knowledge.seed [DIR]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.config import get_settings
from core.db import session_scope
from core.logging import configure_logging
from core.policy import PolicyError, load_policy
from knowledge.service import KnowledgeBase
from knowledge.store import import_markdown


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m knowledge.seed", description=__doc__)
    parser.add_argument("content", nargs="?", type=Path, default=settings.kb_content_dir)
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    if not args.content.is_dir():
        print(f"error: {args.content} is not a folder of Markdown articles", file=sys.stderr)
        return 2
    try:
        contacts = load_policy(settings.policy_file).brand.contacts
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with session_scope(settings.database_url) as session:
        report = import_markdown(session, args.content.glob("*.md"), public_contacts=contacts)
    for slug in report.quarantined:
        print(f"quarantined {slug}: held for an editor (python -m knowledge.review list)", file=sys.stderr)
    for slug in report.kept:
        print(
            f"kept {slug}: changed by an editor in the studio, so the file is not imported", file=sys.stderr
        )
    for err in report.errors:
        print(f"skipped {err}", file=sys.stderr)
    print(
        f"articles: {len(report.created)} new, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.errors)} skipped"
    )
    stats = KnowledgeBase(settings).refresh(progress=True)
    if stats is not None:
        print(
            f"index: {stats.total} chunks, {stats.embedded} embedded, {stats.removed} removed"
            + (f" ({stats.docs_per_s:.0f} docs/s)" if stats.embedded else "")
        )
    return 1 if report.errors and not (report.created or report.updated or report.unchanged) else 0


if __name__ == "__main__":
    sys.exit(main())
