"""LLM providers behind the degradation ladder: build, call with deadlines, retry, fail over, account.

Each model in `LLM_MODELS` is built with `init_chat_model` and guarded by its own circuit breaker
(`llm:<provider:model>`). A call runs on a worker thread so a hung connection can never hold the turn
past its deadline; it streams when someone reads the answer as it comes, and is one request-response when
nobody does (a JSON API client: one body to parse instead of a chunk per token). 429, 5xx and timeouts
are retried with jittered backoff (Retry-After honoured) while the model's time slot allows; anything else
moves on to the next model. Providers' own retries are off.
"""

from __future__ import annotations

import contextvars
import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import add_ai_message_chunks
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.utils.json import parse_partial_json

from core.breakers import HealthRegistry
from core.chaos import Corruption
from core.config import Settings
from core.faults import DependencyFault, classify

__all__ = [
    "AllModelsFailed",
    "CallUsage",
    "LLMLadder",
    "ModelSlot",
    "approx_tokens",
    "build_models",
]

logger = logging.getLogger(__name__)

_CALL_THREADS = 64
"""Threads that make one model's calls, reused from call to call. A hung call holds one until the provider's
own timeout ends it; past this many at once, a call waits for a thread (its turn's deadline still holds).
Each model has threads of its own: a hung primary never keeps the fallback waiting."""


def approx_tokens(text: str) -> int:
    """A provider-neutral token estimate (~4 characters per token) for budgets, never for billing."""
    return max(1, (len(text) + 3) // 4) if text else 0


@dataclass(frozen=True)
class ModelSlot:
    name: str
    """`provider:model`, as configured; also the breaker name after `llm:`."""
    model: BaseChatModel | None
    error: str | None = None
    """Why the model could not be built (missing package or credentials); it is then never tried."""

    @property
    def breaker(self) -> str:
        return f"llm:{self.name}"


def _provider_kwargs(provider: str, settings: Settings) -> dict[str, Any]:
    timeout = settings.llm_model_timeout_s
    if provider in ("openai", "azure_openai"):
        return {
            "timeout": timeout,
            "max_retries": 0,
            "stream_usage": True,
            "max_completion_tokens": settings.llm_max_output_tokens,
        }
    if provider == "anthropic":
        return {"timeout": timeout, "max_retries": 0, "max_tokens": settings.llm_max_output_tokens}
    if provider == "ollama":
        return {"client_kwargs": {"timeout": timeout}, "num_predict": settings.llm_max_output_tokens}
    return {}


def build_models(settings: Settings) -> list[ModelSlot]:
    """The configured models in order. One that cannot be built is kept, with its error, never raised."""
    from langchain.chat_models import init_chat_model

    slots: list[ModelSlot] = []
    for name in settings.llm_models:
        provider = name.partition(":")[0]
        kwargs = {**_provider_kwargs(provider, settings), **settings.llm_options.get(name, {})}
        try:
            slots.append(ModelSlot(name, init_chat_model(name, **kwargs)))
        except Exception as exc:  # a missing integration package or API key must not stop the app
            logger.error("LLM %s cannot be built: %s", name, type(exc).__name__)
            slots.append(ModelSlot(name, None, f"{type(exc).__name__}: {str(exc)[:160]}"))
    return slots


@dataclass(frozen=True)
class CallUsage:
    purpose: str
    model: str
    input_tokens: int
    output_tokens: int
    estimated: bool
    """True when the provider reported no usage and the figures are estimates."""
    cost_usd: float | None
    latency_ms: float
    attempts: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "estimated": self.estimated,
            "cost_usd": self.cost_usd,
            "latency_ms": round(self.latency_ms, 2),
            "attempts": self.attempts,
        }


class AllModelsFailed(Exception):
    """No model produced a usable reply in time; `failures` says what happened to each."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{m}: {k}" for m, k in failures) or "no model available")
        self.failures = failures


def _text_of(chunk: AIMessageChunk) -> str:
    """The reply text so far: the `text` argument of a structured answer, or plain content."""
    if chunk.tool_call_chunks:
        args = chunk.tool_call_chunks[0].get("args") or ""
        try:
            parsed = parse_partial_json(args)
        except Exception:  # half a JSON string that cannot be read yet
            return ""
        text = parsed.get("text") if isinstance(parsed, dict) else None
        if not isinstance(text, str):
            return ""
        # An escaped character split across chunks (\ud83d | \ude00) parses as half a character: wait for it.
        return text[:-1] if text and "\ud800" <= text[-1] <= "\udbff" else text
    content = chunk.content
    return content if isinstance(content, str) else ""


def _as_chunk(message: BaseMessage) -> AIMessageChunk:
    """A whole reply in the shape streaming produces (one merged chunk), so one parser reads both."""
    if isinstance(message, AIMessageChunk):
        return message
    if not isinstance(message, AIMessage):
        return AIMessageChunk(content=message.content)
    raw = message.additional_kwargs.get("tool_calls")
    if isinstance(raw, list) and raw:  # OpenAI-style: the calls as sent, in order, arguments unparsed
        calls = [
            tool_call_chunk(
                name=(c.get("function") or {}).get("name"),
                args=(c.get("function") or {}).get("arguments") or "",
                id=c.get("id"),
                index=i,
            )
            for i, c in enumerate(raw)
        ]
    else:
        calls = [
            tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c.get("id"), index=i)
            for i, c in enumerate(message.tool_calls)
        ]
        calls += [  # arguments that did not parse stay as sent, so the parser reports them as malformed
            tool_call_chunk(
                name=c.get("name"), args=c.get("args") or "", id=c.get("id"), index=len(calls) + n
            )
            for n, c in enumerate(message.invalid_tool_calls)
        ]
    return AIMessageChunk(
        content=message.content,
        tool_call_chunks=calls,
        usage_metadata=message.usage_metadata,
        response_metadata=message.response_metadata,
        id=message.id,
    )


def _corrupted(chunks: Iterator[AIMessageChunk], corruption: Corruption | None) -> Iterator[AIMessageChunk]:
    """Apply injected output faults to a stream of chunks (chaos testing only)."""
    if corruption is None:
        yield from chunks
        return
    if corruption == "empty":
        for _ in chunks:
            pass
        return
    collected = list(chunks)
    if corruption == "truncated":
        yield from collected[: max(1, len(collected) // 2)]
        return
    yield from collected
    tool_index = next((c.tool_call_chunks[0].get("index", 0) for c in collected if c.tool_call_chunks), None)
    if tool_index is not None:
        broken = {"index": tool_index, "args": '"}}]{{oops', "id": None, "name": None}
        yield AIMessageChunk(content="", tool_call_chunks=[broken])  # type: ignore[list-item]
    else:
        yield AIMessageChunk(content='{"text": ')


class LLMLadder:
    """The configured models, primary first, with their breakers; runs one purpose at a time."""

    def __init__(
        self,
        slots: Sequence[ModelSlot],
        *,
        health: HealthRegistry,
        settings: Settings,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.slots = list(slots)
        self.health = health
        self.settings = settings
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._bound: dict[tuple[str, tuple[type, ...]], tuple[BaseChatModel, Any]] = {}
        """Each model with each set of tools, bound once: binding converts the schemas every time."""
        self._workers = {
            slot.name: ThreadPoolExecutor(max_workers=_CALL_THREADS, thread_name_prefix=f"llm-{slot.name}")
            for slot in self.slots
        }
        for slot in self.slots:
            breaker = health.breaker(slot.breaker)
            if slot.model is None:
                breaker.force_open(slot.error or "not built", permanent=True)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.slots]

    def usable(self) -> list[ModelSlot]:
        """Models worth trying now, in order (built, and breaker closed or ready to probe)."""
        return [s for s in self.slots if s.model is not None and self.health.available(s.breaker)]

    def _runnable(self, slot: ModelSlot, model: BaseChatModel, tools: tuple[type, ...]) -> Any:
        """The model, with `tools` bound and the first one required; built once per model and tools."""
        if not tools:
            return model
        key = (slot.name, tools)
        built = self._bound.get(key)
        if built is None or built[0] is not model:
            built = self._bound[key] = (model, model.bind_tools(list(tools), tool_choice=tools[0].__name__))
        return built[1]

    # one attempt ---------------------------------------------------------------------------------
    def _attempt(
        self,
        slot: ModelSlot,
        runnable: Any,
        messages: list[BaseMessage],
        *,
        deadline: float,
        on_text: Callable[[str], None] | None,
    ) -> AIMessageChunk:
        """One call on a worker thread; give up at `deadline` whatever the connection does.

        It streams only when `on_text` reads the text as it comes (or a chaos fault corrupts the stream)."""
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        abandoned = threading.Event()
        chaos = self.health.chaos

        def work() -> None:
            if abandoned.is_set():  # waited for a worker past the deadline: the turn has moved on
                return
            try:
                corruption = chaos.before_call(slot.breaker) if chaos is not None else None
                if on_text is None and corruption is None:
                    reply = _as_chunk(runnable.invoke(messages))
                    if not abandoned.is_set():
                        events.put(("chunk", reply))
                        events.put(("end", None))
                    return
                collected: list[AIMessageChunk] = []
                for chunk in _corrupted(runnable.stream(messages), corruption):
                    if abandoned.is_set():
                        return
                    if on_text is None:  # nobody reads the text as it comes: merge once, hand over once
                        collected.append(chunk)
                    else:
                        events.put(("chunk", chunk))
                if collected:
                    events.put(("chunk", add_ai_message_chunks(collected[0], *collected[1:])))
                events.put(("end", None))
            except BaseException as exc:  # handed to the waiting thread, which classifies it
                events.put(("error", exc))

        # The worker runs in this run's context: LangChain's callbacks (the Langfuse generation) and the
        # current trace span follow the call onto its thread.
        self._workers[slot.name].submit(contextvars.copy_context().run, work)
        total: AIMessageChunk | None = None
        shown = ""
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DependencyFault("timeout", f"no reply within the deadline ({slot.name})")
                try:
                    kind, item = events.get(timeout=remaining)
                except queue.Empty:
                    raise DependencyFault("timeout", f"no reply within the deadline ({slot.name})") from None
                if kind == "error":
                    raise item
                if kind == "end":
                    break
                total = item if total is None else total + item
                if on_text is not None:
                    text = _text_of(total)
                    if text.startswith(shown) and len(text) > len(shown):
                        on_text(text[len(shown) :])
                        shown = text
        finally:
            abandoned.set()
        if total is None:
            raise DependencyFault("empty", f"{slot.name} returned nothing")
        return total

    # one model, with retries ---------------------------------------------------------------------
    def _call_model(
        self,
        slot: ModelSlot,
        runnable: Any,
        messages: list[BaseMessage],
        parse: Callable[[AIMessageChunk], Any],
        *,
        deadline: float,
        on_text: Callable[[str], None] | None,
        on_reset: Callable[[], None] | None,
        optional: bool = False,
    ) -> tuple[Any, AIMessageChunk, int]:
        breaker = self.health.breaker(slot.breaker)
        now = time.monotonic()
        slot_deadline = min(deadline, now + self.settings.llm_model_timeout_s)
        # A timeout only counts against the model when it had (nearly) its own time: not when an optional
        # step (query rewrite) or a turn budget already spent elsewhere cut it short.
        timeouts_count = not optional and slot_deadline - now >= 0.8 * self.settings.llm_model_timeout_s
        attempt = 0
        while True:
            attempt += 1
            if not breaker.try_acquire():
                raise DependencyFault("unavailable", "circuit open")
            streamed = [False]

            def note_text(delta: str, streamed: list[bool] = streamed) -> None:
                streamed[0] = True
                if on_text is not None:
                    on_text(delta)

            try:
                message = self._attempt(
                    slot,
                    runnable,
                    messages,
                    deadline=slot_deadline,
                    on_text=note_text if on_text is not None else None,
                )
                value = parse(message)
            except Exception as exc:
                fault = classify(exc)
                if fault.request_rejected or (fault.kind == "timeout" and not timeouts_count):
                    breaker.release()
                else:
                    breaker.record_failure(fault.kind)
                logger.warning("LLM %s attempt %d failed: %s", slot.name, attempt, fault.kind)
                if streamed[0] and on_reset is not None:
                    on_reset()
                if not fault.retryable or attempt > self.settings.llm_max_retries:
                    raise fault from exc
                if not breaker.available():  # this failure opened it: a retry would be refused
                    raise fault from exc
                delay = self._backoff(attempt, fault.retry_after)
                if time.monotonic() + delay + 0.05 >= slot_deadline:
                    raise fault from exc
                self._sleep(delay)
                continue
            breaker.record_success()
            return value, message, attempt

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter on an exponential ceiling; a server's Retry-After is a floor, never shortened."""
        ceiling = min(self.settings.llm_backoff_max_s, self.settings.llm_backoff_s * 2 ** (attempt - 1))
        delay = self._rng.uniform(0, ceiling)
        return max(delay, retry_after) if retry_after is not None else delay

    # the ladder ----------------------------------------------------------------------------------
    def run(
        self,
        purpose: str,
        build: Callable[[ModelSlot, bool], tuple[list[BaseMessage], Sequence[type] | None]],
        parse: Callable[[AIMessageChunk], Any],
        *,
        deadline: float,
        skip: dict[str, str] | None = None,
        only_primary: bool = False,
        on_text: Callable[[str], None] | None = None,
        on_reset: Callable[[], None] | None = None,
        optional: bool = False,
    ) -> LadderResult:
        """Try the usable models in order until one gives a parseable reply before `deadline`.

        `build(slot, is_primary)` returns the messages and the tools (structured output schemas) for that
        model: the primary gets the Full context, fallbacks the shorter Degraded one. Models in `skip`
        (failed earlier in this turn) are passed over and those that fail now are added to it, with how.
        """
        failures: list[tuple[str, str]] = []
        skip = skip if skip is not None else {}
        usable = {s.name for s in self.usable()}
        for slot in self.slots[:1] if only_primary else self.slots:
            if slot.name in skip:
                failures.append((slot.name, skip[slot.name]))
                continue
            if slot.name not in usable:
                failures.append((slot.name, "not built" if slot.model is None else "circuit open"))
                continue
            if deadline - time.monotonic() <= 0.05:
                failures.append((slot.name, "timeout"))
                break
            if slot.model is None:
                continue
            is_primary = slot is self.slots[0]
            try:
                messages, tools = build(slot, is_primary)
                runnable = self._runnable(slot, slot.model, tuple(tools or ()))
            except Exception as exc:  # e.g. a provider that cannot do tool calls: try the next model
                logger.warning("LLM %s cannot take this request: %s", slot.name, type(exc).__name__)
                failures.append((slot.name, "client"))
                skip[slot.name] = "client"
                continue
            t0 = time.perf_counter()
            try:
                value, message, attempts = self._call_model(
                    slot,
                    runnable,
                    messages,
                    parse,
                    deadline=deadline,
                    on_text=on_text,
                    on_reset=on_reset,
                    optional=optional,
                )
            except DependencyFault as fault:
                failures.append((slot.name, fault.kind))
                if not (optional and fault.kind == "timeout") and not fault.request_rejected:
                    skip[slot.name] = fault.kind  # not tried again this turn
                continue
            usage = self._usage(purpose, slot, messages, message, (time.perf_counter() - t0) * 1000, attempts)
            return LadderResult(value=value, slot=slot, primary=is_primary, usage=usage, failures=failures)
        raise AllModelsFailed(failures)

    def _usage(
        self,
        purpose: str,
        slot: ModelSlot,
        messages: list[BaseMessage],
        message: AIMessageChunk,
        latency_ms: float,
        attempts: int,
    ) -> CallUsage:
        meta = message.usage_metadata
        if meta:
            inp, out, estimated = int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0)), False
        else:
            inp = sum(approx_tokens(str(m.content)) for m in messages)
            out = approx_tokens(str(message.content)) + sum(
                approx_tokens(str(c.get("args") or "")) for c in message.tool_call_chunks
            )
            estimated = True
        price = self.settings.llm_prices.get(slot.name)
        cost = None if price is None else round((inp * price[0] + out * price[1]) / 1_000_000, 6)
        return CallUsage(purpose, slot.name, inp, out, estimated, cost, latency_ms, attempts)


@dataclass
class LadderResult:
    value: Any
    slot: ModelSlot
    primary: bool
    usage: CallUsage
    failures: list[tuple[str, str]] = field(default_factory=list)
    """Models that failed before this one answered, and how."""
