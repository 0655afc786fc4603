"""Customers' endpoints: tokens, conversations, messages (JSON or SSE), transcripts, feedback, contact."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Path, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from agent.service import ChatService, TurnResult
from app.api import schemas
from app.api.deps import (
    ApiError,
    ApiState,
    Customer,
    Service,
    api_state,
    client_address,
    limit_logins,
    limit_messages,
    limit_shared,
)
from core import conversations as conv_store
from core.config import Settings
from core.ratelimit import RateLimiter
from core.tokens import TokenClaims, guest_claims, issue, user_claims
from core.users import Role

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1")

ConversationId = Annotated[
    str,
    Path(
        pattern=f"^{conv_store.UUID_TEXT.pattern}$",
        examples=[str(uuid.UUID(int=1))],
    ),
]
"""Conversation ids are lower-case UUIDs; anything else is a 422 before the database sees it."""


def _message(view: conv_store.MessageView) -> schemas.MessageOut:
    return schemas.MessageOut(**asdict(view))


def turn_out(result: TurnResult) -> schemas.TurnOut:
    return schemas.TurnOut(
        conversation_id=result.conversation_id,
        message=_message(result.message),
        reply=_message(result.reply) if result.reply is not None else None,
        mode=result.mode,
        mode_reason=result.mode_reason,
        outcome=result.outcome,
        confidence=result.confidence,
        replayed=result.replayed,
        spooled=result.spooled,
        held=result.held,
    )


# tokens ------------------------------------------------------------------------------------------------


def _token_out(claims: TokenClaims, settings: Settings) -> schemas.TokenOut:
    """The signed token; customer tokens also say which customer id their conversations belong to."""
    return schemas.TokenOut(
        token=issue(claims, secret=settings.token_secret()),
        role=claims.role.value,
        customer_id=claims.customer_id if claims.role == Role.CUSTOMER else None,
        expires_at=claims.expires_at,
    )


@router.post(
    "/auth/guest",
    response_model=schemas.TokenOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(limit_logins)],
    tags=["auth"],
)
def guest_token(request: Request) -> schemas.TokenOut:
    """A token for a new anonymous customer (a chat widget's visitor), with a customer id of their own."""
    state = api_state(request)
    limit_shared(state, state.logins, client_address(request))
    settings = state.settings
    return _token_out(guest_claims(ttl_s=settings.api_token_ttl_s), settings)


@router.post(
    "/auth/login", response_model=schemas.TokenOut, dependencies=[Depends(limit_logins)], tags=["auth"]
)
def login(body: schemas.LoginIn, request: Request, svc: Service) -> schemas.TokenOut:
    """A token for an account (staff or registered customer); one answer for any wrong credentials."""
    state = api_state(request)
    limit_shared(state, state.logins, client_address(request))
    user = svc.authenticate(username=body.username, password=body.password)
    if user is None:
        raise ApiError(401, "unauthenticated", "wrong username or password")
    settings = api_state(request).settings
    return _token_out(user_claims(user, ttl_s=settings.api_token_ttl_s), settings)


# conversations -----------------------------------------------------------------------------------------


@router.post(
    "/conversations",
    response_model=schemas.ConversationOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(limit_messages)],
    tags=["conversations"],
)
def start_conversation(request: Request, who: Customer, svc: Service) -> schemas.ConversationOut:
    # the customer's shared token is taken by the INSERT itself (RateLimited: a 429)
    started = svc.start_conversation(customer_id=who.customer_id, limit=api_state(request).messages)
    return schemas.ConversationOut(id=started, status="open")


@router.get("/conversations", response_model=list[schemas.ConversationOut], tags=["conversations"])
def list_conversations(who: Customer, svc: Service) -> list[schemas.ConversationOut]:
    return [schemas.ConversationOut(**c) for c in svc.conversations(customer_id=who.customer_id)]


@router.get(
    "/conversations/{conversation_id}",
    response_model=schemas.TranscriptOut,
    responses={404: {"model": schemas.Problem}},
    tags=["conversations"],
)
def transcript(conversation_id: ConversationId, who: Customer, svc: Service) -> schemas.TranscriptOut:
    """Every message of one of the caller's conversations, and whether a person holds it."""
    messages = svc.transcript(conversation_id=conversation_id, customer_id=who.customer_id)
    handoff = svc.desk.status(conversation_id=conversation_id, customer_id=who.customer_id)
    return schemas.TranscriptOut(
        id=conversation_id,
        messages=[_message(m) for m in messages],
        handoff=schemas.HandoffOut(**asdict(handoff)) if handoff else None,
    )


SSE_KEEPALIVE_S = 15.0
"""A comment line goes out after this long without an event, so a proxy or balancer that closes idle
connections (often after 30-60 s) keeps a stream whose turn waits for a worker or a slow model."""


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=schemas.TurnOut,
    dependencies=[Depends(limit_messages)],
    responses={
        200: {
            "description": "The stored message and the stored reply; with `Accept: text/event-stream`, "
            "Server-Sent Events: `token` (a piece of the answer), `reset` (discard what was streamed), "
            "then one `reply` (the TurnOut) or `error`; a `: keep-alive` comment line every 15 s while "
            "nothing else comes.",
            "content": {"text/event-stream": {}},
        },
        404: {"model": schemas.Problem},
        409: {"model": schemas.Problem, "description": "The idempotency key came with a different message."},
        429: {"model": schemas.Problem},
    },
    tags=["conversations"],
)
async def send_message(
    conversation_id: ConversationId,
    body: schemas.MessageIn,
    request: Request,
    who: Customer,
    svc: Service,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Answer one customer message. The message is stored before anything else happens, and the turn ends
    in a stored reply, a queued ticket, or (the database down) both spooled on disk for replay."""
    key = body.idempotency_key or idempotency_key or uuid.uuid4().hex
    if not wants_stream(request.headers.get("accept", "")):
        asked = time.perf_counter()
        state = api_state(request)
        result, waited_ms, ran_ms = await anyio.to_thread.run_sync(
            _timed_send,
            asked,
            svc,
            state.messages,
            conversation_id,
            who.customer_id,
            body.text,
            key,
            limiter=state.turns,
        )
        request.app.state.metrics.turn(result)
        headers = None
        if svc.settings.api_server_timing:
            phases = {"wait": waited_ms, "turn": ran_ms, **result.timings_ms}
            headers = {"Server-Timing": server_timing(phases)}
        # Built and checked once here; returned as is, FastAPI would check and build it again.
        return Response(turn_out(result).model_dump_json(), media_type="application/json", headers=headers)
    await run_in_threadpool(_check_owner, api_state(request), svc, conversation_id, who.customer_id)
    return StreamingResponse(
        _stream(request, svc, conversation_id, who.customer_id, body.text, key),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def wants_stream(accept: str) -> bool:
    """Whether the `Accept` header prefers Server-Sent Events: `text/event-stream` with a weight above 0 and
    no lower than JSON's (`text/event-stream;q=0` refuses them; no header, or `*/*`, is JSON)."""
    weights: dict[str, float] = {}
    for item in accept.split(",")[:20]:
        kind, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[kind.lower()] = weight
    stream = weights.get("text/event-stream", 0.0)
    return stream > 0 and stream >= weights.get("application/json", 0.0)


def _turns(request: Request) -> anyio.CapacityLimiter:
    return api_state(request).turns


def _send(
    svc: ChatService,
    conversation_id: str,
    customer_id: str,
    text: str,
    key: str,
    on_token: Any,
    on_reset: Any,
    limit: RateLimiter | None = None,
) -> TurnResult:
    return svc.send(
        conversation_id=conversation_id,
        customer_id=customer_id,
        text=text,
        idempotency_key=key,
        on_token=on_token,
        on_reset=on_reset,
        limit=limit,
    )


def _timed_send(
    asked: float,
    svc: ChatService,
    limit: RateLimiter,
    conversation_id: str,
    customer_id: str,
    text: str,
    key: str,
) -> tuple[TurnResult, float, float]:
    """The turn, how long it waited for a worker thread and how long it ran on it (ms). The customer's shared
    token is taken by the statement that stores the message (no round trip of its own; RateLimited: a 429)."""
    started = time.perf_counter()
    result = _send(svc, conversation_id, customer_id, text, key, None, None, limit)
    return result, (started - asked) * 1000, (time.perf_counter() - started) * 1000


def server_timing(phases: dict[str, float]) -> str:
    """A `Server-Timing` header value: `wait;dur=1.25, turn;dur=40.10, ...` (names are HTTP tokens)."""
    return ", ".join(f"{name};dur={ms:.2f}" for name, ms in phases.items())


def _check_owner(state: ApiState, svc: ChatService, conversation_id: str, customer_id: str) -> None:
    """The shared rate limit, then 404 for someone else's conversation (while the database answers): both
    before the stream opens."""
    limit_shared(state, state.messages, customer_id)
    try:
        svc.transcript(conversation_id=conversation_id, customer_id=customer_id)
    except conv_store.NotYourConversation:
        raise
    except Exception:  # the turn itself decides what to do when the database is down
        logger.debug("ownership check skipped: database unavailable")


async def _stream(
    request: Request, svc: ChatService, conversation_id: str, customer_id: str, text: str, key: str
) -> AsyncIterator[bytes]:
    """Run the turn on a worker thread and forward its tokens. A client that goes away does not stop the
    turn: its reply is stored all the same and the transcript shows it."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def put(kind: str, data: Any) -> None:
        loop.call_soon_threadsafe(events.put_nowait, (kind, data))

    async def run() -> None:
        try:
            result = await anyio.to_thread.run_sync(
                _send,
                svc,
                conversation_id,
                customer_id,
                text,
                key,
                lambda token: put("token", {"text": token}),
                lambda: put("reset", {}),
                limiter=_turns(request),
            )
            request.app.state.metrics.turn(result)
            put("reply", turn_out(result).model_dump(mode="json"))
        except conv_store.NotYourConversation:
            put("error", {"error": "not_found", "detail": "no such conversation"})
        except conv_store.KeyReused as exc:
            put("error", {"error": "key_reused", "detail": str(exc)})
        except Exception:
            logger.exception("streamed turn failed conversation=%s", conversation_id)
            put(
                "error",
                {"error": "internal", "detail": "the turn failed; the transcript shows what was saved"},
            )

    task = asyncio.create_task(run())
    try:
        while True:
            try:
                kind, data = await asyncio.wait_for(events.get(), timeout=SSE_KEEPALIVE_S)
            except TimeoutError:  # a turn waiting for a worker, or a slow model: say the stream is alive
                yield b": keep-alive\n\n"
                continue
            yield _sse(kind, data)
            if kind in ("reply", "error"):
                break
    finally:
        if not task.done():  # the client left: let the turn finish and store its reply
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)


@router.post(
    "/conversations/{conversation_id}/feedback",
    response_model=schemas.Ack,
    dependencies=[Depends(limit_messages)],
    responses={404: {"model": schemas.Problem}, 422: {"model": schemas.Problem}},
    tags=["conversations"],
)
def feedback(
    conversation_id: ConversationId, body: schemas.FeedbackIn, request: Request, who: Customer, svc: Service
) -> schemas.Ack:
    """Thumbs up (1) or down (-1) on one of the bot's replies, with an optional comment."""
    state = api_state(request)
    limit_shared(state, state.messages, who.customer_id)
    svc.feedback(
        conversation_id=conversation_id,
        customer_id=who.customer_id,
        message_id=body.message_id,
        rating=body.rating,
        comment=body.comment,
    )
    return schemas.Ack(detail="thanks for the feedback")


@router.post(
    "/conversations/{conversation_id}/contact",
    response_model=schemas.Ack,
    dependencies=[Depends(limit_messages)],
    status_code=status.HTTP_201_CREATED,
    responses={404: {"model": schemas.Problem}, 422: {"model": schemas.Problem}},
    tags=["conversations"],
)
def leave_contact(
    conversation_id: ConversationId, body: schemas.ContactIn, request: Request, who: Customer, svc: Service
) -> schemas.Ack:
    """How to reach the customer (email or phone): a ticket for follow-up, spooled if the database is down."""
    state = api_state(request)
    limit_shared(state, state.messages, who.customer_id)
    detail = svc.leave_contact(
        conversation_id=conversation_id,
        customer_id=who.customer_id,
        contact=body.contact,
        note=body.note,
        key=body.idempotency_key,
    )
    return schemas.Ack(detail=detail)


@router.post(
    "/conversations/{conversation_id}/withdraw",
    response_model=schemas.ResumeOut,
    responses={404: {"model": schemas.Problem}, 409: {"model": schemas.Problem}},
    tags=["conversations"],
)
def withdraw(conversation_id: ConversationId, who: Customer, svc: Service) -> schemas.ResumeOut:
    """Stop waiting for a person and go back to the assistant (before anyone has joined)."""
    return schemas.ResumeOut(
        resumed=svc.desk.withdraw(conversation_id=conversation_id, customer_id=who.customer_id)
    )
