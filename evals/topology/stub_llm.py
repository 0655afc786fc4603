"""A local OpenAI-compatible chat-completions server for tests and load runs: real HTTP, scripted failures,
stdlib only. As a process (the load and chaos runs stop and start it):
`python -m evals.topology.stub_llm --port N [--latency-ms 50]`.

The app's own `init_chat_model("openai:…", base_url=stub.base_url)` talks to it exactly as to OpenAI, so
retries, Retry-After, deadlines, malformed output and fail-over are exercised through the real client.

    with StubOpenAI() as stub:
        stub.script(["500", "429:0.3", "ok"])   # one behaviour per request, then `default`
        ...
        assert len(stub.requests) == 3

Behaviours: "ok" (a cited `Answer` tool call, or plain text when the request has no tools), "500",
"429:<seconds>" (Retry-After), "hang" (never answers until `release()` or `stop()`), "malformed" (200 with a
broken body, or broken tool-call arguments when streaming), "truncated" (the body stops halfway and the
connection drops) and "empty" (200, no content, no tool calls).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["BEHAVIOURS", "RecordedRequest", "StubOpenAI", "first_sentence_of_passage"]

BEHAVIOURS = ("ok", "500", "429", "hang", "malformed", "truncated", "empty")
PIECE_CHARS = 12
"""Tool-call arguments and text are streamed in pieces this long, so a reply arrives in many chunks."""

_PASSAGE = re.compile(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")


@dataclass
class RecordedRequest:
    """One request as the stub saw it, and what it did with it."""

    path: str
    body: Any
    """The parsed JSON body (None when it was not JSON)."""
    headers: dict[str, str]
    at: float
    """`time.monotonic()` when the request arrived."""
    behaviour: str
    reply: str | None = None
    """The text content or tool-call arguments that were (meant to be) sent."""
    usage: dict[str, int] | None = None
    """The usage reported (in the body, or in the final stream chunk when it was asked for)."""

    @property
    def streaming(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def has_tools(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("tools"))


def _parse_behaviour(raw: str) -> tuple[str, float | None]:
    name, _, arg = raw.partition(":")
    if name not in BEHAVIOURS:
        raise ValueError(f"unknown stub behaviour {raw!r}; expected one of {BEHAVIOURS}")
    if name == "429":
        return name, float(arg or "1")
    if arg:
        raise ValueError(f"behaviour {name!r} takes no argument")
    return name, None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return ""


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def first_sentence_of_passage(prompt: str, n: int = 1) -> str | None:
    """The first sentence of passage `n` of an answer prompt, on one line; None without that passage."""
    for number, text in _PASSAGE.findall(prompt):
        if int(number) == n:
            first = _SENTENCE_END.split(" ".join(text.split()), maxsplit=1)[0]
            return _MARKER.sub("", first).strip() or None
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a hung or idle keep-alive handler must never hold up stop()
    stub: StubOpenAI

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its deadline passed) resets the connection: expected, not an error."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, like the real API
    disable_nagle_algorithm = True  # headers and body go out in two writes: never wait 40 ms for an ACK
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures, not access logs
        pass

    def setup(self) -> None:
        super().setup()
        self.server.stub._track(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.stub._untrack(self.connection)

    def do_GET(self) -> None:
        self._error(404, "not_found", f"no route for GET {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        stub = self.server.stub
        if self.path.rstrip("/") != "/v1/chat/completions":
            stub._record(self, body, "not_found")
            self._error(404, "not_found", f"no route for POST {self.path}")
            return
        if not isinstance(body, dict):
            stub._record(self, body, "bad_request")
            self._error(400, "invalid_request_error", "body must be a JSON object")
            return
        behaviour, arg = stub._next()
        record = stub._record(self, body, behaviour if arg is None else f"{behaviour}:{arg:g}")
        if stub.latency_s:
            time.sleep(stub.latency_s)
        if behaviour == "500":
            self._error(500, "server_error", "The server had an error while processing your request.")
        elif behaviour == "429":
            self._error(429, "rate_limit_exceeded", "Rate limit reached.", {"Retry-After": f"{arg:g}"})
        elif behaviour == "hang":
            stub._unblocked.wait()
            self.close_connection = True  # released or stopping: drop the connection unanswered
        elif record.streaming:
            self._stream(stub, body, record, behaviour)
        else:
            self._complete(stub, body, record, behaviour)

    # plain responses -------------------------------------------------------------------------------
    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        kind = "requests" if status == 429 else code
        error = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        self._send(status, json.dumps(error).encode(), headers)

    def _complete(
        self, stub: StubOpenAI, body: dict[str, Any], record: RecordedRequest, behaviour: str
    ) -> None:
        tool, content = stub._reply(body, record, behaviour)
        message: dict[str, Any] = {"role": "assistant", "content": None if tool else content}
        if tool:
            message["tool_calls"] = [
                {
                    "id": tool["id"],
                    "type": "function",
                    "function": {"name": tool["name"], "arguments": content},
                }
            ]
        payload = {
            **_envelope(body, "chat.completion"),
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool else "stop"}],
            "usage": record.usage,
        }
        data = json.dumps(payload).encode()
        if behaviour == "malformed":
            self._send(200, data[: len(data) // 2] + b"}}]{")
        elif behaviour == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self._drop()
        else:
            self._send(200, data)

    # streaming -------------------------------------------------------------------------------------
    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self._chunk(f"data: {text}\n\n".encode())

    def _drop(self) -> None:
        """Close the connection mid-body, as a dying proxy or provider does."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

    def _stream(
        self, stub: StubOpenAI, body: dict[str, Any], record: RecordedRequest, behaviour: str
    ) -> None:
        tool, content = stub._reply(body, record, behaviour)
        base = _envelope(body, "chat.completion.chunk")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def delta(d: dict[str, Any], finish: str | None = None) -> None:
            self._event({**base, "choices": [{"index": 0, "delta": d, "finish_reason": finish}]})

        size = max(1, stub.piece_chars)
        pieces = [content[i : i + size] for i in range(0, len(content), size)]
        if tool:
            opening = {
                "index": 0,
                "id": tool["id"],
                "type": "function",
                "function": {"name": tool["name"], "arguments": ""},
            }  # like OpenAI: id and name once, then only argument pieces
            delta({"role": "assistant", "content": None, "tool_calls": [opening]})
        else:
            delta({"role": "assistant", "content": ""})
        if behaviour == "truncated":
            pieces = pieces[: max(1, len(pieces) // 2)]
        elif behaviour == "malformed" and not tool:  # plain text cannot be bad JSON: break the frame itself
            pieces = []
            self._chunk(b'data: {"id": "chatcmpl-broken", "choices": [{"delta": {"content": "Hal\n\n')
        for piece in pieces:
            if tool:
                delta({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            else:
                delta({"content": piece})
        if behaviour == "truncated":
            self._drop()
            return
        delta({}, "tool_calls" if tool else "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            self._event({**base, "choices": [], "usage": record.usage})
        self._event("[DONE]")
        self._chunk(b"")


def _envelope(body: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": kind,
        "created": int(time.time()),
        "model": str(body.get("model", "stub")),
        "system_fingerprint": "fp_stub",
    }


class StubOpenAI:
    """One stub server on 127.0.0.1 (a free port), started by `start()` or `with`."""

    def __init__(
        self,
        *,
        default: str = "ok",
        text_reply: str | None = None,
        answer_text: str | None = None,
        piece_chars: int = PIECE_CHARS,
        ascii_json: bool = False,
        latency_s: float = 0.0,
        record: bool = True,
        port: int = 0,
    ) -> None:
        _parse_behaviour(default)
        self.latency_s = latency_s
        """Fixed time before each answer starts (a model's time to first token)."""
        self.record = record
        """Keep every request in `requests` (off for long load runs)."""
        self._port = port
        self.default = default
        self.text_reply = text_reply
        """Content for requests without tools; None means echo the question of the last user message."""
        self.answer_text = answer_text
        """The Answer's `text`; None means the first sentence of passage 1 followed by [1]."""
        self.piece_chars = piece_chars
        self.ascii_json = ascii_json
        """Escape non-ASCII in tool-call arguments (\\uXXXX), as some OpenAI-compatible servers do."""
        self.requests: list[RecordedRequest] = []
        self._queue: deque[str] = deque()
        self._lock = threading.Lock()
        self._unblocked = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------------
    def start(self) -> StubOpenAI:
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.stub = self
        self._server = server
        self._unblocked.clear()
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hung requests and drop open connections; returns promptly."""
        self._unblocked.set()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            open_now = list(self._connections)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> StubOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stub is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # scripting -------------------------------------------------------------------------------------
    def script(self, behaviours: Iterable[str]) -> None:
        """Queue one behaviour per coming request; `default` applies once the queue is empty."""
        items = list(behaviours)
        for raw in items:
            _parse_behaviour(raw)
        with self._lock:
            self._queue.extend(items)

    def set_default(self, behaviour: str) -> None:
        _parse_behaviour(behaviour)
        with self._lock:
            self.default = behaviour

    def release(self) -> None:
        """Let every hung request go (their connections are closed unanswered)."""
        self._unblocked.set()

    def reset(self) -> None:
        """Forget the queue and the recorded requests; hang again from now on."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
        self._unblocked.clear()

    def pending(self) -> list[str]:
        with self._lock:
            return list(self._queue)

    # assertions helpers ----------------------------------------------------------------------------
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/") == "/v1/chat/completions"]

    def gaps(self) -> list[float]:
        """Seconds between consecutive chat requests."""
        times = [r.at for r in self.chat_requests()]
        return [b - a for a, b in itertools.pairwise(times)]

    # used by the handler ---------------------------------------------------------------------------
    def _next(self) -> tuple[str, float | None]:
        with self._lock:
            raw = self._queue.popleft() if self._queue else self.default
        return _parse_behaviour(raw)

    def _record(self, handler: BaseHTTPRequestHandler, body: Any, behaviour: str) -> RecordedRequest:
        record = RecordedRequest(
            path=handler.path,
            body=body,
            headers={k.lower(): v for k, v in handler.headers.items()},
            at=time.monotonic(),
            behaviour=behaviour,
        )
        if self.record:
            with self._lock:
                self.requests.append(record)
        return record

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    def _reply(
        self, body: dict[str, Any], record: RecordedRequest, behaviour: str
    ) -> tuple[dict[str, str] | None, str]:
        """The tool called (None for plain text) and its arguments or the text; notes both on `record`."""
        tools = body.get("tools") or []
        tool: dict[str, str] | None = None
        if tools:
            choice = body.get("tool_choice")
            name = None
            if isinstance(choice, dict):
                name = (choice.get("function") or {}).get("name")
            if not name:
                name = (tools[0].get("function") or {}).get("name", "Answer")
            tool = {"id": f"call_{uuid.uuid4().hex[:16]}", "name": str(name)}
        prompt = _last_user_text(body)
        if behaviour == "empty":
            tool, content = None, ""
        elif tool is not None:
            sentence = first_sentence_of_passage(prompt)
            args: dict[str, Any]
            if self.answer_text is not None:  # "{sentence}" stands for passage 1's first sentence
                text = self.answer_text.replace("{sentence}", sentence or "")
                args = {"text": text, "citations": [1], "answerable": True, "confidence": 0.9}
            elif sentence is None:
                args = {
                    "text": "I could not find that in the help center.",
                    "citations": [],
                    "answerable": False,
                    "confidence": 0.1,
                }
            else:
                args = {"text": f"{sentence} [1]", "citations": [1], "answerable": True, "confidence": 0.9}
            content = json.dumps(args, ensure_ascii=self.ascii_json)  # OpenAI itself sends raw UTF-8
            if behaviour == "malformed":
                content = content[: len(content) // 2] + ', "citations": [1,, "answerable": tru}'
        else:
            content = self.text_reply if self.text_reply is not None else _question(prompt)
        # Deliberately not the app's ~4-characters estimate, so a test can tell reported from estimated.
        prompt_tokens = 11 + sum(len(_text_of(m.get("content")).split()) for m in body.get("messages") or [])
        completion_tokens = 3 + len(content.split())
        record.reply = content
        record.usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        return tool, content


def _question(prompt: str) -> str:
    """A plausible plain-text reply: the customer's question (a fine 'rewrite'), else a short summary."""
    for label in ("Latest message:", "Customer question:"):
        if label in prompt:
            return prompt.rsplit(label, 1)[1].strip().splitlines()[0].strip() or "OK"
    return "The customer asked about their order; nothing is open."


def main(argv: list[str] | None = None) -> int:
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m evals.topology.stub_llm", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="fixed delay before each answer")
    parser.add_argument(
        "--default", default="ok", help=f"behaviour of every request: {', '.join(BEHAVIOURS)}"
    )
    args = parser.parse_args(argv)
    stub = StubOpenAI(default=args.default, latency_s=args.latency_ms / 1000, record=False, port=args.port)
    stub.start()
    print(f"stub LLM listening on {stub.base_url}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    stub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
