"""Bearer tokens for the HTTP API: signed, expiring, and checkable by any replica without a database read.

A token is `v1.<payload>.<signature>`: the payload (base64url JSON) names the subject, its role and when it
expires; the signature is HMAC-SHA256 over it with `API_SECRET`. Replicas that share the secret accept each
other's tokens. Staff tokens carry the account id and its credentials version, and every staff action checks
the account again against the database (`core.users.require_current`), so a deactivated or demoted account,
or one whose password changed or whose sessions an admin ended, loses access at once (a registered
customer's within `ACCOUNT_CHECK_S`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass

from core.users import AuthenticatedUser, Role

__all__ = ["InvalidToken", "TokenClaims", "guest_claims", "issue", "user_claims", "verify"]

_VERSION = "v1"


class InvalidToken(Exception):
    """Missing, malformed, forged or expired: str() is safe to show."""


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    """For customers, the customer id their conversations belong to; for staff, `user:<id>`."""
    role: Role
    expires_at: int
    user_id: int | None = None
    username: str | None = None
    display_name: str | None = None
    credentials_version: int = 0
    """The account's credentials version at login: a password change or ended sessions void the token."""

    @property
    def customer_id(self) -> str:
        return self.subject

    def user(self) -> AuthenticatedUser | None:
        """The account behind a staff (or registered customer) token; None for a guest."""
        if self.user_id is None or self.username is None:
            return None
        return AuthenticatedUser(
            self.user_id,
            self.username,
            self.display_name or self.username,
            self.role,
            self.credentials_version,
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), f"{_VERSION}.{payload}".encode(), hashlib.sha256).digest())


def guest_claims(*, ttl_s: int, now: float | None = None) -> TokenClaims:
    """A new anonymous customer (a chat widget's visitor): a fresh customer id of their own."""
    now = time.time() if now is None else now
    return TokenClaims(subject=f"guest-{uuid.uuid4().hex}", role=Role.CUSTOMER, expires_at=int(now + ttl_s))


def user_claims(user: AuthenticatedUser, *, ttl_s: int, now: float | None = None) -> TokenClaims:
    now = time.time() if now is None else now
    return TokenClaims(
        subject=f"user:{user.id}",
        role=user.role,
        expires_at=int(now + ttl_s),
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        credentials_version=user.credentials_version,
    )


def issue(claims: TokenClaims, *, secret: str) -> str:
    body: dict[str, object] = {"sub": claims.subject, "role": claims.role.value, "exp": claims.expires_at}
    if claims.user_id is not None:
        body |= {"uid": claims.user_id, "usr": claims.username, "name": claims.display_name}
        if claims.credentials_version:
            body["ver"] = claims.credentials_version
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{_VERSION}.{payload}.{_sign(secret, payload)}"


def verify(token: str, *, secret: str, now: float | None = None) -> TokenClaims:
    """The claims of a token this deployment signed and that has not expired; else InvalidToken.

    A client sends its token with every request: the signature check and the parsing of a token seen
    recently are remembered (only for a token that passed them); the expiry is checked every time."""
    claims = _signed_claims(token, secret)
    if claims.expires_at <= (time.time() if now is None else now):
        raise InvalidToken("token expired; log in again")
    return claims


@functools.lru_cache(maxsize=4096)
def _signed_claims(token: str, secret: str) -> TokenClaims:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        raise InvalidToken("malformed token")
    payload, signature = parts[1], parts[2]
    if not token.isascii() or not hmac.compare_digest(_sign(secret, payload).encode(), signature.encode()):
        raise InvalidToken("invalid token")
    try:
        body = json.loads(_unb64(payload))
        claims = TokenClaims(
            subject=str(body["sub"]),
            role=Role(body["role"]),
            expires_at=int(body["exp"]),
            user_id=int(body["uid"]) if "uid" in body else None,
            username=body.get("usr"),
            display_name=body.get("name"),
            credentials_version=int(body.get("ver", 0)),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidToken("malformed token") from exc
    return claims
