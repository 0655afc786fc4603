"""Hybrid retrieval: dense (Chroma) + lexical (BM25), reciprocal rank fusion, conversation-aware queries."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.breakers import HealthRegistry
from core.faults import DependencyFault
from knowledge.embeddings import Embedder, EmbeddingUnavailable
from knowledge.entities import EntityCatalog, EntityFocus, Turn, refers_back, strip_name
from knowledge.lexical import BM25Index
from knowledge.types import Doc, Passage
from knowledge.vector_index import IndexUnavailable, VectorIndex

logger = logging.getLogger(__name__)

_DENSE_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dense")
"""Dense retrieval runs here so a hung embedding or vector call can be abandoned at its deadline."""

RRF_K = 60
LEXICAL_WEIGHT = 0.5
"""BM25's share in the fusion: below dense, whose ranking holds up better on short questions whose few
words occur all over the KB ("how do I return an item?"). Measured on the retrieval benchmark."""


@dataclass
class RetrievalResult:
    passages: list[Passage]
    confidence: float
    """0..1: how sure we are the top passage answers the query (drives answer vs. "I don't know")."""
    focus: EntityFocus
    query: str
    """The effective query text after conversation context was applied."""
    lexical_only: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)


def confidence_from(dense_top: float | None, lexical_agrees: bool) -> float:
    """Map the best cosine similarity (MiniLM: ~0.2 unrelated, ~0.6+ same question) to 0..1."""
    if dense_top is None:
        return 0.5 if lexical_agrees else 0.2
    base = min(max((dense_top - 0.2) / 0.45, 0.0), 1.0)
    return min(1.0, base + (0.1 if lexical_agrees else 0.0))


class HybridRetriever:
    """Searches one set of docs. Built from published chunks (the app) or any KB file (the benchmark)."""

    def __init__(
        self,
        docs: Sequence[Doc],
        *,
        embedder: Embedder | None,
        vector: VectorIndex | None,
        candidates: int = 30,
        health: HealthRegistry | None = None,
        dense_timeout_s: float = 2.0,
    ) -> None:
        self.health = health
        self.dense_timeout_s = dense_timeout_s
        self.docs = {d.id: d for d in docs}
        self.lexical = BM25Index([d.id for d in docs], (d.index_text() for d in docs))
        self.catalog = EntityCatalog(docs)
        self.embedder = embedder
        self.vector = vector
        self.candidates = candidates
        by_entity: dict[str, list[int]] = {}
        for i, d in enumerate(docs):
            ent = d.metadata.get("entity")
            if ent:
                by_entity.setdefault(str(ent), []).append(i)
        self._entity_rows = {e: np.asarray(rows, dtype=np.int64) for e, rows in by_entity.items()}

    def __len__(self) -> int:
        return len(self.docs)

    def _dense(
        self,
        embedder: Embedder,
        vector: VectorIndex,
        text: str,
        where: dict[str, Any] | None,
        submitted: float,
    ) -> tuple[list[tuple[str, float]], dict[str, float]]:
        """The dense hits and how long each part took (ms). Its own dict: a search that gave up on it at its
        deadline must not see this thread write into what it is returning."""
        t0 = time.perf_counter()
        timings = {"hop": (t0 - submitted) * 1000}  # waiting for a thread of the dense pool
        with self._guard("embeddings"):
            vec = embedder.embed_query(text)
        timings["embed"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        with self._guard("vector_index"):
            found = vector.query(vec, k=self.candidates, where=where)
        timings["dense"] = (time.perf_counter() - t0) * 1000
        return found, timings

    def _dense_available(self) -> bool:
        return self.health is None or (
            self.health.available("embeddings") and self.health.available("vector_index")
        )

    def _guard(self, name: str) -> contextlib.AbstractContextManager[Any]:
        return self.health.call(name) if self.health is not None else contextlib.nullcontext()

    def contextual_query(self, query: str, history: Sequence[Turn]) -> tuple[str, EntityFocus]:
        """The query to search with, and the entity in focus.

        With an entity in focus the search is restricted to it, so the query stays as asked. Without one,
        a query that leans on earlier turns borrows the previous customer turn (its topic words).
        """
        focus = self.catalog.focus(query, history)
        if focus.entity is not None:
            return strip_name(query, focus.entity), focus
        if focus.entity is None and history and refers_back(query):
            previous = next((t.text for t in reversed(history) if t.role == "customer"), "")
            if previous:
                return f"{query} {previous}", focus
        return query, focus

    def search(self, query: str, *, history: Sequence[Turn] = (), k: int = 5) -> RetrievalResult:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        text, focus = self.contextual_query(query, history)
        timings["context"] = (time.perf_counter() - t0) * 1000
        where = {"entity": focus.entity} if focus.entity else None
        rows = self._entity_rows.get(focus.entity) if focus.entity else None

        t0 = time.perf_counter()
        lexical = self.lexical.search(text, k=self.candidates, allowed=rows)
        timings["lexical"] = (time.perf_counter() - t0) * 1000

        dense: list[tuple[str, float]] = []
        embedder, vector = self.embedder, self.vector
        lexical_only = vector is None or embedder is None
        if embedder is not None and vector is not None and not self._dense_available():
            lexical_only = True  # a breaker is open: do not wait on a dependency known to be failing
        elif embedder is not None and vector is not None:
            future = _DENSE_POOL.submit(self._dense, embedder, vector, text, where, time.perf_counter())
            try:
                dense, parts = future.result(timeout=self.dense_timeout_s)
                timings.update(parts)
            except FuturesTimeout:
                logger.warning("dense retrieval timed out after %.1f s; lexical only", self.dense_timeout_s)
                if self.health is not None:
                    self.health.breaker("vector_index").record_failure("timeout")
                lexical_only = True
            except (IndexUnavailable, EmbeddingUnavailable, DependencyFault) as exc:
                logger.warning("dense retrieval unavailable (%s); lexical only", type(exc).__name__)
                lexical_only = True

        # The index may hold chunks that are not served (a publish in flight, one that crashed): only
        # ids of this retriever's docs count, and they are ranked among themselves.
        dense = [(doc_id, score) for doc_id, score in dense if doc_id in self.docs]
        fused: dict[str, float] = {}
        for ranked, weight in ((dense, 1.0), (lexical, LEXICAL_WEIGHT if dense else 1.0)):
            for rank, (doc_id, _) in enumerate(ranked):
                fused[doc_id] = fused.get(doc_id, 0.0) + weight / (RRF_K + rank + 1)
        dense_by = dict(dense)
        lex_by = dict(lexical)
        order = sorted(fused, key=lambda d: (-fused[d], d))[:k]  # ties by id: the same order every run
        passages = [
            Passage(
                id=d,
                text=self.docs[d].text,
                title=self.docs[d].title,
                section=self.docs[d].section,
                metadata=self.docs[d].metadata,
                score=fused[d],
                dense=dense_by.get(d),
                lexical=lex_by.get(d),
            )
            for d in order
        ]
        top_dense = dense[0][1] if dense else None
        lexical_agrees = bool(lexical and dense and lexical[0][0] in dict(dense[:3]))
        if lexical_only:
            lexical_agrees = bool(lexical) and lexical[0][1] >= 5.0
        confidence = confidence_from(top_dense, lexical_agrees) if passages else 0.0
        return RetrievalResult(
            passages=passages,
            confidence=confidence,
            focus=focus,
            query=text,
            lexical_only=lexical_only,
            timings_ms=timings,
        )
