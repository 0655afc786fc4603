"""Langfuse traces of real turns, with the real SDK: spans captured by an OpenTelemetry in-memory exporter,
then sent over HTTP to a local sink standing in for the Langfuse server, then with that server gone."""

from __future__ import annotations

import gzip
import json
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from core.tracing import TurnTracer, trace_id_for
from evals.scripted import grounded_answer
from tests.integration.test_guardrails import EMAIL, _record, _service

pytestmark = pytest.mark.slow


@pytest.fixture
def tracing_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFUSE_TRACING_ENABLED", "true")  # the suite turns it off (tests/conftest.py)


def _client(**kw: Any) -> Any:
    from langfuse import Langfuse

    from core.tracing import mask_data

    return Langfuse(public_key=f"pk-lf-{uuid.uuid4().hex[:8]}", secret_key="sk-lf-test", mask=mask_data, **kw)


def _conversation(svc: Any, *texts: str) -> tuple[str, str, list[Any]]:
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    conversation = svc.start_conversation(customer_id=customer)
    return (
        conversation,
        customer,
        [svc.send(conversation_id=conversation, customer_id=customer, text=t) for t in texts],
    )


def _hex(trace_id: int) -> str:
    return f"{trace_id:032x}"


def test_a_turn_is_one_trace_with_session_mode_prompt_versions_and_no_personal_data(
    settings, demo_service, tracing_on
):
    exporter = InMemorySpanExporter()
    client = _client(host="http://127.0.0.1:9", span_exporter=exporter)
    svc, _ = _service(settings, demo_service, grounded_answer)
    svc.tracer = TurnTracer(settings, client=client)
    conversation, customer, (turn,) = _conversation(
        svc, f"How do I return an item? Write to me at {EMAIL} please."
    )
    svc.tracer.flush()
    spans = list(exporter.get_finished_spans())
    trace_id = trace_id_for(turn.message.id, kind="customer-turn")
    mine = [s for s in spans if _hex(s.context.trace_id) == trace_id]
    root = next(s for s in mine if s.name == "customer-turn")
    attrs = dict(root.attributes or {})
    assert attrs["session.id"] == conversation and attrs["user.id"] == customer
    assert json.loads(attrs["langfuse.observation.metadata.mode"]) == "full"
    versions = json.loads(attrs["langfuse.observation.metadata.prompt_versions"])
    hashes = json.loads(attrs["langfuse.observation.metadata.prompt_hashes"])
    assert versions["answer"] == 1 and len(hashes["answer"]) == 12
    assert "mode:full" in attrs["langfuse.trace.tags"] and "outcome:answered" in attrs["langfuse.trace.tags"]
    passages = json.loads(attrs["langfuse.observation.metadata.passages"])
    assert passages and {"id", "score"} <= set(passages[0])
    # The graph's nodes and the model call are children of the turn, in the same session.
    names = {s.name for s in mine}
    assert {"screen_input", "retrieve", "answer", "check_output"} <= names, names
    generations = [
        s for s in mine if dict(s.attributes or {}).get("langfuse.observation.type") == "generation"
    ]
    assert generations, names
    assert all(dict(s.attributes or {}).get("session.id") == conversation for s in mine)
    # Personal data never leaves: the agent saw a token, and the mask hook would catch a slip.
    assert all(EMAIL not in str(dict(s.attributes or {})) for s in spans)
    assert "[EMAIL_1]" in attrs["langfuse.observation.input"]
    assert _record(settings, turn.message.id).prompt_hashes == hashes  # the same hash in the turn record


def test_the_turns_before_and_after_a_person_took_over_share_one_session(settings, demo_service, tracing_on):
    from core.users import Role
    from tests.integration.test_guardrails import _staff

    exporter = InMemorySpanExporter()
    client = _client(host="http://127.0.0.1:9", span_exporter=exporter)
    svc, _ = _service(settings, demo_service, grounded_answer)
    svc.tracer = TurnTracer(settings, client=client)
    conversation, customer, turns = _conversation(svc, "I want to talk to a real person")
    assert turns[0].outcome == "handoff"
    agent = _staff(svc.settings, Role.AGENT)
    ticket = next(t.id for t in svc.desk.queue(agent) if t.conversation_id == conversation)
    svc.desk.claim(agent, ticket)
    svc.desk.reply(agent, ticket, "Hello, how can I help?")
    svc.desk.resolve(agent, ticket, outcome="solved")
    svc.send(conversation_id=conversation, customer_id=customer, text="How do I return an item?")
    svc.tracer.flush()
    roots = [s for s in exporter.get_finished_spans() if s.name in ("customer-turn", "handoff-resume")]
    sessions = {dict(s.attributes or {}).get("session.id") for s in roots}
    assert [s.name for s in roots] == ["customer-turn", "handoff-resume", "customer-turn"]
    assert sessions == {conversation}
    assert len({s.context.trace_id for s in roots}) == 3
    assert "handoff:explicit_request" in dict(roots[0].attributes or {})["langfuse.trace.tags"]


def test_without_keys_the_tracer_is_off_and_turns_are_untouched(settings, demo_service):
    svc, _ = _service(settings, demo_service, grounded_answer)
    svc.tracer = TurnTracer(settings)
    assert not svc.tracer.enabled
    _, _, (turn,) = _conversation(svc, "How do I return an item?")
    assert turn.outcome == "answered"


# A local stand-in for the Langfuse server --------------------------------------------------------------


class _Sink(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if body[:2] == b"\x1f\x8b":  # the SDK compresses OTLP exports
            body = gzip.decompress(body)
        self.server.received.append((self.path, body))  # type: ignore[attr-defined]
        answer = b'{"id": "score-1"}' if "/scores" in self.path else b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _turn_ms(svc: Any) -> float:
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    conversation = svc.start_conversation(customer_id=customer)
    t0 = time.perf_counter()
    svc.send(conversation_id=conversation, customer_id=customer, text="How long do refunds take?")
    return (time.perf_counter() - t0) * 1000


def test_spans_and_scores_reach_the_server_and_a_dead_server_does_not_slow_turns(
    settings, demo_service, tracing_on, sink
):
    url = f"http://127.0.0.1:{sink.server_address[1]}"
    client = _client(host=url, timeout=1, flush_interval=0.2)
    svc, _ = _service(settings, demo_service, grounded_answer)
    svc.tracer = TurnTracer(settings, client=client)
    conversation, customer, (turn,) = _conversation(svc, "How do I return an item?")
    svc.feedback(
        conversation_id=conversation,
        customer_id=customer,
        message_id=turn.reply.id,
        rating=-1,
        comment=f"wrong article, mail me at {EMAIL}",
    )
    svc.tracer.flush()
    received: list[tuple[str, bytes]] = list(sink.received)  # type: ignore[attr-defined]
    traces = b"".join(body for path, body in received if path.endswith("/otel/v1/traces"))
    assert b"customer-turn" in traces and conversation.encode() in traces
    scores = b"".join(body for path, body in received if path.endswith("/scores"))
    assert (
        b"customer_feedback" in scores
        and trace_id_for(turn.message.id, kind="customer-turn").encode() in scores
    )
    assert EMAIL.encode() not in traces + scores

    untraced, _ = _service(settings, demo_service, grounded_answer)
    untraced.tracer = TurnTracer(settings)
    _turn_ms(untraced), _turn_ms(svc)  # warm-up
    sink.shutdown()
    sink.server_close()
    # Interleaved, so a busy machine slows both series alike.
    pairs = [(_turn_ms(untraced), _turn_ms(svc)) for _ in range(9)]
    baseline, down = (statistics.median(series) for series in zip(*pairs, strict=True))
    print(f"median turn: {baseline:.1f} ms without tracing, {down:.1f} ms tracing to a stopped server")
    assert down <= baseline + 100


def test_a_scenario_s_verdict_is_scored_on_each_of_its_turns(settings, demo_service, tracing_on, sink):
    from evals.scenarios import SCENARIOS, run_scenario

    client = _client(host=f"http://127.0.0.1:{sink.server_address[1]}", timeout=1)
    tracer = TurnTracer(settings, client=client)
    result = run_scenario(SCENARIOS[0], mode="minimal", kb=demo_service.kb, settings=settings, tracer=tracer)
    tracer.flush()
    bodies = [json.loads(body) for path, body in sink.received if path.endswith("/scores")]  # type: ignore[attr-defined]
    scores = [item for body in bodies for item in (body if isinstance(body, list) else [body])]
    mine = [s for s in scores if s.get("name") == "scenario_passed"]
    assert len(mine) == len(result.turns) > 0
    assert {s["value"] for s in mine} == {1.0 if result.passed else 0.0}
    assert {s["traceId"] for s in mine} == {
        trace_id_for(t.message_id, kind="customer-turn") for t in result.turns
    }
    assert all(SCENARIOS[0].name in s["comment"] for s in mine)
