"""Articles and versions in SQL: import, publish, and the published chunks the index serves."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.config import get_settings
from core.db import utcnow
from core.policy import load_policy
from knowledge import audit
from knowledge.chunking import ArticleFormatError, ParsedArticle, chunk_article, parse_markdown, slugify
from knowledge.models import Article, ArticleVersion, Chunk, KbState
from knowledge.scan import scan_sections
from knowledge.types import Doc

logger = logging.getLogger(__name__)


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    """Slugs whose text an editor already rejected: not imported again."""
    quarantined: list[str] = field(default_factory=list)
    """Slugs whose new version the ingestion scan held back for an editor (knowledge/review.py)."""
    kept: list[str] = field(default_factory=list)
    """Slugs an editor has taken over in the studio (edited, archived or deleted): the file is ignored."""


def _hash(article: ParsedArticle) -> str:
    raw = "\n".join([article.title, article.category, ",".join(article.tags), article.updated, article.body])
    return hashlib.sha256(raw.encode()).hexdigest()


def latest_version(session: Session, article_id: int) -> ArticleVersion | None:
    """The article's newest version, whatever its status."""
    return session.scalar(
        select(ArticleVersion)
        .where(ArticleVersion.article_id == article_id)
        .order_by(ArticleVersion.version.desc())
        .limit(1)
    )


def create_version(
    session: Session, *, article: ParsedArticle, source: str = "", author: str = "system"
) -> ArticleVersion:
    """Add a new draft version (and the article if new) with its chunks; earlier versions are untouched."""
    row = session.scalar(select(Article).where(Article.slug == article.slug))
    if row is None:
        row = Article(slug=article.slug)
        session.add(row)
        session.flush()
    last = latest_version(session, row.id)
    version = ArticleVersion(
        article_id=row.id,
        version=(last.version if last is not None else 0) + 1,
        status="draft",
        title=article.title,
        category=article.category,
        tags=",".join(article.tags),
        body=article.body,
        content_hash=_hash(article),
        source=source,
        updated=article.updated,
        created_by=author,
    )
    session.add(version)
    session.flush()
    for chunk in chunk_article(article):
        session.add(
            Chunk(
                version_id=version.id,
                chunk_id=chunk.chunk_id,
                ordinal=chunk.ordinal,
                section=chunk.section,
                anchor=chunk.anchor,
                text=chunk.text,
            )
        )
    return version


def served_revision(session: Session) -> int:
    """The revision of what customers are served (0 before the first publish)."""
    return session.scalar(select(KbState.revision).where(KbState.id == 1)) or 0


def bump_revision(session: Session) -> int:
    """Mark what customers are served as changed, in the caller's transaction; returns the new revision."""
    state = session.get(KbState, 1, with_for_update=True)
    if state is None:
        state = KbState(id=1, revision=0)
        session.add(state)
    state.revision += 1
    state.updated_at = utcnow()
    session.flush()
    return state.revision


def version_docs(session: Session, version_id: int) -> list[Doc]:
    """The chunks of one version as indexable docs (what publishing it will add to the index)."""
    return _docs(
        session,
        select(*_DOC_COLUMNS)
        .join(ArticleVersion, Chunk.version_id == ArticleVersion.id)
        .join(Article, Article.id == ArticleVersion.article_id)
        .where(ArticleVersion.id == version_id)
        .order_by(Chunk.ordinal),
    )


def publish(session: Session, *, version_id: int) -> ArticleVersion:
    """Make this version the one customers are served; the previously published one is archived."""
    version = session.get(ArticleVersion, version_id)
    if version is None:
        raise LookupError(f"no article version {version_id}")
    article = session.get(Article, version.article_id)
    assert article is not None  # guaranteed by the foreign key
    if article.published_version_id and article.published_version_id != version.id:
        previous = session.get(ArticleVersion, article.published_version_id)
        if previous is not None:
            previous.status = "archived"
    version.status = "published"
    version.published_at = utcnow()
    article.published_version_id = version.id
    article.deleted_at = article.deleted_by = None
    for stale in session.scalars(  # older versions still waiting for an editor can no longer be served
        select(ArticleVersion).where(
            ArticleVersion.article_id == article.id,
            ArticleVersion.status == "quarantined",
            ArticleVersion.version < version.version,
        )
    ):
        stale.status = "rejected"
        stale.review_note = f"superseded by version {version.version}"
        audit.record(
            session,
            actor="system",
            action="rejected",
            target=article.slug,
            version=stale.version,
            note=stale.review_note,
        )
    bump_revision(session)
    return version


def import_markdown(
    session: Session,
    files: Iterable[Path],
    *,
    author: str = "system",
    public_contacts: Collection[str] | None = None,
) -> ImportReport:
    """Create and publish a version for each new or changed file; unchanged files are left alone.

    A version in which the scan finds planted instructions or personal data is quarantined instead of
    published: customers keep being served the previous version (if any) until an editor decides.
    `public_contacts` are the company's own emails, phones and addresses (default: the configured
    policy's brand contacts), which are not personal data.
    """
    if public_contacts is None:
        public_contacts = load_policy(get_settings().policy_file).brand.contacts
    report = ImportReport()
    for path in sorted(files):
        slug = slugify(path.stem)
        try:
            parsed = parse_markdown(path.read_text(encoding="utf-8"), slug=slug)
        except (ArticleFormatError, UnicodeDecodeError) as exc:
            report.errors.append(f"{path.name}: {exc}")
            continue
        if _taken_over(session, slug, path.name):
            report.kept.append(slug)
            continue
        current = session.scalar(
            select(ArticleVersion)
            .join(Article, Article.published_version_id == ArticleVersion.id)
            .where(Article.slug == slug)
        )
        digest = _hash(parsed)
        if current is not None and current.content_hash == digest:
            report.unchanged.append(slug)
            continue
        held = session.scalar(
            select(ArticleVersion)
            .join(Article, Article.id == ArticleVersion.article_id)
            .where(Article.slug == slug, ArticleVersion.status.in_(("quarantined", "rejected")))
            .where(ArticleVersion.content_hash == digest)
        )
        if held is not None:  # the same text already waits for an editor, or an editor rejected it
            (report.quarantined if held.status == "quarantined" else report.rejected).append(slug)
            continue
        version = create_version(session, article=parsed, source=path.name, author=author)
        findings = scan_sections(
            ((c.section, c.text) for c in chunk_article(parsed)), public_contacts=public_contacts
        )
        if findings:
            version.status = "quarantined"
            version.scan = [f.as_dict() for f in findings]
            logger.warning("article %s v%s quarantined: %d findings", slug, version.version, len(findings))
            report.quarantined.append(slug)
            audit.record(session, actor=author, action="quarantined", target=slug, version=version.version)
            continue
        publish(session, version_id=version.id)
        (report.updated if current is not None else report.created).append(slug)
        audit.record(
            session, actor=author, action="imported", target=slug, version=version.version, file=path.name
        )
    return report


def _taken_over(session: Session, slug: str, filename: str) -> bool:
    """Whether editors changed the article since it was last imported from `filename`: a studio version
    (or rollback), an archive or a delete. Re-importing the file must not undo their work."""
    article = session.scalar(select(Article).where(Article.slug == slug))
    if article is None:
        return False
    if article.deleted_at is not None:
        return True
    latest = latest_version(session, article.id)
    if latest is None:
        return False
    return latest.source != filename or (latest.status == "archived" and article.published_version_id is None)


def published_docs(session: Session) -> list[Doc]:
    """Every chunk of every published version, as indexable docs with citation metadata."""
    return _docs(
        session,
        select(*_DOC_COLUMNS)
        .join(ArticleVersion, Chunk.version_id == ArticleVersion.id)
        .join(Article, Article.published_version_id == ArticleVersion.id)
        .order_by(Article.slug, Chunk.ordinal),
    )


_DOC_COLUMNS = (
    Chunk.chunk_id,
    Chunk.text,
    Chunk.section,
    Chunk.anchor,
    ArticleVersion.id,
    ArticleVersion.version,
    ArticleVersion.title,
    ArticleVersion.category,
    ArticleVersion.updated,
    Article.slug,
)
"""Plain columns, not ORM objects: a serving process reloads every published chunk after each publish
(10,000 chunks in a tenth of the time entities take)."""


def _docs(session: Session, query: Select[*tuple[Any, ...]]) -> list[Doc]:
    rows = session.execute(query).tuples()
    return [
        Doc(
            id=chunk_id,
            text=text,
            title=title,
            section=section,
            metadata={
                "article": slug,
                "version": version,
                "version_id": version_id,
                "category": category,
                "anchor": anchor,
                "updated": updated,
            },
        )
        for chunk_id, text, section, anchor, version_id, version, title, category, updated, slug in rows
    ]


@dataclass(frozen=True)
class PassageView:
    """A cited passage as the customer opens it: the exact version, even after newer ones are published."""

    chunk_id: str
    text: str
    section: str
    anchor: str
    title: str
    version: int
    status: str
    updated: str
    body: str
    article: str


def get_passage(session: Session, *, chunk_id: str, version_id: int | None = None) -> PassageView | None:
    """The chunk in that version, or (no version given) in the published version holding it."""
    query = (
        select(Chunk, ArticleVersion, Article.slug)
        .join(ArticleVersion, Chunk.version_id == ArticleVersion.id)
        .join(Article, Article.id == ArticleVersion.article_id)
        .where(Chunk.chunk_id == chunk_id)
    )
    if version_id is not None:
        query = query.where(ArticleVersion.id == version_id)
    row = session.execute(query.order_by(ArticleVersion.version.desc()).limit(1)).first()
    if row is None:
        return None
    chunk, version, slug = row
    return PassageView(
        chunk_id=chunk.chunk_id,
        text=chunk.text,
        section=chunk.section,
        anchor=chunk.anchor,
        title=version.title,
        version=version.version,
        status=version.status,
        updated=version.updated,
        body=version.body,
        article=slug,
    )
