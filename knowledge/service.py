"""The knowledge base the agent talks to: published chunks from SQL, the Chroma index, BM25."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from core.breakers import HealthRegistry
from core.config import Settings
from core.db import session_scope
from knowledge.embeddings import Embedder, get_embedder
from knowledge.entities import Turn
from knowledge.indexing import IndexStats, build_index
from knowledge.retrieval import HybridRetriever, RetrievalResult
from knowledge.store import published_docs
from knowledge.vector_index import IndexUnavailable, VectorIndex

logger = logging.getLogger(__name__)


class KnowledgeBase:
    """Thread-safe holder of the current retriever; `refresh()` rebuilds it after a publish."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        vector: VectorIndex | None = None,
        health: HealthRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.health = health
        self.embedder = embedder or get_embedder()
        self._vector = vector
        self._lock = threading.Lock()
        self._retriever: HybridRetriever | None = None

    def attach_health(self, health: HealthRegistry) -> None:
        """Guard dense retrieval with these breakers from now on."""
        self.health = health
        if self._retriever is not None:
            self._retriever.health = health

    def _open_vector(self) -> VectorIndex | None:
        if self._vector is None:
            try:
                self._vector = VectorIndex(
                    collection=self.settings.chroma_collection,
                    url=self.settings.chroma_url,
                    path=self.settings.chroma_path,
                )
            except IndexUnavailable:
                logger.warning("vector index unavailable; serving lexical only", exc_info=True)
                if self.health is not None:
                    self.health.breaker("vector_index").record_failure("unavailable")
        return self._vector

    def ensure_vector(self) -> bool:
        """Reconnect a vector index that was down when the KB loaded (at most once per breaker cool-down)."""
        current = self._retriever
        if current is not None and current.vector is not None:
            return True
        if self.health is not None and not self.health.available("vector_index"):
            return False
        if self._open_vector() is None:
            return False
        try:
            self.refresh()
        except IndexUnavailable:
            logger.warning("vector index reachable but not usable yet", exc_info=True)
            self._vector = None
            if self.health is not None:
                self.health.breaker("vector_index").record_failure("unavailable")
            return False
        return True

    def refresh(self, *, sync_index: bool = True, progress: bool = False) -> IndexStats | None:
        """Reload published chunks from SQL and (optionally) bring the vector index in line."""
        with session_scope(self.settings.database_url) as session:
            docs = published_docs(session)
        vector = self._open_vector()
        stats = None
        if vector is not None and sync_index:
            try:
                stats = build_index(docs, vector=vector, embedder=self.embedder, progress=progress)
            except IndexUnavailable:
                logger.warning("vector index failed while syncing; serving lexical only", exc_info=True)
                if self.health is not None:
                    self.health.breaker("vector_index").record_failure("unavailable")
                vector, self._vector = None, None
        retriever = HybridRetriever(
            docs,
            embedder=self.embedder,
            vector=vector,
            candidates=self.settings.retrieval_candidates,
            health=self.health,
            dense_timeout_s=self.settings.retrieval_timeout_s,
        )
        with self._lock:
            self._retriever = retriever
        return stats

    @property
    def retriever(self) -> HybridRetriever:
        if self._retriever is None:
            self.refresh()
        assert self._retriever is not None
        return self._retriever

    def search(self, query: str, *, history: Sequence[Turn] = (), k: int | None = None) -> RetrievalResult:
        return self.retriever.search(query, history=history, k=k or self.settings.top_k)

    def __len__(self) -> int:
        return len(self.retriever)
