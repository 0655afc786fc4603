"""What went wrong with a dependency, in a few kinds the ladder acts on, whatever library raised it."""

from __future__ import annotations

import datetime
import email.utils
import time
from typing import Any, Literal

__all__ = ["DependencyFault", "FaultKind", "classify", "retry_after_seconds"]

FaultKind = Literal["timeout", "rate_limit", "server", "malformed", "empty", "client", "unavailable"]
RETRYABLE: frozenset[str] = frozenset({"timeout", "rate_limit", "server"})


class DependencyFault(Exception):
    """A dependency call failed; `kind` says how, `retry_after` (seconds) when the server said when."""

    def __init__(
        self,
        kind: FaultKind,
        detail: str = "",
        *,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind: FaultKind = kind
        self.detail = detail
        self.retry_after = retry_after
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    @property
    def request_rejected(self) -> bool:
        """The request itself was refused (too long, invalid): the dependency is fine, this call was not."""
        return self.kind == "client" and self.status in (400, 413, 422)


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from a Retry-After (or retry-after-ms) header: a number of seconds or an HTTP date."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
    except (AttributeError, ValueError):
        return None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):  # neither seconds nor a date: as if the server had said nothing
        return None
    if parsed.tzinfo is None:  # "-0000": an HTTP date is always GMT
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return max(0.0, parsed.timestamp() - time.time())


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "status", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def classify(exc: BaseException) -> DependencyFault:
    """Map any client library's exception to a fault kind (duck-typed: no provider SDK is imported)."""
    if isinstance(exc, DependencyFault):
        return exc
    name = type(exc).__name__.lower()
    status = _status(exc)
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if isinstance(exc, TimeoutError) or "timeout" in name or "timedout" in name or status == 408:
        return DependencyFault("timeout", type(exc).__name__)
    if status == 429 or "ratelimit" in name:
        return DependencyFault("rate_limit", type(exc).__name__, retry_after=retry_after_seconds(headers))
    if status is not None and status >= 500:
        return DependencyFault("server", f"HTTP {status}", retry_after=retry_after_seconds(headers))
    if status is not None and 400 <= status < 500:
        return DependencyFault("client", f"HTTP {status}", status=status)
    if "json" in name or "decode" in name or "parse" in name or "validation" in name:
        return DependencyFault("malformed", type(exc).__name__)
    if isinstance(exc, ConnectionError) or "connect" in name:
        return DependencyFault("unavailable", type(exc).__name__)
    return DependencyFault("unavailable", type(exc).__name__)
