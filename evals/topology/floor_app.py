"""The floor: the parts this project must use, wired with nothing of its own on top.

One turn here is what any app on this stack has to do at the least: FastAPI takes the message, PostgreSQL
stores it, a two-node LangGraph graph (checkpointed in PostgreSQL, once per turn) embeds the question with
all-MiniLM-L6-v2 in ONNX Runtime, asks the Chroma server for the nearest passages and asks the model once
through langchain, then PostgreSQL stores the reply. No guardrails, handoff triggers, lexical search,
citations, turn records, rate limits or auth checks.

`python -m evals.load --floor` runs the same load against it as against the app: the difference between the
two figures is what the app's own work costs, and the floor's own figures say what this machine can do at all.
It reads the topology's settings (DATABASE_URL, CHECKPOINT_URL, CHROMA_URL, LLM_MODELS, LLM_OPTIONS,
EMBEDDING_QUERY_PRECISION) and writes the app's `conversations` and `messages` tables, so the load run's
lost-message check applies to it too.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from typing import Any, TypedDict

import anyio
from fastapi import FastAPI, Header
from pydantic import BaseModel, Field

from core.config import get_settings
from core.models import NEW_TITLE

ANSWER_PASSAGES = 8


class _Turn(TypedDict, total=False):
    text: str
    passages: list[str]
    answer: str


class _Message(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class _Floor:
    """The process's parts, built once at startup."""

    def __init__(self) -> None:
        from langgraph.checkpoint.postgres import PostgresSaver
        from langgraph.graph import END, START, StateGraph
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        from agent.llm import build_models
        from knowledge.embeddings import load_backend
        from knowledge.vector_index import _client

        settings = get_settings()
        self.embedder = load_backend(
            settings.embedding_backend, settings.model_cache_dir, settings.embedding_query_precision
        )
        self.collection = _client(url=settings.chroma_url).get_collection(settings.chroma_collection)
        self.turns = anyio.CapacityLimiter(settings.api_worker_threads)  # turns at once, as the app allows
        self.pool: ConnectionPool[Any] = ConnectionPool(
            settings.checkpoint_url,
            min_size=2,
            max_size=settings.api_worker_threads * 2,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=True,
        )
        model = build_models(settings)[0].model  # the first configured model, built as the app builds it
        assert model is not None, "the floor needs a model it can build"
        self.llm = model

        graph = StateGraph(_Turn)
        graph.add_node("retrieve", self._retrieve)
        graph.add_node("answer", self._answer)
        graph.add_edge(START, "retrieve")
        graph.add_edge("retrieve", "answer")
        graph.add_edge("answer", END)
        saver = PostgresSaver(self.pool)
        saver.setup()  # the checkpoint tables, as the app makes them on its first start
        self.graph = graph.compile(checkpointer=saver)

    def _retrieve(self, turn: _Turn) -> dict[str, Any]:
        vector = self.embedder.encode_queries([turn["text"]])[0]
        found = self.collection.query(
            query_embeddings=[vector], n_results=ANSWER_PASSAGES, include=["documents"]
        )
        return {"passages": [str(d) for d in (found["documents"] or [[]])[0]]}

    def _answer(self, turn: _Turn) -> dict[str, Any]:
        from langchain_core.messages import HumanMessage, SystemMessage

        context = "\n\n".join(turn.get("passages", []))
        reply = self.llm.invoke(
            [SystemMessage(f"Answer from these passages only.\n\n{context}"), HumanMessage(turn["text"])]
        )
        return {"answer": str(reply.content)}

    def close(self) -> None:
        self.pool.close()


_floor: _Floor | None = None


def _parts() -> _Floor:
    assert _floor is not None, "the floor app has not started"
    return _floor


@asynccontextmanager
async def _lifespan(_: FastAPI) -> Any:
    global _floor
    _floor = _Floor()
    try:
        yield
    finally:
        _floor.close()
        _floor = None


app = FastAPI(title="floor", lifespan=_lifespan)


@app.get("/ready")
@app.get("/health")
def health() -> dict[str, str]:
    return {"mode": "full", "reason": "the floor has no modes"}


@app.post("/v1/auth/guest", status_code=201)
def guest() -> dict[str, str]:
    return {"token": uuid.uuid4().hex}


@app.post("/v1/conversations", status_code=201)
def start_conversation(authorization: str = Header(default="")) -> dict[str, str]:
    conversation_id = str(uuid.uuid4())
    with _parts().pool.connection() as conn:
        conn.execute(
            "INSERT INTO conversations (id, customer_id, title, status, mode, created_at, updated_at)"
            " VALUES (%s, %s, %s, 'open', 'full', now(), now())",
            (conversation_id, authorization[-32:] or "guest", NEW_TITLE),
        )
    return {"id": conversation_id}


@app.post("/v1/conversations/{conversation_id}/messages")
async def send(
    conversation_id: str, body: _Message, idempotency_key: str | None = Header(default=None)
) -> dict[str, Any]:
    floor = _parts()
    return await anyio.to_thread.run_sync(
        _turn, floor, conversation_id, body.text, idempotency_key, limiter=floor.turns
    )


def _turn(floor: _Floor, conversation_id: str, text: str, idempotency_key: str | None) -> dict[str, Any]:
    message_id = _store(floor, conversation_id, "customer", text, key=idempotency_key)
    out = floor.graph.invoke(
        {"text": text}, {"configurable": {"thread_id": conversation_id}}, durability="exit"
    )
    _store(floor, conversation_id, "assistant", out["answer"], reply_to=message_id)
    return {"mode": "full", "outcome": "answered", "spooled": False, "held": False, "reply": out["answer"]}


def _store(
    floor: _Floor,
    conversation_id: str,
    role: str,
    text: str,
    *,
    key: str | None = None,
    reply_to: int | None = None,
) -> int:
    with floor.pool.connection() as conn:
        row = conn.execute(
            "INSERT INTO messages (conversation_id, role, content, idempotency_key, reply_to, status,"
            " citations, created_at) VALUES (%s, %s, %s, %s, %s, 'stored', '[]', now()) RETURNING id",
            (conversation_id, role, text, key, reply_to),
        ).fetchone()
    assert row is not None
    return int(row["id"])
