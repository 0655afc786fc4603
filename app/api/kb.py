"""Knowledge base endpoints: search for other channels (any caller with a token), and the editors' side
(articles, versions, drafts, publish behind the eval change gate, rollback)."""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from app.api import schemas
from app.api.deps import ApiError, Editor, Holder, Service, api_state, limit_searches, limit_shared
from app.kb_gate import kb_eval_check
from knowledge.studio import VersionView

_CHECKING = threading.Lock()
"""Held while this process runs a publish's eval check."""
TicketId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]
VersionId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]
router = APIRouter(prefix="/v1/kb", tags=["knowledge base"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem} for code in (403, 404, 409, 422, 429)
}


def _version(v: VersionView) -> schemas.VersionOut:
    data: dict[str, Any] = asdict(v)
    data["tags"] = list(v.tags)
    data["findings"] = [dict(f) for f in v.findings]
    return schemas.VersionOut(**{k: data[k] for k in schemas.VersionOut.model_fields})


@router.get(
    "/search",
    response_model=schemas.SearchOut,
    dependencies=[Depends(limit_searches)],
    responses={429: {"model": schemas.Problem}},
)
def search(
    request: Request,
    claims: Holder,
    svc: Service,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    k: Annotated[int, Query(ge=1, le=20)] = 5,
) -> schemas.SearchOut:
    """The published passages that best answer `q` (hybrid dense + keyword), for channels that render
    help-center answers themselves. API_RATE_LIMIT_PER_MIN searches a minute per token holder; a token
    whose account was deactivated or whose login ended is refused, as everywhere."""
    if not q.strip():
        raise ApiError(422, "invalid", "q must not be blank")
    state = api_state(request)
    limit_shared(state, state.searches, claims.subject)
    result = svc.kb.search(q, k=k)
    return schemas.SearchOut(
        query=result.query,
        confidence=result.confidence,
        lexical_only=result.lexical_only,
        passages=[
            schemas.PassageOut(
                id=p.id,
                title=p.title,
                section=p.section,
                text=p.text,
                score=p.score,
                article=p.metadata.get("article"),
                version_id=p.metadata.get("version_id"),
            )
            for p in result.passages
        ],
    )


@router.get("/articles", response_model=list[schemas.ArticleOut], responses=_ERRORS)
def articles(
    user: Editor,
    svc: Service,
    search: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str | None, Query(max_length=80)] = None,
) -> list[schemas.ArticleOut]:
    return [
        schemas.ArticleOut(**{**asdict(a), "tags": list(a.tags)})
        for a in svc.studio.articles(user, search=search, category=category)
    ]


@router.get("/articles/{slug}/versions", response_model=list[schemas.VersionOut], responses=_ERRORS)
def history(slug: str, user: Editor, svc: Service) -> list[schemas.VersionOut]:
    return [_version(v) for v in svc.studio.history(user, slug)]


@router.post(
    "/drafts", response_model=schemas.VersionOut, status_code=status.HTTP_201_CREATED, responses=_ERRORS
)
def save_draft(body: schemas.DraftIn, user: Editor, svc: Service) -> schemas.VersionOut:
    """A new draft version (a new article without `slug`); nothing changes for customers."""
    return _version(
        svc.studio.save_draft(
            user,
            title=body.title,
            body=body.body,
            slug=body.slug,
            category=body.category,
            tags=body.tags,
            change_note=body.change_note,
            base_version=body.base_version,
        )
    )


@router.post("/versions/{version_id}/publish", response_model=schemas.PublishOut, responses=_ERRORS)
async def publish(
    version_id: VersionId, body: schemas.PublishIn, user: Editor, svc: Service
) -> schemas.PublishOut:
    """Serve a draft, after the eval cases it affects pass (`KB_EVAL_CHECK`). When some would newly fail,
    nothing changes and the report comes back (`status: blocked`); `override_reason` publishes anyway."""
    # 403, 404 and 409 (not a draft) before the slow check; one check at a time per process (each is an
    # eval subprocess of up to a few minutes)
    seen = await run_in_threadpool(svc.studio.version, user, version_id)
    if seen.status != "draft":
        raise ApiError(409, "conflict", f"version {seen.version} is {seen.status}: only a draft is published")
    if not _CHECKING.acquire(blocking=False):
        raise ApiError(
            429,
            "busy",
            "another publish is being checked on this server; try again shortly",
            {"Retry-After": "30"},
        )
    try:
        report = await run_in_threadpool(kb_eval_check, svc.settings, version_id)
    finally:
        _CHECKING.release()
    note = body.note
    if not report.get("passed"):
        if not (body.override_reason or "").strip():
            return schemas.PublishOut(status="blocked", version=None, eval_check=report)
        failing = ", ".join(d["case"] for d in report.get("newly_failing", [])) or "check not run"
        note = f"{note} {body.override_reason.strip()} [published over the eval check: {failing}]".strip()
    result = await run_in_threadpool(lambda: svc.studio.publish(user, version_id, note=note))
    return schemas.PublishOut(
        status=result.status,
        version=_version(result.version),
        eval_check=report,
        findings=[f.as_dict() for f in result.findings],
    )


@router.post("/articles/{slug}/rollback", response_model=schemas.PublishOut, responses=_ERRORS)
def rollback(slug: str, body: schemas.RollbackIn, user: Editor, svc: Service) -> schemas.PublishOut:
    """Serve an earlier published version's text again, as a new version."""
    result = svc.studio.rollback(user, slug, body.to_version, note=body.note)
    return schemas.PublishOut(status=result.status, version=_version(result.version))
