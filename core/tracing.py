"""Traces of customer turns in Langfuse: one span per turn carrying what the turn record holds (mode,
outcome, every guard verdict, handoff reason, prompt versions, model, latencies).

Everything traced is already masked (the agent only ever sees PII tokens). Without keys the tracer is off;
a tracing failure is logged and never fails or slows a turn (the SDK exports in the background; nothing
here flushes on the request path).
"""

from __future__ import annotations

import logging
from typing import Any

from core.config import Settings

logger = logging.getLogger(__name__)

__all__ = ["TurnTracer"]

_METADATA_KEYS = (
    "mode",
    "mode_reason",
    "outcome",
    "confidence",
    "guards",
    "handoff_reason",
    "prompt_versions",
    "model",
    "latencies_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "error",
)


class TurnTracer:
    def __init__(self, settings: Settings, *, client: Any | None = None) -> None:
        """`client` is a ready Langfuse client (tests pass one with an in-memory exporter)."""
        self._client = client
        if client is None and settings.langfuse_public_key and settings.langfuse_secret_key:
            from langfuse import Langfuse

            self._client = Langfuse(
                public_key=settings.langfuse_public_key,
                secret_key=settings.langfuse_secret_key,
                host=settings.langfuse_host,
            )

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def turn(self, *, conversation_id: str, message_id: int, text: str, record: dict[str, Any]) -> None:
        """Trace one finished turn. `text` and `record["reply"]` must be the masked versions."""
        if self._client is None:
            return
        metadata = {key: record.get(key) for key in _METADATA_KEYS}
        metadata |= {"conversation_id": conversation_id, "message_id": message_id}
        try:
            with self._client.start_as_current_observation(
                as_type="span",
                name="customer-turn",
                input={"message": text},
                metadata=metadata,
            ) as span:
                span.update(
                    output={"reply": record.get("reply"), "citations": len(record.get("citations", []))}
                )
        except Exception:  # tracing must never cost a customer their reply
            logger.warning("could not trace the turn of message=%s", message_id, exc_info=True)
