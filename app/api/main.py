"""The HTTP API: `uvicorn app.api.main:app` (stateless: run as many replicas as needed over one Postgres
and one Chroma server). OpenAPI at /openapi.json and /docs; /health, /ready and /metrics for operators."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.service import ChatService
from app.api import customers, desk, kb, schemas
from app.api.deps import TOO_MANY, ApiError, ApiState, api_state
from app.api.metrics import Metrics, RequestGuard
from core.config import Settings, get_settings
from core.conversations import InvalidFeedback, KeyReused, NotYourConversation
from core.db import DatabaseUnavailable
from core.faults import DependencyFault
from core.ratelimit import RateLimited
from core.users import PermissionDenied, UserError
from handoff import queue
from handoff.tickets import InvalidContact
from knowledge.chunking import ArticleFormatError
from knowledge.studio import StudioError, StudioInvalid, StudioNotFound

logger = logging.getLogger(__name__)

# Errors a caller can cause or act on: (status, code). Order matters: the first match wins.
_ERRORS: list[tuple[type[BaseException], int, str]] = [
    (NotYourConversation, 404, "not_found"),
    (KeyReused, 409, "key_reused"),
    (queue.TicketNotFound, 404, "not_found"),
    (PermissionDenied, 403, "forbidden"),
    (queue.ClaimConflict, 409, "conflict"),
    (queue.NotAssignee, 409, "not_assignee"),
    (queue.KeyReused, 409, "key_reused"),
    (queue.QueueError, 409, "conflict"),
    (InvalidFeedback, 422, "invalid"),
    (InvalidContact, 422, "invalid"),
    (ArticleFormatError, 422, "invalid"),
    (StudioNotFound, 404, "not_found"),
    (StudioInvalid, 422, "invalid"),
    (StudioError, 409, "conflict"),
    (UserError, 400, "invalid"),
    (DataError, 422, "invalid"),
    (IntegrityError, 409, "conflict"),
    (DatabaseUnavailable, 503, "unavailable"),
    (DependencyFault, 503, "unavailable"),
    (SQLAlchemyError, 503, "unavailable"),
]


def _problem(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(schemas.Problem(error=error, detail=detail).model_dump(), status, headers=headers)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _problem(exc.status, exc.error, exc.detail, exc.headers)

    for kind, status, code in _ERRORS:

        def handler(_: Request, exc: Exception, status: int = status, code: str = code) -> JSONResponse:
            if status == 503:  # we cannot reach the database: say so, never the driver's text
                logger.warning("request failed: database unavailable (%s)", type(exc).__name__)
                return _problem(
                    503, code, "the database is unavailable; try again shortly", {"Retry-After": "5"}
                )
            if isinstance(exc, SQLAlchemyError):  # the database refused the value: never echo its text
                logger.warning("request refused by the database (%s)", type(exc).__name__)
                return _problem(status, code, "the database refused a value of this request")
            return _problem(status, code, str(exc) or code.replace("_", " "))

        app.add_exception_handler(kind, handler)  # type: ignore[arg-type]

    @app.exception_handler(RateLimited)
    async def limited(_: Request, exc: RateLimited) -> JSONResponse:
        retry = {"Retry-After": str(max(1, round(exc.wait)))}
        return _problem(429, "rate_limited", TOO_MANY[exc.limiter.name], retry)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _problem(422, "invalid", invalid_detail(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        """The framework's own refusals (a body it cannot parse, an unknown path or method) in the same shape
        as every other error."""
        code = _HTTP_CODES.get(exc.status_code, "invalid" if exc.status_code < 500 else "internal")
        return _problem(exc.status_code, code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return _problem(500, "internal", "something went wrong on our side; it has been logged")


_HTTP_CODES = {400: "invalid", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "not_allowed"}


def invalid_detail(errors: Sequence[Any]) -> str:
    """What was wrong with a request, field by field (`body.text: String should have at least 1 character`),
    never echoing the input: it may be personal, or (a lone surrogate, an infinite number) not even
    encodable as the JSON answer. A field the API does not know is not named either (its name is input)."""
    parts = []
    for error in errors[:5]:
        loc = tuple(error.get("loc", ()))
        if error.get("type") == "extra_forbidden" and loc:
            loc = (*loc[:-1], "(a field this endpoint does not take)")
        where = ".".join(str(part) for part in loc) or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return ("; ".join(parts) + more)[:1000]


def _problems_in_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's OpenAPI schema, with every 422 answer documented as the Problem it is (FastAPI documents its
    own default shape, which this API does not send)."""
    build = app.openapi
    patched: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if not patched:
            schema = build()
            problem = {"$ref": "#/components/schemas/Problem"}
            for item in schema.get("paths", {}).values():
                for operation in item.values():
                    answer = operation.get("responses", {}).get("422")
                    if answer is not None:
                        answer["content"] = {"application/json": {"schema": problem}}
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            components.setdefault("Problem", schemas.Problem.model_json_schema())
            patched.append(schema)
        return patched[0]

    return openapi


RATE_SWEEP_S = 300.0
"""How often a replica deletes the shared rate buckets that are full again (idle long enough)."""


async def _background(state: ApiState) -> None:
    """Keep the mode current and replay spooled turns once the database answers, with or without traffic;
    now and then, delete the idle shared rate buckets."""
    swept = time.monotonic()
    while True:
        await asyncio.sleep(state.settings.api_background_s)
        svc = state.service
        if svc is None:
            continue
        try:
            await run_in_threadpool(svc.replay_spool)
            await run_in_threadpool(svc.status)
            if time.monotonic() - swept >= RATE_SWEEP_S:
                swept = time.monotonic()
                limiters = (state.messages, state.logins, state.searches, svc.login_failures)
                idle_s = max(limiter.full_after_s for limiter in limiters)
                await run_in_threadpool(svc.sweep_tokens, idle_s)
        except Exception:
            logger.warning("background health pass failed", exc_info=True)


_LAST_SWEEP_S = 5.0


async def _last_sweep(state: ApiState) -> None:
    """At shutdown (a deploy, a scale-down), prune what this replica's latest turns superseded, so it is not
    left until the conversation's next turn. On a daemon thread, waited for at most _LAST_SWEEP_S: a slow or
    hung database never holds up the exit."""
    svc = state.service
    if svc is None or state.settings.checkpoint_prune_s <= 0 or not svc.checkpoints.waiting():
        return
    done = threading.Event()

    def sweep() -> None:
        try:
            svc.checkpoints.sweep()
        except Exception:
            logger.warning("last checkpoint sweep failed", exc_info=True)
        finally:
            done.set()

    threading.Thread(target=sweep, name="last-checkpoint-sweep", daemon=True).start()
    if not await asyncio.to_thread(done.wait, _LAST_SWEEP_S):
        logger.warning("last checkpoint sweep still running after %.0f s; not waited for", _LAST_SWEEP_S)


def create_app(
    settings: Settings | None = None,
    *,
    service: ChatService | None = None,
    build_service: Callable[[], ChatService] | None = None,
) -> FastAPI:
    """The app. `service` serves at once (tests); otherwise the service is built after start-up, off the
    event loop, by `build_service` (default: the process's `agent.runtime.get_service`)."""
    settings = settings or (service.settings if service else get_settings())
    settings.token_secret()  # prod refuses to start without a real API_SECRET
    state = ApiState.create(settings)
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        builder = asyncio.create_task(_build(state, service, build_service))
        background = asyncio.create_task(_background(state))
        try:
            yield
        finally:
            background.cancel()
            builder.cancel()
            await _last_sweep(state)

    app = FastAPI(
        title="Support agent API",
        version="1.0.0",
        description="Customer conversations with cited answers, the human handoff queue and the knowledge "
        "base. Authenticate with `Authorization: Bearer <token>` from /v1/auth/guest (customers) or "
        "/v1/auth/login (accounts). Errors are `{error, detail}`.",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry spans and metrics are off: /metrics serves the HTTP figures, Langfuse
        # traces each turn, and with Langfuse configured (it installs the global tracer provider) every
        # request, health polls included, would otherwise make a span of its own.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.api = state
    app.state.metrics = metrics
    _install_errors(app)
    app.include_router(customers.router)
    app.include_router(desk.router)
    app.include_router(kb.router)
    _ops_routes(app, metrics)
    app.openapi = _problems_in_openapi(app)  # type: ignore[method-assign]
    app.add_middleware(RequestGuard, metrics=metrics, max_body=settings.api_max_body_bytes)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    return app


async def _build(
    state: ApiState, service: ChatService | None, build: Callable[[], ChatService] | None
) -> None:
    if service is None:
        if build is None:
            from agent.runtime import get_service

            build = get_service
        try:
            service = await run_in_threadpool(build)
        except Exception as exc:
            logger.exception("the chat service failed to start")
            state.start_error = type(exc).__name__
            return
    state.service = service
    await run_in_threadpool(service.status)
    state.ready.set()
    logger.info("API ready")


def _operator(request: Request) -> None:
    """With API_OPS_TOKEN set, only a request bearing it; 401 otherwise (constant-time comparison)."""
    expected = api_state(request).settings.api_ops_token
    if not expected:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise ApiError(
            401, "unauthenticated", "this endpoint needs the operators' token", {"WWW-Authenticate": "Bearer"}
        )


_OPERATORS = {"dependencies": [Depends(_operator)], "responses": {401: {"model": schemas.Problem}}}


def _ops_routes(app: FastAPI, metrics: Metrics) -> None:
    @app.get("/health", response_model=schemas.HealthOut, tags=["operations"], **_OPERATORS)
    def health(request: Request) -> schemas.HealthOut:
        """Liveness, the mode a turn would start in and why, every breaker, and spooled entries."""
        svc = api_state(request).service
        if svc is None:
            return schemas.HealthOut(status="starting", mode=None, reason=None, breakers=[], spooled=0)
        decision = svc.status()  # the rung a turn would start on now (a turn may still drop lower)
        return schemas.HealthOut(
            status="ok" if decision.mode == "full" else "degraded",
            mode=decision.mode,
            reason=decision.reason,
            breakers=[
                schemas.BreakerOut(
                    name=b.name, state=b.state, retry_in_s=b.retry_in_s, last_error=b.last_error
                )
                for b in svc.health.snapshot()
            ],
            spooled=len(svc.spool),
        )

    @app.get("/ready", tags=["operations"], responses={503: {"model": schemas.Problem}})
    def ready(request: Request) -> dict[str, Any]:
        """200 once this process serves turns (in any mode: Offline still stores and spools); 503 before."""
        state = api_state(request)
        if state.service is None or not state.ready.is_set():
            raise ApiError(503, "starting", state.start_error or "still starting", {"Retry-After": "2"})
        last = state.service.health.last_mode
        return {"ready": True, "mode": last.mode if last else None}

    @app.get("/metrics", tags=["operations"], response_class=Response, **_OPERATORS)
    def prometheus(request: Request) -> Response:
        """Prometheus text format: requests, latency, turns by mode and outcome, breakers, mode, spool."""
        return Response(
            metrics.render(api_state(request).service), media_type="text/plain; version=0.0.4; charset=utf-8"
        )


app = create_app()
