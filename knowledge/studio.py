"""The product team's knowledge base studio: drafts, versions, publish, rollback, archive, delete, import,
quarantine review, "try a question", gaps and usage, all audited.

Every method takes the logged-in user and checks, on the server side, that the account still exists, is
active and holds the editor role (admins too); the studio page only decides what to draw. Customers keep
being served the published version until a publish commits, and a publish that dies half-way leaves the
previous version serving (see knowledge/service.py for the index side).
"""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import session_scope, utcnow
from core.policy import load_policy
from core.text import mend, one_line
from core.users import AuthenticatedUser, Role, require_current
from knowledge import audit, review
from knowledge import gaps as kb_gaps
from knowledge import usage as kb_usage
from knowledge.chunking import (
    MAX_SLUG_CHARS,
    ArticleFormatError,
    ChunkDraft,
    ParsedArticle,
    chunk_article,
    slugify,
)
from knowledge.importers import Imported, parse_upload
from knowledge.models import Article, ArticleVersion
from knowledge.scan import Finding, scan_sections
from knowledge.service import KnowledgeBase
from knowledge.store import bump_revision, create_version, latest_version, publish, version_docs
from knowledge.types import Passage

logger = logging.getLogger(__name__)
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
"""What `slugify` makes (without its length cut): an editor's slug of this shape is used as given."""

MAX_BODY_CHARS = 200_000
"""An article longer than this is almost certainly a mistake (a whole manual pasted in): split it."""
MAX_TITLE_CHARS = 300
MAX_CATEGORY_CHARS = 60
MAX_TAGS_CHARS = 500
"""The columns' sizes: a longer value is refused with a message here, not by the database."""


class StudioError(ValueError):
    """The action cannot be taken as asked; the message says why and what to do.

    The subclasses say which way (the API answers 404 and 422 for them; a plain StudioError is a 409: the
    request is well formed, but the article's state does not allow it now)."""


class StudioNotFound(StudioError):
    """No such article, or no such version of it."""


class StudioInvalid(StudioError):
    """The input itself is unusable (empty, too long, unconfirmed): fixing the request fixes it."""


# Views -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleSummary:
    slug: str
    title: str
    category: str
    tags: tuple[str, ...]
    status: str
    """published | draft (never published) | archived | quarantined | deleted"""
    published_version: int | None
    latest_version: int
    pending: str | None
    """What waits on top of the published version: "draft" or "quarantined" (or None)."""
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class VersionView:
    id: int
    slug: str
    version: int
    status: str
    title: str
    category: str
    tags: tuple[str, ...]
    body: str
    created_by: str
    created_at: datetime
    published_at: datetime | None
    change_note: str | None
    based_on: int | None
    provenance: dict[str, Any]
    findings: tuple[dict[str, Any], ...]
    reviewed_by: str | None
    review_note: str | None


@dataclass(frozen=True)
class PublishResult:
    version: VersionView
    status: str
    """published | quarantined"""
    findings: tuple[Finding, ...] = ()
    embedded: int = 0
    """Chunks embedded for this publish (unchanged text keeps its embedding)."""
    timings_s: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class UploadPreview:
    """One article of an uploaded file, before anything is written."""

    filename: str
    format: str
    slug: str
    title: str
    chunks: tuple[ChunkDraft, ...]
    findings: tuple[Finding, ...]
    warnings: tuple[str, ...]
    change: str
    """new | changed | unchanged (compared with the article's newest version)"""
    article: ParsedArticle


@dataclass(frozen=True)
class UploadResult:
    filename: str
    slug: str
    outcome: str
    """draft | published | quarantined | unchanged | error"""
    version: int | None = None
    message: str = ""


@dataclass(frozen=True)
class TryResult:
    question: str
    against: str
    """"published", or "draft vN of SLUG" """
    passages: tuple[Passage, ...]
    confidence: float
    would_answer: bool
    """False: the bot would say it does not know (confidence under ANSWER_MIN_CONFIDENCE)."""
    cited: Passage | None
    lexical_only: bool


def _category(raw: str) -> str:
    """As a version stores it: a slug of at most MAX_CATEGORY_CHARS, `general` when there is none."""
    return slugify(raw or "general", max_chars=MAX_CATEGORY_CHARS)


def _tags(raw: str | Sequence[str]) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else raw
    return sorted({t.strip() for t in items if t and t.strip()})


def _view(version: ArticleVersion, slug: str) -> VersionView:
    return VersionView(
        id=version.id,
        slug=slug,
        version=version.version,
        status=version.status,
        title=version.title,
        category=version.category,
        tags=tuple(_tags(version.tags)),
        body=version.body,
        created_by=version.created_by,
        created_at=version.created_at,
        published_at=version.published_at,
        change_note=version.change_note,
        based_on=version.based_on,
        provenance=dict(version.provenance or {}),
        findings=tuple(version.scan or ()),
        reviewed_by=version.reviewed_by,
        review_note=version.review_note,
    )


def _parsed(version: ArticleVersion, slug: str) -> ParsedArticle:
    return ParsedArticle(
        slug=slug,
        title=version.title,
        category=version.category,
        updated=version.updated,
        tags=_tags(version.tags),
        body=version.body,
    )


# The service ---------------------------------------------------------------------------------------------


class Studio:
    """Editor actions over SQL, keeping `kb` (the serving process's knowledge base) in step."""

    def __init__(self, settings: Settings, *, kb: KnowledgeBase | None = None) -> None:
        self.settings = settings
        self.kb = kb
        self._contacts: list[str] | None = None

    # plumbing ------------------------------------------------------------------------------------
    def _session(self) -> Any:
        return session_scope(self.settings.database_url)

    def _editor(self, session: Session, actor: AuthenticatedUser | None) -> AuthenticatedUser:
        """The role check on every call, against the account as it is now (not as it was at login)."""
        return require_current(session, actor, Role.EDITOR)

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A session for a change. A concurrent change that won a uniqueness race is the editor's to retry."""
        try:
            with self._session() as s:
                yield s
        except IntegrityError as exc:
            raise StudioError(
                "someone else changed this article at the same moment; reload and try again"
            ) from exc

    def _find(self, session: Session, slug: str | None, *, lock: bool = False) -> Article | None:
        """The article; `lock` holds its row until commit (PostgreSQL), so changes to one article queue up."""
        query = select(Article).where(Article.slug == slug)
        return session.scalar(query.with_for_update() if lock else query)

    def _article(self, session: Session, slug: str, *, lock: bool = False) -> Article:
        article = self._find(session, slug, lock=lock)
        if article is None:
            raise StudioNotFound(f"there is no article {slug!r}")
        return article

    def _version(
        self, session: Session, version_id: int, *, lock: bool = False
    ) -> tuple[ArticleVersion, Article]:
        version = session.get(ArticleVersion, version_id)
        if version is None:
            raise StudioNotFound(f"there is no article version {version_id}")
        article = session.get(Article, version.article_id, with_for_update=lock, populate_existing=lock)
        assert article is not None  # the foreign key
        if lock:  # what another transaction committed while we waited for the lock
            session.refresh(version)
        return version, article

    def _public_contacts(self) -> list[str]:
        if self._contacts is None:
            self._contacts = load_policy(self.settings.policy_file).brand.contacts
        return self._contacts

    def scan(self, article: ParsedArticle) -> list[Finding]:
        """The ingestion scan (planted instructions, personal data) over the article's title and chunks,
        headings included: the title and the section path reach the model's prompt and the customer's
        screen with every citation, so an instruction planted there counts as much as one in the text."""
        sections = [("Title", article.title)]
        sections += [(c.section, f"{c.section}\n\n{c.text}") for c in chunk_article(article)]
        return scan_sections(sections, public_contacts=self._public_contacts())

    def _pause(self, stage: str) -> None:
        """Tests only: stop at this publish stage (a marker file says so) until the process is killed."""
        if not self.settings.kb_test_pause_at or self.settings.env == "prod":
            return
        if self.settings.kb_test_pause_at != stage:
            return
        marker = self.settings.data_dir / f"publish-paused-{stage}"
        marker.write_text(str(time.time()))
        while True:
            time.sleep(1)

    # reading -------------------------------------------------------------------------------------
    def articles(
        self,
        actor: AuthenticatedUser | None,
        *,
        search: str = "",
        category: str | None = None,
        status: str | None = None,
        include_deleted: bool = False,
    ) -> list[ArticleSummary]:
        """Every article with its newest version, filtered; most recently changed first."""
        with self._session() as s:
            self._editor(s, actor)
            rows = s.execute(
                select(Article, ArticleVersion)
                .join(ArticleVersion, ArticleVersion.article_id == Article.id)
                .order_by(Article.id, ArticleVersion.version)
            ).all()
        grouped: dict[int, tuple[Article, list[ArticleVersion]]] = {}
        for article, version in rows:
            grouped.setdefault(article.id, (article, []))[1].append(version)
        needle = search.strip().lower()
        out: list[ArticleSummary] = []
        for article, versions in grouped.values():
            summary = _summary(article, versions)
            if summary.status == "deleted" and not include_deleted:
                continue
            if category and summary.category != category:
                continue
            if status and status not in (summary.status, summary.pending):
                continue
            if needle:
                latest = versions[-1]
                haystack = f"{article.slug}\n{latest.title}\n{latest.tags}\n{latest.body}".lower()
                if needle not in haystack:
                    continue
            out.append(summary)
        return sorted(out, key=lambda a: (a.updated_at, a.slug), reverse=True)

    def categories(self, actor: AuthenticatedUser | None) -> list[str]:
        return sorted({a.category for a in self.articles(actor)})

    def history(self, actor: AuthenticatedUser | None, slug: str) -> list[VersionView]:
        """Every version of the article, newest first."""
        with self._session() as s:
            self._editor(s, actor)
            article = self._article(s, slug)
            versions = s.scalars(
                select(ArticleVersion)
                .where(ArticleVersion.article_id == article.id)
                .order_by(ArticleVersion.version.desc())
            ).all()
            return [_view(v, slug) for v in versions]

    def version(self, actor: AuthenticatedUser | None, version_id: int) -> VersionView:
        with self._session() as s:
            self._editor(s, actor)
            version, article = self._version(s, version_id)
            return _view(version, article.slug)

    def diff(self, actor: AuthenticatedUser | None, slug: str, old: int, new: int) -> str:
        """A unified diff of two versions (title, category, tags and body)."""
        by_number = {v.version: v for v in self.history(actor, slug)}
        missing = [n for n in (old, new) if n not in by_number]
        if missing:
            raise StudioNotFound(f"{slug} has no version {missing[0]}")

        def lines(v: VersionView) -> list[str]:
            head = [f"title: {v.title}", f"category: {v.category}", f"tags: {', '.join(v.tags)}", ""]
            return [*head, *v.body.splitlines()]

        return "\n".join(
            difflib.unified_diff(
                lines(by_number[old]),
                lines(by_number[new]),
                fromfile=f"{slug} v{old}",
                tofile=f"{slug} v{new}",
                lineterm="",
            )
        )

    def audit_log(
        self, actor: AuthenticatedUser | None, *, slug: str | None = None, limit: int = 200
    ) -> list[audit.AuditView]:
        with self._session() as s:
            self._editor(s, actor)
            return audit.entries(s, target=slug, limit=limit)

    # writing -------------------------------------------------------------------------------------
    def save_draft(
        self,
        actor: AuthenticatedUser | None,
        *,
        title: str,
        body: str,
        slug: str | None = None,
        category: str = "general",
        tags: str | Sequence[str] = (),
        change_note: str = "",
        base_version: int | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> VersionView:
        """Save the editor's text as a new draft version (nothing changes for customers).

        A new slug (or none: one is made from the title) creates the article. `base_version` is the newest
        version the editor saw: if anyone saved since, the save is refused rather than losing their work.
        Versions are never edited, so every save is a version and this check sees every other save.
        """
        title, body, change_note = one_line(title), mend(body).strip(), mend(change_note)
        category = one_line(category)
        tags = one_line(tags) if isinstance(tags, str) else [one_line(str(t)) for t in tags]
        if not title:
            raise StudioInvalid("the article needs a title")
        if len(title) > MAX_TITLE_CHARS:
            raise StudioInvalid(
                f"the title is {len(title):,} characters; shorten it (at most {MAX_TITLE_CHARS})"
            )
        if len(",".join(_tags(tags))) > MAX_TAGS_CHARS:
            raise StudioInvalid(f"the tags take over {MAX_TAGS_CHARS} characters; use fewer or shorter ones")
        if slug is not None:  # as every stored slug is made: an editor's "Gift Cards" or "a/b" is addressable
            if not re.search(r"[A-Za-z0-9]", slug):
                raise StudioInvalid("the slug needs letters or digits")
            if not _SLUG.fullmatch(slug):  # a made slug (e.g. a gap's `…-ticket-4711`) is kept whole
                slug = slugify(slug)
            if len(slug) > MAX_SLUG_CHARS:
                raise StudioInvalid(
                    f"the slug is {len(slug)} characters; shorten it (at most {MAX_SLUG_CHARS})"
                )
        if not body:
            raise StudioInvalid("the article has no text")
        if len(body) > MAX_BODY_CHARS:
            raise StudioInvalid(
                f"the article is {len(body):,} characters; split it (at most {MAX_BODY_CHARS:,})"
            )
        with self._writing() as s:
            editor = self._editor(s, actor)
            article = self._find(s, slug, lock=True) if slug else None
            if slug and article is None and base_version is not None:
                raise StudioNotFound(f"there is no article {slug!r}")
            if article is None:
                slug = self._free_slug(s, slug or slugify(title, max_chars=MAX_SLUG_CHARS))
            elif article.deleted_at is not None:  # writing a deleted article brings it back (as a draft)
                article.deleted_at = article.deleted_by = None
                audit.record(s, actor=editor.username, action="restored", target=article.slug)
            assert slug is not None
            parsed = ParsedArticle(
                slug=slug,
                title=title,
                category=_category(category),
                updated=date.today().isoformat(),
                tags=_tags(tags),
                body=body,
            )
            if not chunk_article(parsed):
                raise StudioInvalid("the article has no text outside its headings")
            latest = latest_version(s, article.id) if article is not None else None
            if latest is not None and base_version != latest.version:
                raise StudioError(
                    f"{slug} changed since you opened it: version {latest.version} by {latest.created_by} "
                    f"({latest.status}). Reload it and apply your edits again."
                )
            findings = self.scan(parsed)
            version = create_version(s, article=parsed, source="studio", author=editor.username)
            version.based_on = latest.version if latest is not None else None
            version.change_note = change_note.strip() or None
            version.provenance = provenance
            version.scan = [f.as_dict() for f in findings]
            audit.record(
                s,
                actor=editor.username,
                action="draft_saved",
                target=slug,
                version=version.version,
                note=change_note.strip(),
                findings=len(findings),
                **({"provenance": provenance} if provenance else {}),
            )
            s.flush()
            return _view(version, slug)

    def _reload_committed(self) -> None:
        """Serve what was just committed. It stands whatever happens here: a reload that fails (the database
        gone a moment after the commit) is logged and left to the next `maybe_reload`, never reported to
        the editor as a change that did not happen."""
        if self.kb is None:
            return
        try:
            self.kb.reload()
        except Exception:  # whatever it was, the change is committed
            logger.warning("reload after a committed change failed; next refresh serves it", exc_info=True)

    def _free_slug(self, session: Session, wanted: str) -> str:
        slug, n = wanted or "article", 2
        while session.scalar(select(Article.id).where(Article.slug == slug)) is not None:
            slug, n = f"{wanted}-{n}", n + 1
        return slug

    def publish(self, actor: AuthenticatedUser | None, version_id: int, *, note: str = "") -> PublishResult:
        """Serve this draft to customers. Findings of the ingestion scan quarantine it instead."""
        with self._writing() as s:
            editor = self._editor(s, actor)
            version, article = self._version(s, version_id, lock=True)
            if version.status != "draft":
                raise StudioError(_not_publishable(version))
            self._check_newest(s, article, version)
            findings = self.scan(_parsed(version, article.slug))
            if findings:
                version.status = "quarantined"
                version.scan = [f.as_dict() for f in findings]
                audit.record(
                    s,
                    actor=editor.username,
                    action="quarantined",
                    target=article.slug,
                    version=version.version,
                    findings=[f.as_dict() for f in findings],
                )
                return PublishResult(_view(version, article.slug), "quarantined", tuple(findings))
            return self._go_live(s, editor, version, article, action="published", note=note)

    def _check_newest(self, s: Session, article: Article, version: ArticleVersion) -> None:
        """Only the newest version can go live: an older draft would silently undo what came after it."""
        latest = latest_version(s, article.id)
        if latest is not None and latest.version > version.version:
            raise StudioError(
                f"version {version.version} is not the newest of {article.slug} "
                f"(version {latest.version} is, {latest.status}); open the article again"
            )

    def _stage(self, s: Session, version_id: int) -> int:
        """Embed a version's chunks into the index before anything is written (see `_go_live`)."""
        return self.kb.stage(version_docs(s, version_id)) if self.kb is not None else 0

    def _go_live(
        self,
        s: Session,
        editor: AuthenticatedUser,
        version: ArticleVersion,
        article: Article,
        *,
        action: str,
        note: str = "",
        **detail: Any,
    ) -> PublishResult:
        """Embed the new chunks, then flip what is served in one transaction, then drop the old chunks.

        The caller's session commits when its `with` block ends; the index is reloaded after that.
        """
        t0 = time.perf_counter()
        previous = article.published_version_id
        docs = version_docs(s, version.id)
        embedded = self.kb.stage(docs) if self.kb is not None else 0
        t1 = time.perf_counter()
        try:
            self._pause("staged")
            publish(s, version_id=version.id)
            audit.record(
                s,
                actor=editor.username,
                action=action,
                target=article.slug,
                version=version.version,
                previous_version_id=previous,
                note=note.strip(),
                **detail,
            )
            s.flush()
            self._pause("before_commit")
            view = _view(version, article.slug)
            s.commit()
        except BaseException:
            if self.kb is not None:  # nothing was served: the next attempt must embed these again
                self.kb.unstage(d.id for d in docs)
            raise
        t2 = time.perf_counter()
        self._pause("committed")
        self._reload_committed()
        t3 = time.perf_counter()
        timings = {"embed": t1 - t0, "commit": t2 - t1, "reload": t3 - t2, "total": t3 - t0}
        logger.info(
            "%s %s v%s (%d embedded, %.2f s)", action, article.slug, version.version, embedded, t3 - t0
        )
        return PublishResult(view, "published", embedded=embedded, timings_s=timings)

    def rollback(
        self, actor: AuthenticatedUser | None, slug: str, to_version: int, *, note: str = ""
    ) -> PublishResult:
        """Serve an earlier version's text again, as a new version (history stays linear and complete).

        Only a version that was published before can be restored: its text was reviewed then.
        """
        with self._writing() as s:
            editor = self._editor(s, actor)
            article = self._article(s, slug, lock=True)
            source = s.scalar(
                select(ArticleVersion).where(
                    ArticleVersion.article_id == article.id, ArticleVersion.version == to_version
                )
            )
            if source is None:
                raise StudioNotFound(f"{slug} has no version {to_version}")
            if source.published_at is None:
                raise StudioError(
                    f"version {to_version} of {slug} was never published; publish a draft instead"
                )
            if article.published_version_id == source.id:
                raise StudioError(f"version {to_version} is the one being served already")
            self._stage(s, source.id)  # the same text has the same chunk ids: embedded before any write
            restored = create_version(
                s, article=_parsed(source, slug), source="rollback", author=editor.username
            )
            restored.based_on = source.version
            restored.change_note = note.strip() or f"Rollback to version {source.version}"
            restored.scan = list(source.scan or [])
            restored.provenance = {"rollback_of": source.version, "reviewed_by": source.reviewed_by}
            return self._go_live(
                s, editor, restored, article, action="rolled_back", note=note, restored=source.version
            )

    def archive(self, actor: AuthenticatedUser | None, slug: str, *, note: str = "") -> VersionView:
        """Stop serving the article (its versions stay; a rollback serves one again)."""
        with self._writing() as s:
            editor = self._editor(s, actor)
            article = self._article(s, slug, lock=True)
            if article.published_version_id is None:
                raise StudioError(f"{slug} is not published, so there is nothing to archive")
            version = s.get(ArticleVersion, article.published_version_id)
            assert version is not None
            self._unpublish(s, editor, article, version, action="archived", note=note)
            view = _view(version, slug)
        self._reload_committed()
        return view

    def delete(self, actor: AuthenticatedUser | None, slug: str, *, confirm: str, note: str = "") -> None:
        """Remove the article from the studio and from customers. `confirm` must repeat the slug.

        Its versions are kept: old conversations still open the passages they cited, and the audit log
        still shows what was said.
        """
        if confirm.strip() != slug:
            raise StudioInvalid(f"type the article's id ({slug}) to confirm the deletion")
        with self._writing() as s:
            editor = self._editor(s, actor)
            article = self._article(s, slug, lock=True)
            if article.deleted_at is not None:
                raise StudioError(f"{slug} is already deleted")
            if article.published_version_id is not None:
                version = s.get(ArticleVersion, article.published_version_id)
                assert version is not None
                self._unpublish(s, editor, article, version, action="unpublished", note="deleted")
            article.deleted_at, article.deleted_by = utcnow(), editor.username
            bump_revision(s)
            audit.record(s, actor=editor.username, action="deleted", target=slug, note=note.strip())
        self._reload_committed()

    def _unpublish(
        self, s: Session, editor: AuthenticatedUser, article: Article, version: ArticleVersion, **what: str
    ) -> None:
        version.status = "archived"
        article.published_version_id = None
        bump_revision(s)
        audit.record(
            s,
            actor=editor.username,
            action=what["action"],
            target=article.slug,
            version=version.version,
            note=what.get("note", "").strip(),
        )

    # quarantine ----------------------------------------------------------------------------------
    def quarantined(self, actor: AuthenticatedUser | None) -> list[review.QuarantinedVersion]:
        with self._session() as s:
            self._editor(s, actor)
            return review.quarantined(s)

    def release(self, actor: AuthenticatedUser | None, version_id: int, *, note: str) -> PublishResult:
        """The editor has read the findings and serves the version as it is (the note says why)."""
        if not note.strip():
            raise StudioInvalid("say why the findings are acceptable (e.g. the number is our store's)")
        with self._writing() as s:
            editor = self._editor(s, actor)
            version, article = self._version(s, version_id, lock=True)
            if version.status != "quarantined":
                raise StudioError(
                    f"version {version.version} of {article.slug} is {version.status}, not quarantined"
                )
            try:
                review.check_release(s, version)
            except review.ReviewError as exc:
                raise StudioError(str(exc)) from exc
            self._check_newest(s, article, version)
            self._stage(s, version.id)
            version.reviewed_by, version.reviewed_at, version.review_note = (
                editor.username,
                utcnow(),
                note.strip(),
            )
            version.status = "draft"  # publish() moves it on; the review fields say it was released
            return self._go_live(s, editor, version, article, action="released", note=note)

    def reject(self, actor: AuthenticatedUser | None, version_id: int, *, note: str) -> VersionView:
        with self._writing() as s:
            editor = self._editor(s, actor)
            self._version(s, version_id, lock=True)
            try:
                version = review.reject(s, version_id=version_id, editor=editor, note=note)
            except review.ReviewError as exc:
                raise StudioError(str(exc)) from exc
            article = s.get(Article, version.article_id)
            assert article is not None
            return _view(version, article.slug)

    # import --------------------------------------------------------------------------------------
    def preview_upload(
        self, actor: AuthenticatedUser | None, filename: str, data: bytes, *, slug: str | None = None
    ) -> list[UploadPreview]:
        """What importing the file would create: articles, their chunks and scan findings. Writes nothing.

        Raises ArticleFormatError (with a message naming the file) for a file that cannot be read.
        """
        with self._session() as s:
            self._editor(s, actor)
            imported = parse_upload(filename, data, slug=slug)
            previews = []
            for item in imported:
                article = s.scalar(select(Article).where(Article.slug == item.article.slug))
                latest = latest_version(s, article.id) if article is not None else None
                change = "new"
                if latest is not None:  # what customers would read, and what files it: category and tags
                    same = (latest.title, latest.body, latest.category, latest.tags) == (
                        item.article.title.strip(),
                        item.article.body.strip(),
                        _category(item.article.category),
                        ",".join(_tags(item.article.tags)),
                    )
                    change = "unchanged" if same and latest.status != "archived" else "changed"
                previews.append(_preview(item, self.scan(item.article), change))
            return previews

    def import_upload(
        self,
        actor: AuthenticatedUser | None,
        filename: str,
        data: bytes,
        *,
        publish_now: bool = False,
        slug: str | None = None,
    ) -> list[UploadResult]:
        """Import every article of the file as a new draft (and publish it, when asked). An unreadable
        file changes nothing and comes back as one `error` result with the reason."""
        try:
            previews = self.preview_upload(actor, filename, data, slug=slug)
        except ArticleFormatError as exc:
            return [UploadResult(filename, "", "error", message=str(exc))]
        results = []
        for p in previews:
            try:
                results.append(self._import_one(actor, p, publish_now=publish_now))
            except StudioError as exc:  # this article is not imported; the file's others still are
                results.append(UploadResult(filename, p.slug, "error", message=str(exc)))
        return results

    def _import_one(
        self, actor: AuthenticatedUser | None, p: UploadPreview, *, publish_now: bool
    ) -> UploadResult:
        note = f"Imported from {p.filename}"
        with self._session() as s:
            article = s.scalar(select(Article).where(Article.slug == p.slug))
            latest = latest_version(s, article.id) if article is not None else None
            base, pending = (
                (latest.version, latest.id if latest.status == "draft" else None) if latest else (None, None)
            )
            others = (
                latest.created_by
                if latest and pending and actor and latest.created_by != actor.username
                else None
            )
        if p.change != "unchanged" and others:  # on top of it, their draft could never be published
            raise StudioError(
                f"{p.slug} has an unpublished draft (v{base}) by {others}: publish or discard it first; "
                "this file was not imported"
            )
        if p.change == "unchanged" and not (publish_now and pending is not None):
            return UploadResult(p.filename, p.slug, "unchanged", base, "same as the newest version")
        if p.change == "unchanged":  # the same text waits as a draft: publishing it is what was asked
            draft_id, number = pending, base
        else:
            draft = self.save_draft(
                actor,
                title=p.title,
                body=p.article.body,
                slug=p.slug,
                category=p.article.category,
                tags=p.article.tags,
                change_note=note,
                base_version=base,
                provenance={"import": p.filename, "format": p.format, "warnings": list(p.warnings)},
            )
            draft_id, number = draft.id, draft.version
        if not publish_now:
            return UploadResult(p.filename, p.slug, "draft", number, "; ".join(p.warnings))
        assert draft_id is not None
        published = self.publish(actor, draft_id, note=note)
        message = "; ".join(f"{f.kind} in {f.section!r}: {f.detail}" for f in published.findings)
        return UploadResult(p.filename, p.slug, published.status, number, message)

    # try a question --------------------------------------------------------------------------------
    def try_question(
        self, actor: AuthenticatedUser | None, question: str, *, version_id: int | None = None, k: int = 5
    ) -> TryResult:
        """Retrieval as a customer's question would get it, against the published content or with one
        draft in place of its article's published version: scores, and the passage that would be cited."""
        if not question.strip():
            raise StudioInvalid("type a question to try")
        if self.kb is None:
            raise StudioError("the knowledge base is not loaded in this process")
        against = "published"
        with self._session() as s:
            self._editor(s, actor)
            drafts, replacing = [], None
            if version_id is not None:
                version, article = self._version(s, version_id)
                if article.published_version_id != version.id:
                    drafts, replacing = version_docs(s, version.id), article.slug
                    against = f"{version.status} v{version.version} of {article.slug}"
        self.kb.maybe_reload()  # a publish from another process or replica counts too
        retriever = self.kb.preview(drafts, replacing=replacing) if drafts else self.kb.retriever
        result = retriever.search(question.strip(), k=k)
        answer = bool(result.passages) and result.confidence >= self.settings.answer_min_confidence
        return TryResult(
            question=question.strip(),
            against=against,
            passages=tuple(result.passages),
            confidence=result.confidence,
            would_answer=answer,
            cited=result.passages[0] if answer else None,
            lexical_only=result.lexical_only,
        )

    # what customers asked ---------------------------------------------------------------------------
    def gaps(
        self,
        actor: AuthenticatedUser | None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[kb_gaps.GapGroup]:
        """Questions the bot could not answer (or barely), grouped by meaning, most asked first."""
        with self._session() as s:
            self._editor(s, actor)
            return kb_gaps.gap_report(
                s,
                since=since,
                until=until,
                min_confidence=self.settings.answer_min_confidence,
                embedder=self.kb.embedder if self.kb is not None else None,
                limit=limit,
            )

    def draft_from_ticket(self, actor: AuthenticatedUser | None, ticket_id: int) -> VersionView:
        """A new draft article from a resolved handoff: the question, and the answer a person gave."""
        with self._session() as s:
            self._editor(s, actor)
            try:
                suggestion = kb_gaps.draft_from_ticket(s, ticket_id)
            except kb_gaps.GapError as exc:
                raise StudioError(str(exc)) from exc
        return self.save_draft(
            actor,
            title=suggestion.title,
            body=suggestion.body,
            slug=suggestion.slug,
            category="from-support",
            change_note=f"Drafted from support ticket {ticket_id}",
            provenance=suggestion.provenance,
        )

    def usage(self, actor: AuthenticatedUser | None, slug: str, *, limit: int = 50) -> kb_usage.ArticleUsage:
        """The questions the article answered and the feedback those answers got."""
        with self._session() as s:
            self._editor(s, actor)
            return kb_usage.article_usage(s, slug, limit=limit)

    def usage_counts(self, actor: AuthenticatedUser | None) -> dict[str, tuple[int, int, int]]:
        """Per article: (answers, helpful, not helpful)."""
        with self._session() as s:
            self._editor(s, actor)
            return kb_usage.usage_counts(s)


def _summary(article: Article, versions: list[ArticleVersion]) -> ArticleSummary:
    latest = versions[-1]
    served = next((v for v in versions if v.id == article.published_version_id), None)
    shown = served or latest
    if article.deleted_at is not None:
        status = "deleted"
    elif served is not None:
        status = "published"
    elif latest.status in ("quarantined", "draft") and not any(v.published_at for v in versions):
        status = latest.status
    else:
        status = "archived"
    pending = latest.status if latest.status in ("draft", "quarantined") and latest is not served else None
    return ArticleSummary(
        slug=article.slug,
        title=shown.title,
        category=shown.category,
        tags=tuple(_tags(shown.tags)),
        status=status,
        published_version=served.version if served is not None else None,
        latest_version=latest.version,
        pending=pending if status != "deleted" else None,
        updated_at=max(v.created_at for v in versions),
        updated_by=latest.created_by,
    )


def _not_publishable(version: ArticleVersion) -> str:
    return {
        "published": f"version {version.version} is already published",
        "quarantined": f"version {version.version} is quarantined: release or reject it in Quarantine",
        "archived": f"version {version.version} is archived: use Rollback to serve it again",
        "rejected": f"version {version.version} was rejected ({version.review_note or 'no note'})",
    }.get(version.status, f"version {version.version} is {version.status}")


def _preview(item: Imported, findings: list[Finding], change: str) -> UploadPreview:
    return UploadPreview(
        filename=item.filename,
        format=item.format,
        slug=item.article.slug,
        title=item.article.title,
        chunks=tuple(chunk_article(item.article)),
        findings=tuple(findings),
        warnings=tuple(item.warnings),
        change=change,
        article=item.article,
    )
