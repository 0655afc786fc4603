"""Langfuse traces (the v5 SDK, OpenTelemetry based) of every customer turn and every resumed handoff.

One trace per turn: a root span "customer-turn" whose children are the LangGraph nodes, LLM generations and
retrievals (the LangChain `CallbackHandler`). The conversation is the Langfuse session and the customer the
user, so a conversation's turns, before and after a person took over, read as one session. The root span
carries what the turn record holds (mode, outcome, guard verdicts, prompt names, versions and hashes,
model, retrieved ids and scores, latencies) and the trace is tagged with mode, outcome and handoff reason.
Scores: customer feedback, handoff and resolution (and eval results, through `score`).

Everything traced is already masked (the agent only ever sees PII tokens); the SDK's mask hook redacts
again, so a value that slipped through is never exported. Without keys the tracer is off. Export happens on
the SDK's background thread with a bounded HTTP timeout: a slow or down Langfuse server never holds a turn,
and a tracing failure is logged, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from core.config import Settings
from core.pii import redact

logger = logging.getLogger(__name__)

__all__ = ["TurnTrace", "TurnTracer", "mask_data", "trace_id_for"]

_METADATA_KEYS = (
    "mode",
    "mode_reason",
    "outcome",
    "confidence",
    "guards",
    "handoff_reason",
    "prompt_versions",
    "prompt_hashes",
    "model",
    "passages",
    "latencies_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "error",
)


def trace_id_for(message_id: int, *, kind: str = "turn") -> str:
    """The trace id of the turn that answered customer message `message_id` (or of another `kind` of run
    after it): derived, never stored, so feedback given days later finds its trace."""
    from langfuse import Langfuse

    return Langfuse.create_trace_id(seed=f"support-{kind}:{message_id}")


def mask_data(*, data: Any, **_: Any) -> Any:
    """The SDK's mask hook: personal data in any string of what is exported becomes a type token."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {key: mask_data(data=value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [mask_data(data=value) for value in data]
    return data


@dataclass
class TurnTrace:
    """One traced run: pass `callbacks` to the graph, then `finish` with the turn record."""

    span: Any = None
    callbacks: list[Any] = field(default_factory=list)
    name: str = "customer-turn"
    record: dict[str, Any] | None = None

    def set_input(self, text: str) -> None:
        """The customer's message as the agent saw it (masked)."""
        if self.span is not None:
            try:
                self.span.update(input={"message": text})
            except Exception:
                logger.warning("could not record the trace input", exc_info=True)

    def finish(self, record: dict[str, Any]) -> None:
        self.record = record


class TurnTracer:
    def __init__(self, settings: Settings, *, client: Any | None = None) -> None:
        """`client` is a ready Langfuse client (tests pass one with an in-memory exporter or a local sink)."""
        self._client = client
        if client is None and settings.langfuse_public_key and settings.langfuse_secret_key:
            from langfuse import Langfuse

            self._client = Langfuse(
                public_key=settings.langfuse_public_key,
                secret_key=settings.langfuse_secret_key,
                host=settings.langfuse_host,
                timeout=settings.langfuse_timeout_s,
                environment=settings.env,
                mask=mask_data,
            )
        resources = getattr(self._client, "_resources", None)  # the callback handler finds the client by it
        self._public_key = getattr(resources, "public_key", None) or settings.langfuse_public_key or None

    @property
    def enabled(self) -> bool:
        return self._client is not None

    @property
    def client(self) -> Any | None:
        """The Langfuse client (prompt management shares it), or None when tracing is off."""
        return self._client

    @contextmanager
    def turn(
        self, *, conversation_id: str, customer_id: str, message_id: int, name: str = "customer-turn"
    ) -> Iterator[TurnTrace]:
        """Trace what runs inside: the graph with `trace.callbacks`, then `trace.finish(record)`."""
        if self._client is None:
            yield TurnTrace()
            return
        stack = ExitStack()
        try:
            from langfuse import propagate_attributes
            from langfuse.langchain import CallbackHandler

            span = stack.enter_context(
                self._client.start_as_current_observation(
                    as_type="span",
                    name=name,
                    trace_context={"trace_id": trace_id_for(message_id, kind=name)},
                    metadata={"conversation_id": conversation_id, "message_id": message_id},
                )
            )
            stack.enter_context(
                propagate_attributes(
                    session_id=conversation_id[:200], user_id=customer_id[:200], trace_name=name
                )
            )
            trace = TurnTrace(span=span, callbacks=[CallbackHandler(public_key=self._public_key)], name=name)
        except Exception:  # tracing must never cost a customer their reply
            logger.warning("could not start the trace of message=%s", message_id, exc_info=True)
            stack.close()
            yield TurnTrace()
            return
        with stack:
            yield trace
            if trace.record is not None:
                self._close(trace, trace.record)

    def _close(self, trace: TurnTrace, record: dict[str, Any]) -> None:
        from langfuse import propagate_attributes

        try:
            metadata = {key: record[key] for key in _METADATA_KEYS if key in record}
            trace.span.update(
                output={"reply": record.get("reply"), "citations": len(record.get("citations", []))},
                metadata=metadata,
            )
            tags = [f"mode:{record.get('mode')}", f"outcome:{record.get('outcome')}"]
            if record.get("handoff_reason"):
                tags.append(f"handoff:{record['handoff_reason']}")
            with propagate_attributes(tags=tags):  # set on the root span, which is still the current one
                pass
            if trace.name != "customer-turn":
                return
            self._score(
                "handoff",
                1.0 if record.get("handoff_reason") else 0.0,
                trace_id=trace.span.trace_id,
                data_type="BOOLEAN",
                comment=record.get("handoff_reason"),
            )
        except Exception:
            logger.warning("could not finish the trace", exc_info=True)

    # scores ---------------------------------------------------------------------------------------
    def _score(self, name: str, value: float, **where: Any) -> None:
        if self._client is None:
            return
        try:
            self._client.create_score(
                name=name, value=value, **{k: v for k, v in where.items() if v is not None}
            )
        except Exception:
            logger.warning("could not send the %s score", name, exc_info=True)

    def feedback(self, *, message_id: int, rating: int, comment: str | None = None) -> None:
        """The customer's thumbs (+1 / -1) on the answer to customer message `message_id`."""
        self._score(
            "customer_feedback",
            float(rating),
            trace_id=trace_id_for(message_id, kind="customer-turn"),
            data_type="NUMERIC",
            comment=redact(comment) if comment else None,
        )

    def resolution(self, *, conversation_id: str, outcome: str) -> None:
        """How a person closed the conversation's ticket (a session score: it spans the turns)."""
        self._score(
            "resolution",
            1.0 if outcome == "solved" else 0.0,
            session_id=conversation_id,
            data_type="BOOLEAN",
            comment=outcome,
        )

    def score(self, name: str, value: float, *, message_id: int, comment: str | None = None) -> None:
        """Any other score on a turn's trace (eval results)."""
        self._score(
            name,
            value,
            trace_id=trace_id_for(message_id, kind="customer-turn"),
            data_type="NUMERIC",
            comment=comment,
        )

    def flush(self) -> None:
        """Export what is queued (bounded by the client's HTTP timeout); for shutdown and tests."""
        if self._client is not None:
            try:
                self._client.flush()
            except Exception:
                logger.warning("could not flush the traces", exc_info=True)
