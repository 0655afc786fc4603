"""Import a folder of help-center files as an editor: `python -m knowledge.bulk_import DIR --by USER`.

    python -m knowledge.bulk_import DIR --by USER [--publish] [--recursive] [--password-stdin]

Every Markdown, HTML, PDF, plain-text and FAQ CSV file becomes draft articles (or published ones with
--publish; content the ingestion scan flags is quarantined instead). Unchanged files are skipped, files
that cannot be read are reported with the reason and change nothing. Same rules as the studio's Import.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from core.config import get_settings
from core.db import session_scope
from core.logging import configure_logging
from core.users import PermissionDenied
from knowledge.chunking import slugify
from knowledge.importers import MAX_UPLOAD_BYTES, SUPPORTED_SUFFIXES
from knowledge.review import login_editor, read_password
from knowledge.service import KnowledgeBase
from knowledge.studio import Studio


def files_in(folder: Path, *, recursive: bool) -> list[Path]:
    """The importable files, never following a symbolic link (it could point anywhere on the machine)."""
    pattern = "**/*" if recursive else "*"
    return sorted(
        p
        for p in folder.glob(pattern)
        if p.suffix.lower() in SUPPORTED_SUFFIXES
        and not p.is_symlink()
        and not any(parent.is_symlink() for parent in p.relative_to(folder).parents if parent != Path("."))
        and p.is_file()
    )


def slug_for(folder: Path, path: Path) -> str:
    """The article id: the file name, with its sub-folders in front (`guides/returns.md`: guides-returns)."""
    return slugify(str(path.relative_to(folder).with_suffix("")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m knowledge.bulk_import",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--by", required=True, help="the editor's username (role editor or admin)")
    parser.add_argument("--publish", action="store_true", help="publish what is imported (else drafts)")
    parser.add_argument("--recursive", action="store_true", help="include sub-folders")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    if not args.folder.is_dir():
        print(f"error: {args.folder} is not a folder", file=sys.stderr)
        return 2
    files = files_in(args.folder, recursive=args.recursive)
    if not files:
        print(f"error: no {', '.join(SUPPORTED_SUFFIXES)} files in {args.folder}", file=sys.stderr)
        return 2
    settings = get_settings()
    try:
        with session_scope(settings.database_url) as session:
            editor = login_editor(session, args.by, read_password(args.password_stdin))
    except PermissionDenied as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    kb = KnowledgeBase(settings)
    if args.publish:
        kb.refresh()
    studio = Studio(settings, kb=kb if args.publish else None)
    outcomes: Counter[str] = Counter()
    seen: dict[str, Path] = {}
    for path in files:
        slug = slug_for(args.folder, path)
        if slug in seen:
            print(
                f"error      {path}: the same article id ({slug}) as {seen[slug]}; rename one",
                file=sys.stderr,
            )
            outcomes["error"] += 1
            continue
        seen[slug] = path
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            print(f"error      {path.name}: over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", file=sys.stderr)
            outcomes["error"] += 1
            continue
        try:
            results = studio.import_upload(
                editor, path.name, path.read_bytes(), publish_now=args.publish, slug=slug
            )
        except Exception as exc:  # one file the database or a reader failed on: the others still go in
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            why = f"{type(exc).__name__}: {detail[0][:200] if detail else ''}"
            print(f"error      {path.name}: not imported ({why})", file=sys.stderr)
            outcomes["error"] += 1
            continue
        for r in results:
            outcomes[r.outcome] += 1
            where = f"{r.slug} v{r.version}" if r.version else r.slug
            line = f"{r.outcome:<11}{path.name}" + (f" -> {where}" if where else "")
            print(
                line + (f"  ({r.message})" if r.message else ""),
                file=sys.stderr if r.outcome == "error" else sys.stdout,
            )
    print(", ".join(f"{n} {what}" for what, n in sorted(outcomes.items())))
    return 1 if outcomes["error"] and len(outcomes) == 1 else 0


if __name__ == "__main__":
    sys.exit(main())
