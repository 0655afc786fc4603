"""The audit log: every change to the knowledge base, who made it and when. Rows are only ever added."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.models import AuditEntry

__all__ = ["AuditView", "entries", "record"]


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    version: int | None
    detail: dict[str, Any]


def record(
    session: Session, *, actor: str, action: str, target: str, version: int | None = None, **detail: Any
) -> None:
    """Add one entry in the caller's transaction: it commits (or not) with the change it describes."""
    session.add(AuditEntry(actor=actor, action=action, target=target[:200], version=version, detail=detail))


def entries(
    session: Session, *, target: str | None = None, actor: str | None = None, limit: int = 200
) -> list[AuditView]:
    """Newest first."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    return [
        AuditView(e.id, e.created_at, e.actor, e.action, e.target, e.version, dict(e.detail or {}))
        for e in session.scalars(query)
    ]
