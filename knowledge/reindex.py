"""Keep the vector index equal to what SQL says is published, and check that it is.

    python -m knowledge.reindex             embed what is missing, drop what is not served (prints docs/s)
    python -m knowledge.reindex --full      drop the whole index and embed every published chunk again
    python -m knowledge.reindex --verify    check SQL and index consistency and repair what is wrong
    python -m knowledge.reindex --verify --dry-run   only report (exit 1 when something is inconsistent)

SQL is the truth: an article's `published_version_id` says which version customers get. A publish that
died half-way can leave the index with extra chunks (never served, since retrieval only returns published
ids) or, if the index was down, without the new ones (served lexically until repaired).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.config import Settings, get_settings
from core.db import session_scope
from core.logging import configure_logging
from knowledge import audit
from knowledge.embeddings import EmbeddingUnavailable
from knowledge.indexing import build_index
from knowledge.models import Article, ArticleVersion, Chunk
from knowledge.service import KnowledgeBase
from knowledge.store import bump_revision, published_docs
from knowledge.vector_index import IndexUnavailable, VectorIndex


@dataclass
class Verification:
    found: list[str] = field(default_factory=list)
    """What was wrong when the check ran."""
    problems: list[str] = field(default_factory=list)
    """What is still wrong (after the repairs, when repairing)."""
    repaired: list[str] = field(default_factory=list)
    missing: int = 0
    """Published chunks the index lacks."""
    orphans: int = 0
    """Index entries that are not a published chunk."""
    published_chunks: int = 0

    @property
    def consistent(self) -> bool:
        return not self.problems


def check_store(session: Session, *, repair: bool) -> tuple[list[str], list[str]]:
    """The SQL side: every published pointer names a published version of that article, and no other
    version claims to be published. Returns (problems, repairs)."""
    problems: list[str] = []
    repairs: list[str] = []
    changed = False
    pointed: set[int] = set()
    for article in session.scalars(select(Article).order_by(Article.slug)):
        if article.published_version_id is None:
            continue
        version = session.get(ArticleVersion, article.published_version_id)
        if version is None or version.article_id != article.id:
            problems.append(
                f"{article.slug}: served version id {article.published_version_id} does not exist"
            )
            if repair:
                article.published_version_id = None
                repairs.append(f"{article.slug}: unpublished (its served version is missing)")
                changed = True
            continue
        if article.deleted_at is not None:
            problems.append(f"{article.slug}: deleted but still served")
            if repair:
                article.published_version_id, version.status = None, "archived"
                repairs.append(f"{article.slug}: unpublished (deleted)")
                changed = True
            continue
        pointed.add(version.id)
        if version.status != "published":
            problems.append(f"{article.slug} v{version.version}: served but marked {version.status}")
            if repair:
                version.status = "published"
                repairs.append(f"{article.slug} v{version.version}: marked published")
        chunks = session.scalar(select(func.count()).select_from(Chunk).where(Chunk.version_id == version.id))
        if not chunks:
            problems.append(
                f"{article.slug} v{version.version}: served but has no chunks (re-save the article)"
            )
    stray = session.execute(
        select(ArticleVersion, Article.slug)
        .join(Article, Article.id == ArticleVersion.article_id)
        .where(ArticleVersion.status == "published")
    ).all()
    for version, slug in stray:
        if version.id not in pointed:
            problems.append(f"{slug} v{version.version}: marked published but not served")
            if repair:
                version.status = "archived"
                repairs.append(f"{slug} v{version.version}: marked archived")
    for line in repairs:
        audit.record(
            session, actor="reindex", action="repaired", target=line.split(" ")[0].rstrip(":"), note=line
        )
    if changed:
        bump_revision(session)
    return problems, repairs


def verify(settings: Settings, *, repair: bool, kb: KnowledgeBase | None = None) -> Verification:
    """Check (and repair) SQL, then the index against SQL."""
    result = Verification()
    with session_scope(settings.database_url) as session:
        result.problems, result.repaired = check_store(session, repair=repair)
        if not repair:
            session.rollback()
    with session_scope(settings.database_url) as session:
        docs = published_docs(session)
    result.published_chunks = len(docs)
    vector = VectorIndex.configured(settings)
    present = vector.ids()
    wanted = {d.id for d in docs}
    result.missing = len(wanted - present)
    result.orphans = len(present - wanted)
    if result.missing:
        result.problems.append(f"index: {result.missing} published chunks are not embedded")
    if result.orphans:
        result.problems.append(f"index: {result.orphans} entries are not published chunks")
    if repair and (result.missing or result.orphans):
        kb = kb or KnowledgeBase(settings, vector=vector)
        stats = build_index(docs, vector=vector, embedder=kb.embedder)
        result.repaired.append(f"index: {stats.embedded} embedded, {stats.removed} removed")
    result.found = list(result.problems)
    if repair and result.problems:  # what is left after the repairs is what counts
        result.problems = verify(settings, repair=False).problems
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m knowledge.reindex",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--verify", action="store_true", help="check SQL and index consistency, and repair")
    parser.add_argument("--dry-run", action="store_true", help="with --verify: report only, change nothing")
    parser.add_argument("--full", action="store_true", help="drop the index and embed everything again")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    settings = get_settings()
    if args.dry_run and not args.verify:
        parser.error("--dry-run goes with --verify")
    try:
        if args.verify:
            return _verify(settings, repair=not args.dry_run)
        kb = KnowledgeBase(settings)
        if args.full:
            vector = VectorIndex.configured(settings)
            vector.reset()
            kb = KnowledgeBase(settings, vector=vector)
        t0 = time.perf_counter()
        stats = kb.refresh(progress=sys.stderr.isatty())
        wall = time.perf_counter() - t0
    except (IndexUnavailable, EmbeddingUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if stats is None:
        print("error: the vector index is unavailable", file=sys.stderr)
        return 2
    rate = f" ({stats.docs_per_s:.1f} docs/s)" if stats.embedded else ""
    print(
        f"index: {stats.total} published chunks, {stats.embedded} embedded{rate}, {stats.removed} removed, "
        f"{wall:.1f} s"
    )
    return 0


def _verify(settings: Settings, *, repair: bool) -> int:
    result = verify(settings, repair=repair)
    for line in result.found:
        print(f"found     {line}")
    for line in result.repaired:
        print(f"repaired  {line}")
    for line in result.problems if repair else ():
        print(f"remaining {line}")
    state = "consistent" if result.consistent else "INCONSISTENT"
    print(f"{state}: {result.published_chunks} published chunks")
    return 0 if result.consistent else 1


if __name__ == "__main__":
    sys.exit(main())
