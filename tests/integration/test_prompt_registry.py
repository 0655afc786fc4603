"""The prompt registry with Langfuse prompt management: files pushed by the sync, a turn served an edited
prompt from the server (its version and hash recorded), and the files used whenever the server's prompt is
unusable or the server is gone. The server is a local stand-in speaking the prompts API on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from agent.prompts import REGISTRY
from agent.prompts import answer as answer_prompt
from agent.prompts.store import PromptStore, local, text_hash, texts_of
from agent.prompts.sync import sync
from core.tracing import TurnTracer
from evals.scripted import grounded_answer
from tests.integration.test_guardrails import _record, _service

pytestmark = pytest.mark.slow

PREFIX = "/api/public/v2/prompts"


class _Prompts(BaseHTTPRequestHandler):
    """GET one prompt by name and label, POST a new version (labels move to the newest)."""

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        name = unquote(url.path.removeprefix(PREFIX + "/"))
        label = parse_qs(url.query).get("label", ["production"])[0]
        found = [p for p in self.server.prompts.get(name, []) if label in p["labels"]]  # type: ignore[attr-defined]
        if not found:
            self._send(404, {"message": "Prompt not found"})
            return
        self._send(200, found[-1])

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        versions = self.server.prompts.setdefault(body["name"], [])  # type: ignore[attr-defined]
        for older in versions:
            older["labels"] = [x for x in older["labels"] if x not in body.get("labels", [])]
        prompt = {
            "name": body["name"],
            "version": len(versions) + 1,
            "prompt": body["prompt"],
            "type": "text",
            "config": body.get("config") or {},
            "labels": body.get("labels") or [],
            "tags": body.get("tags") or [],
        }
        versions.append(prompt)
        self.server.posts += 1  # type: ignore[attr-defined]
        self._send(200, prompt)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Prompts)
    httpd.prompts = {}  # type: ignore[attr-defined]
    httpd.posts = 0  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _client(server: ThreadingHTTPServer) -> Any:
    from langfuse import Langfuse

    return Langfuse(
        public_key=f"pk-lf-prompts-{server.server_address[1]}",  # the SDK keeps one client per key
        secret_key="sk-lf-prompts",
        host=f"http://127.0.0.1:{server.server_address[1]}",
        tracing_enabled=False,
        timeout=2,
    )


def test_the_sync_pushes_each_prompt_file_once_and_then_only_changes(server):
    client = _client(server)
    assert {what for _, what in sync(client, label="production", dry_run=True)} == {"would create"}
    assert server.posts == 0  # type: ignore[attr-defined]
    first = sync(client, label="production")
    assert sorted(name for name, what in first if what == "created") == sorted(REGISTRY)
    again = sync(client, label="production")
    assert {what for _, what in again} == {"unchanged"} and server.posts == len(REGISTRY)  # type: ignore[attr-defined]
    stored = server.prompts["answer"][-1]  # type: ignore[attr-defined]
    assert json.loads(stored["prompt"]) == texts_of(answer_prompt)
    assert stored["config"] == {"file_version": answer_prompt.VERSION, "hash": REGISTRY["answer"][1]}


def _edited_answer(server: ThreadingHTTPServer, system: str) -> None:
    texts = {**texts_of(answer_prompt), "SYSTEM": system}
    _client(server).create_prompt(
        name="answer", prompt=json.dumps(texts), type="text", labels=["production"], config={}
    )


def test_a_turn_is_served_the_prompt_edited_in_langfuse_and_records_its_version_and_hash(
    settings, demo_service, server
):
    sync(_client(server), label="production")
    edited = answer_prompt.SYSTEM.replace("Be brief, warm and plain", "Be brief, cheerful and plain")
    _edited_answer(server, edited)
    svc, model = _service(settings, demo_service, grounded_answer)
    svc.settings = svc.settings.model_copy(update={"prompts_from_langfuse": True, "prompt_cache_s": 0})
    svc.prompts = PromptStore(svc.settings, client=_client(server))
    customer = "cust-prompts"
    conversation = svc.start_conversation(customer_id=customer)
    turn = svc.send(conversation_id=conversation, customer_id=customer, text="How do I return an item?")
    assert turn.outcome == "answered"
    system = str(model.prompts[-1][0].content)
    assert "Be brief, cheerful and plain" in system and "{company}" not in system
    record = _record(svc.settings, turn.message.id)
    assert record.prompt_versions["answer"] == 2  # Langfuse's version (1 was the sync of the file)
    assert record.prompt_hashes["answer"] == text_hash({**texts_of(answer_prompt), "SYSTEM": edited})
    assert record.prompt_hashes["answer"] != REGISTRY["answer"][1]


def test_the_file_is_used_when_the_server_prompt_is_unusable_or_the_server_is_gone(settings, server):
    config = settings.model_copy(update={"prompts_from_langfuse": True, "prompt_cache_s": 0})
    store = PromptStore(config, client=_client(server))
    assert store.get(answer_prompt) == local(answer_prompt)  # nothing pushed yet: 404
    _edited_answer(server, "Answer {customer_name} in any way you like.")  # an unknown placeholder
    assert store.get(answer_prompt).source == "file"
    server.shutdown()
    server.server_close()
    assert store.get(answer_prompt) == local(answer_prompt)
    off = PromptStore(settings, client=_client(server))  # PROMPTS_FROM_LANGFUSE is off by default
    assert off.get(answer_prompt).source == "file"


def test_without_keys_the_service_reads_the_files(settings, demo_service):
    svc, _ = _service(settings, demo_service, grounded_answer)
    assert TurnTracer(settings).client is None
    assert svc.prompts.get(answer_prompt) == local(answer_prompt)
