"""The knowledge base the agent talks to: published chunks from SQL, the Chroma index, BM25."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

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
        self, settings: Settings, *, embedder: Embedder | None = None, vector: VectorIndex | None = None
    ) -> None:
        self.settings = settings
        self.embedder = embedder or get_embedder()
        self._vector = vector
        self._lock = threading.Lock()
        self._retriever: HybridRetriever | None = None

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
        return self._vector

    def refresh(self, *, sync_index: bool = True, progress: bool = False) -> IndexStats | None:
        """Reload published chunks from SQL and (optionally) bring the vector index in line."""
        with session_scope(self.settings.database_url) as session:
            docs = published_docs(session)
        vector = self._open_vector()
        stats = None
        if vector is not None and sync_index:
            stats = build_index(docs, vector=vector, embedder=self.embedder, progress=progress)
        retriever = HybridRetriever(
            docs, embedder=self.embedder, vector=vector, candidates=self.settings.retrieval_candidates
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
