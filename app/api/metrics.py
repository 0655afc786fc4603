"""Prometheus figures of one API process (`/metrics`), and the ASGI middleware that counts requests and
refuses bodies over `API_MAX_BODY_BYTES` before anything parses them."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.service import ChatService, TurnResult
from core import heap

_STATES = {"closed": 0, "half_open": 1, "open": 2}
_MODES = ("full", "degraded", "minimal", "offline")


class Metrics:
    """One registry per app, so two apps in one process (tests) never share or collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "support_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "support_http_request_seconds",
            "HTTP request latency by route (streams: until the last byte)",
            ["route"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.turns = Counter(
            "support_turns", "Customer turns by mode and outcome", ["mode", "outcome"], registry=r
        )
        self.too_large = Counter("support_http_body_too_large", "Requests refused for their size", registry=r)
        self.mode = Gauge("support_mode", "1 for the mode a turn would start in now", ["mode"], registry=r)
        self.breaker = Gauge(
            "support_breaker_state",
            "Circuit breakers: 0 closed, 1 half-open, 2 open",
            ["dependency"],
            registry=r,
        )
        self.spooled = Gauge("support_spooled_entries", "Entries waiting for the database", registry=r)
        self.pruned = Counter(
            "support_checkpoints_pruned", "Superseded LangGraph checkpoints deleted by sweeps", registry=r
        )
        self.prune_failures = Counter(
            "support_checkpoint_prune_failures", "Conversations whose prune failed (retried)", registry=r
        )
        self.prune_waiting = Gauge(
            "support_checkpoint_prune_waiting",
            "Conversations whose old checkpoints wait for a sweep",
            registry=r,
        )
        self._seen = {"pruned": 0, "failures": 0}
        self._lock = threading.Lock()
        r.register(_GcCollector(heap.pauses()))

    def turn(self, result: TurnResult) -> None:
        self.turns.labels(result.mode, result.outcome).inc()

    def render(self, svc: ChatService | None) -> bytes:
        if svc is not None:
            now = svc.status().mode
            for mode in _MODES:
                self.mode.labels(mode).set(1 if now == mode else 0)
            for snap in svc.health.snapshot():
                self.breaker.labels(snap.name).set(_STATES.get(snap.state, 2))
            self.spooled.set(len(svc.spool))
            janitor = svc.checkpoints
            with self._lock:  # scrapes run on worker threads: each sweep's figures are added once
                self.pruned.inc(janitor.deleted - self._seen["pruned"])
                self.prune_failures.inc(janitor.failures - self._seen["failures"])
                self._seen = {"pruned": janitor.deleted, "failures": janitor.failures}
            self.prune_waiting.set(janitor.waiting())
        return generate_latest(self.registry)


class _GcCollector(Collector):
    """The garbage collector's pauses (each holds the GIL: every request in the process waits) and the
    start-up objects frozen out of them (core.heap)."""

    def __init__(self, pauses: heap.GcPauses) -> None:
        self.pauses = pauses

    def collect(self) -> Iterator[Metric]:
        pauses = HistogramMetricFamily(
            "support_gc_pause_seconds",
            "Garbage collections by generation and how long each held the GIL",
            labels=["generation"],
        )
        bounds = [*(f"{b:g}" for b in heap.BUCKETS_S), "+Inf"]
        for generation, counts in enumerate(self.pauses.counts):
            cumulative = list(itertools.accumulate(counts))
            pauses.add_metric(
                [str(generation)], list(zip(bounds, cumulative, strict=True)), self.pauses.seconds[generation]
            )
        yield pauses
        yield GaugeMetricFamily(
            "support_gc_frozen_objects",
            "Objects alive after start-up, frozen out of garbage collections",
            value=heap.frozen_objects(),
        )


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Request methods with a label of their own; any other a client sends counts as "other" (bounded series)."""


class RequestGuard:
    """Counts every request by its route template, and answers 413 to a body over `max_body` bytes, by
    Content-Length up front or while a chunked body is read."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body: int) -> None:
        self.app, self.metrics, self.max_body = app, metrics, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500, "sent": False}
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        # With Transfer-Encoding too, a server may read the body as chunked whatever the length says (h11
        # does): then only counting the bytes read tells the size.
        counted = declared is None or b"transfer-encoding" in headers
        if declared is not None and not counted and (not declared.isdigit() or int(declared) > self.max_body):
            await self._refuse(send, status)
            self._count(scope, status["code"], started)
            return
        if counted and scope.get("method") in ("POST", "PUT", "PATCH"):
            buffered = await self._read_bounded(receive)  # chunked: read it all, counting, before the app
            if buffered is None:
                await self._refuse(send, status)
                self._count(scope, status["code"], started)
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": buffered, "more_body": False}

            receive = replay

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            self._count(scope, status["code"], started)

    async def _read_bounded(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the limit."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(parts)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    async def _refuse(self, send: Send, status: dict[str, Any]) -> None:
        self.metrics.too_large.inc()
        body = json.dumps(
            {"error": "too_large", "detail": f"the request body is over {self.max_body} bytes"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        status["code"], status["sent"] = 413, True

    def _count(self, scope: Scope, code: int, started: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        self.metrics.requests.labels(method if method in _METHODS else "other", path, str(code)).inc()
        self.metrics.latency.labels(path).observe(time.perf_counter() - started)
