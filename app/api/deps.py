"""What every route needs: the process's chat service (built once, off the event loop), who is calling
(a verified bearer token), and the per-customer and per-address limits.

The dependencies are `async def` on purpose: each is a few microseconds of work that never blocks, and
FastAPI would run a plain `def` on a worker thread, a hop that costs more than the check itself."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.service import ChatService
from core.config import Settings
from core.ratelimit import RateLimited, RateLimiter
from core.tokens import InvalidToken, TokenClaims, verify
from core.users import ROLE_GRANTS, AuthenticatedUser, Role

logger = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="A token from POST /v1/auth/guest or /v1/auth/login")


class ApiError(Exception):
    """An error for the client: HTTP status, a short code and a sentence it can act on."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


@dataclass
class ApiState:
    """Per process: the settings, the service once built, and the limiters."""

    settings: Settings
    messages: RateLimiter
    logins: RateLimiter
    searches: RateLimiter
    guests: RateLimiter
    """Guests' messages per client address (API_GUEST_LIMIT_PER_MIN)."""
    turns: anyio.CapacityLimiter
    """Turns this process runs at once (API_WORKER_THREADS); other requests are not held up by them."""
    service: ChatService | None = None
    start_error: str | None = None
    ready: threading.Event = threading.Event()  # noqa: RUF009 (replaced per instance in __post_init__)
    accounts: OrderedDict[tuple[int, int], float] = field(default_factory=OrderedDict)
    """Registered customers' logins, by account and credentials version: when the database last said each was
    current (`customer`). By version, so the owner's new login never vouches for a token the reset voided."""

    def __post_init__(self) -> None:
        self.ready = threading.Event()

    @classmethod
    def create(cls, settings: Settings) -> ApiState:
        per_min, guests = settings.api_rate_limit_per_min, settings.api_guest_limit_per_min
        return cls(
            settings=settings,
            messages=RateLimiter("messages", per_minute=per_min, burst=max(1, per_min // 4)),
            logins=RateLimiter("logins", per_minute=settings.api_login_limit_per_min, burst=5),
            searches=RateLimiter("searches", per_minute=per_min, burst=max(1, per_min // 4)),
            guests=RateLimiter("guests", per_minute=guests, burst=max(1, guests // 4)),
            turns=anyio.CapacityLimiter(settings.api_worker_threads),
        )


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


async def service(request: Request) -> ChatService:
    """The chat service, or 503 while this process is still starting (the embedding model loads)."""
    state = api_state(request)
    if state.service is None:
        if state.start_error:
            raise ApiError(503, "unavailable", f"the service failed to start: {state.start_error}")
        raise ApiError(503, "starting", "the service is starting; try again shortly", {"Retry-After": "2"})
    return state.service


async def _claims(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> TokenClaims:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(
            401, "unauthenticated", "send Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
        )
    try:
        return verify(credentials.credentials, secret=api_state(request).settings.token_secret())
    except InvalidToken as exc:
        raise ApiError(401, "unauthenticated", str(exc), {"WWW-Authenticate": "Bearer"}) from exc


Claims = Annotated[TokenClaims, Depends(_claims)]
Service = Annotated[ChatService, Depends(service)]


_ACCOUNTS_KEPT = 100_000
ACCOUNT_CHECK_S = 30.0
"""How long a registered customer's account is taken as still active after the database last said so: a
deactivated account loses access within this, with a token still valid for hours."""


async def customer(request: Request, claims: Claims) -> TokenClaims:
    """Customer endpoints take customer tokens only: staff act through the queue, never as a customer. A
    registered customer's account must still be active (`current`)."""
    if claims.role != Role.CUSTOMER:
        raise ApiError(
            403, "forbidden", "this endpoint is for customers; staff use /v1/queue and /v1/tickets"
        )
    return await current(request, claims)


async def current(request: Request, claims: Claims) -> TokenClaims:
    """Any token whose account, if it has one, is still current: active, same role, the login not ended
    (checked against the database every ACCOUNT_CHECK_S per login; guests have no account)."""
    user = claims.user()
    state = api_state(request)
    if user is not None and state.service is not None:
        login = (user.id, claims.credentials_version)
        checked = state.accounts.get(login)
        if checked is None or time.monotonic() - checked >= ACCOUNT_CHECK_S:
            if not await run_in_threadpool(state.service.account_still_active, user):
                state.accounts.pop(login, None)
                raise ApiError(403, "forbidden", "your account is no longer active; log in again")
            state.accounts[login] = time.monotonic()
            state.accounts.move_to_end(login)
            while len(state.accounts) > _ACCOUNTS_KEPT:  # the least recently checked are asked again
                state.accounts.popitem(last=False)
    return claims


def _staff(*roles: Role):  # type: ignore[no-untyped-def]
    async def check(claims: Claims) -> AuthenticatedUser:
        user = claims.user()
        if user is None or not ROLE_GRANTS[user.role] & set(roles):
            needed = " or ".join(sorted(r.value for r in roles))
            raise ApiError(403, "forbidden", f"this needs the {needed} role")
        return user  # the services check the account again against the database on every action

    return check


Customer = Annotated[TokenClaims, Depends(customer)]
Holder = Annotated[TokenClaims, Depends(current)]
Agent = Annotated[AuthenticatedUser, Depends(_staff(Role.AGENT))]
Editor = Annotated[AuthenticatedUser, Depends(_staff(Role.EDITOR))]
Admin = Annotated[AuthenticatedUser, Depends(_staff(Role.ADMIN))]


def _without_port(host: str) -> str:
    """`203.0.113.7:50311` -> `203.0.113.7`, `[2001:db8::1]:443` -> `2001:db8::1` (some proxies forward the
    client's port too); anything else as it is."""
    if host.startswith("[") and "]" in host:
        return host[1 : host.index("]")]
    return host.partition(":")[0] if host.count(":") == 1 else host


def client_address(request: Request) -> str:
    """Who the per-address limits count: the client's IPv4 address, or its IPv6 /64 (one subscriber's
    network; a client can pick any address inside it), a port a proxy forwarded with it left out. Anything
    else a proxy forwarded (`x-<uuid>`) counts as one client, "unknown", so varying it makes no new one."""
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(_without_port(host))
    except ValueError:
        return "unknown"
    if not isinstance(address, ipaddress.IPv6Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


TOO_MANY = {
    "messages": "too many messages; slow down",
    "logins": "too many token requests from this address",
    "searches": "too many searches; slow down",
    "guests": "too many messages or searches from this address; slow down, or log in",
    "login-failures": "too many failed logins for this username; try again later",
}
"""What a 429 says, by limit (`RateLimited` is answered in app.api.main, wherever it is raised)."""


def refuse_after(wait: float | None, limiter: RateLimiter) -> None:
    if wait:
        raise RateLimited(limiter, wait)


async def limit_messages(request: Request, claims: Customer) -> None:
    """API_RATE_LIMIT_PER_MIN messages per customer (a quarter of it as a burst), and for guests
    API_GUEST_LIMIT_PER_MIN per client address; 429 with Retry-After.

    This replica's own buckets, on the event loop; the handlers then ask the customer's bucket the replicas
    share (`limit_shared`, on their worker thread)."""
    state = api_state(request)
    if claims.user() is None:
        refuse_after(state.guests.take(client_address(request)), state.guests)
    refuse_after(state.messages.take(claims.customer_id), state.messages)


async def limit_searches(request: Request, claims: Claims) -> None:
    """API_RATE_LIMIT_PER_MIN knowledge-base searches per token holder (each embeds the query and asks
    Chroma), and guests' searches count against their address's API_GUEST_LIMIT_PER_MIN with their messages
    (a guest token is free: new ones must not mean new searches); then the shared bucket on the handler's
    thread, as for messages."""
    state = api_state(request)
    if claims.role == Role.CUSTOMER and claims.user() is None:
        refuse_after(state.guests.take(client_address(request)), state.guests)
    refuse_after(state.searches.take(claims.subject), state.searches)


async def limit_logins(request: Request) -> None:
    limiter = api_state(request).logins
    refuse_after(limiter.take(client_address(request)), limiter)


def limit_shared(state: ApiState, limiter: RateLimiter, key: str) -> None:
    """The same limit across every replica (PostgreSQL; one round trip, so on the handler's worker thread):
    429 when `key`'s shared bucket is empty. Without an answer from the database (or before the service is
    built) this replica's bucket, already taken from by the dependency, decides alone."""
    if state.service is not None:
        refuse_after(state.service.take_token(limiter, key), limiter)
