"""Articles with immutable versions, and the chunks of each version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    published_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The version customers are served; a plain column to keep the two tables free of a cycle."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    """Deleted by an editor: never served, hidden from the list; its versions stay for old citations."""
    deleted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ArticleVersion(Base):
    """A version is never edited after creation; only its status moves draft -> published -> archived."""

    __tablename__ = "article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version", name="uq_article_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    """draft | quarantined | published | archived | rejected"""
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(60), default="general")
    tags: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(300), default="")
    updated: Mapped[str] = mapped_column(String(20), default="")
    """The author's 'updated' date from the front matter."""
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(nullable=True)
    scan: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True, default=list)
    """What the ingestion scan found (planted instructions, personal data): why a version is quarantined."""
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The editor who released or rejected a quarantined version."""
    reviewed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    change_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    """What the editor says changed (or "rollback to version 2", "draft from ticket 7")."""
    based_on: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The version number this one was edited or restored from."""
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """Where the text came from when it was not typed in: an import (file, format) or a ticket."""


class Chunk(Base):
    """A section of one version. `chunk_id` depends only on slug, section and text, so unchanged
    text keeps its id (and its embedding) across versions."""

    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("version_id", "chunk_id", name="uq_chunk_in_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("article_versions.id"), index=True)
    chunk_id: Mapped[str] = mapped_column(String(120), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(300))
    anchor: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)


class KbState(Base):
    """One row: the revision of what customers are served. Every publish, rollback, archive or delete bumps
    it in the same transaction, so a serving process sees that its in-memory index is stale."""

    __tablename__ = "kb_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who did what to the knowledge base (and other admin actions), when. Never updated or deleted."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    """draft_saved | published | archived | rolled_back | deleted | released | rejected | imported ..."""
    target: Mapped[str] = mapped_column(String(200), index=True)
    """The article slug (or other object) acted on."""
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
