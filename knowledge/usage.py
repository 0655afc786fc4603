"""What an article did for customers: the questions answered by citing it, and how they rated the answers.

A reply counts for an article when one of its citations names a version of that article (once per reply,
however many passages of the article it quotes). Citations are JSON, read with portable SQL only: the
replies with citations stream from the database in batches and the version ids are matched in Python,
the same on SQLite and Postgres.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from core.models import Feedback, Message
from core.pii import redact
from knowledge.models import Article, ArticleVersion

__all__ = ["AnsweredQuestion", "ArticleUsage", "article_usage", "usage_counts"]

_BATCH = 1000
"""Replies fetched per round trip while streaming."""
_HAS_CITATIONS = (
    Message.role == "assistant",
    Message.reply_to.is_not(None),
    cast(Message.citations, String).not_in(("[]", "null")),
)
"""Bot replies to a question that cite something (the JSON compared as text: portable SQL)."""


@dataclass(frozen=True)
class AnsweredQuestion:
    message_id: int
    """The customer's question."""
    conversation_id: str
    question: str
    """Redacted."""
    reply_id: int
    version: int
    """The article version the reply cited."""
    at: datetime
    """When the reply was given."""
    rating: int | None
    """+1 helpful, -1 not helpful, None when the customer did not say."""
    comment: str | None
    """The customer's feedback comment, redacted."""


@dataclass(frozen=True)
class ArticleUsage:
    slug: str
    answered: int
    """Replies that cited the article."""
    helpful: int
    not_helpful: int
    comments: int
    """Ratings that came with a comment."""
    questions: tuple[AnsweredQuestion, ...]
    """Newest first, at most `limit`."""


def _version_ids(citations: Any) -> set[int]:
    """The version ids a reply's citations name (malformed entries are skipped)."""
    found: set[int] = set()
    if not isinstance(citations, list):
        return found
    for citation in citations:
        value = citation.get("version_id") if isinstance(citation, Mapping) else None
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            found.add(int(value))
    return found


def _cited(
    session: Session,
) -> Iterator[tuple[int, str, int, datetime, Any, int | None, str | None]]:
    """(reply id, conversation, question id, at, citations, rating, comment) of every citing reply, newest
    first, streamed in batches."""
    stmt = (
        select(
            Message.id,
            Message.conversation_id,
            Message.reply_to,
            Message.created_at,
            Message.citations,
            Feedback.rating,
            Feedback.comment,
        )
        .outerjoin(Feedback, Feedback.message_id == Message.id)
        .where(*_HAS_CITATIONS)
        .order_by(Message.id.desc())
        .execution_options(yield_per=_BATCH)
    )
    for reply_id, conversation_id, reply_to, at, citations, rating, comment in session.execute(stmt):
        yield reply_id, conversation_id, int(reply_to), at, citations, rating, comment


def article_usage(session: Session, slug: str, *, limit: int = 50) -> ArticleUsage:
    """How often the article answered customers, their ratings, and the latest questions it answered.

    Raises LookupError for an unknown slug.
    """
    article_id = session.scalar(select(Article.id).where(Article.slug == slug))
    if article_id is None:
        raise LookupError(f"No article {slug!r}.")
    rows = session.execute(
        select(ArticleVersion.id, ArticleVersion.version).where(ArticleVersion.article_id == article_id)
    )
    versions = dict(rows.tuples().all())
    answered = helpful = not_helpful = comments = 0
    latest: list[tuple[int, str, int, datetime, int, int | None, str | None]] = []
    for reply_id, conversation_id, question_id, at, citations, rating, comment in _cited(session):
        cited = sorted(_version_ids(citations) & versions.keys())
        if not cited:
            continue
        answered += 1
        helpful += rating == 1
        not_helpful += rating == -1
        comments += bool(comment and comment.strip())
        if len(latest) < limit:
            latest.append((question_id, conversation_id, reply_id, at, versions[cited[0]], rating, comment))
    texts = _texts(session, [row[0] for row in latest])
    questions = tuple(
        AnsweredQuestion(
            message_id=question_id,
            conversation_id=conversation_id,
            question=redact(texts.get(question_id, "")),
            reply_id=reply_id,
            version=version,
            at=at,
            rating=rating,
            comment=redact(comment) if comment else None,
        )
        for question_id, conversation_id, reply_id, at, version, rating, comment in latest
    )
    return ArticleUsage(slug, answered, helpful, not_helpful, comments, questions)


def _texts(session: Session, message_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(message_ids), _BATCH):
        batch = message_ids[start : start + _BATCH]
        rows = session.execute(select(Message.id, Message.content).where(Message.id.in_(batch)))
        found.update(rows.tuples().all())
    return found


def usage_counts(session: Session) -> dict[str, tuple[int, int, int]]:
    """slug -> (answered, helpful, not_helpful) for every article, in two queries (the second streamed)."""
    rows = session.execute(
        select(ArticleVersion.id, Article.slug).join(Article, Article.id == ArticleVersion.article_id)
    )
    slug_of = dict(rows.tuples().all())
    counts = {slug: [0, 0, 0] for slug in sorted(set(slug_of.values()))}
    stmt = (
        select(Message.citations, Feedback.rating)
        .outerjoin(Feedback, Feedback.message_id == Message.id)
        .where(*_HAS_CITATIONS)
        .execution_options(yield_per=_BATCH)
    )
    for citations, rating in session.execute(stmt):
        for slug in {slug_of[v] for v in _version_ids(citations) if v in slug_of}:
            row = counts[slug]
            row[0] += 1
            row[1] += rating == 1
            row[2] += rating == -1
    return {slug: (a, h, n) for slug, (a, h, n) in counts.items()}
