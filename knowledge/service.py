"""The knowledge base the agent talks to: published chunks from SQL, the Chroma index, BM25.

SQL is the truth; the index follows it. A publish embeds the new chunks *before* the SQL transaction that
makes them served commits, and removes the old ones after, so a crash at any point leaves the index with at
most some extra chunks, which retrieval ignores (only ids of published chunks are ever returned) and
`python -m knowledge.reindex --verify` removes. Every serving process notices a publish made elsewhere (the
studio page, a CLI) through the served revision in SQL, polled at most every `KB_POLL_S` seconds, and then
reloads only what changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from core.breakers import HealthRegistry
from core.config import Settings
from core.db import DatabaseUnavailable, session_scope
from knowledge.embeddings import Embedder, EmbeddingUnavailable, get_embedder
from knowledge.entities import Turn
from knowledge.indexing import IndexStats, build_index, embed_into
from knowledge.retrieval import HybridRetriever, RetrievalResult
from knowledge.store import published_docs, served_revision
from knowledge.types import Doc
from knowledge.vector_index import IndexUnavailable, VectorIndex

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadStats:
    """What an incremental reload changed, and what it cost."""

    total: int
    added: int
    removed: int
    embedded: int
    seconds: float


class KnowledgeBase:
    """Thread-safe holder of the current retriever; `refresh()` syncs it all, `reload()` what changed."""

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
        self._reload_lock = threading.Lock()
        self._retriever: HybridRetriever | None = None
        self._revision: int | None = None
        self._checked_at = 0.0
        self._staged: set[str] = set()
        """Ids this process put in the vector index for a publish that has not reloaded yet."""
        self._frozen = False
        """A preview (`previewing`): serves one fixed retriever, never reloads, never writes."""

    def attach_health(self, health: HealthRegistry) -> None:
        """Guard dense retrieval with these breakers from now on."""
        self.health = health
        if self._retriever is not None:
            self._retriever.health = health

    def _vector_failed(self, what: str) -> None:
        logger.warning("vector index %s; serving lexical only", what, exc_info=True)
        if self.health is not None:
            self.health.breaker("vector_index").record_failure("unavailable")

    def _open_vector(self) -> VectorIndex | None:
        if self._vector is None:
            try:
                self._vector = VectorIndex.configured(self.settings)
            except IndexUnavailable:
                self._vector_failed("unavailable")
        return self._vector

    def ensure_vector(self) -> bool:
        """Reconnect a vector index that was down when the KB loaded (at most once per breaker cool-down)."""
        current = self._retriever
        if self._frozen:
            return current is not None and current.vector is not None
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

    def _load(self) -> tuple[list[Doc], int]:
        with session_scope(self.settings.database_url) as session:
            return published_docs(session), served_revision(session)

    def _install(self, docs: Sequence[Doc], vector: VectorIndex | None, revision: int) -> None:
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
            self._revision = revision
            self._checked_at = time.monotonic()

    def refresh(self, *, sync_index: bool = True, progress: bool = False) -> IndexStats | None:
        """Reload published chunks from SQL and (optionally) bring the whole vector index in line."""
        if self._frozen:
            raise RuntimeError("a knowledge base preview is read-only")
        docs, revision = self._load()
        vector = self._open_vector()
        stats = None
        if vector is not None and sync_index:
            try:
                stats = build_index(docs, vector=vector, embedder=self.embedder, progress=progress)
            except IndexUnavailable:
                self._vector_failed("failed while syncing")
                vector, self._vector = None, None
        self._staged.clear()
        self._install(docs, vector, revision)
        return stats

    def stage(self, docs: Iterable[Doc]) -> int:
        """Embed and add to the vector index the docs a publish is about to serve (before it commits).

        Returns how many were embedded. An index or model that fails is not an error here: the publish
        goes ahead, retrieval serves the new text lexically, and the next sync or `reindex --verify`
        embeds it.
        """
        current = self._retriever.docs if self._retriever is not None else {}
        todo = [d for d in docs if d.id not in current and d.id not in self._staged]
        vector = self._open_vector()
        if not todo or vector is None:
            return 0
        try:
            embed_into(vector, self.embedder, todo)
        except (IndexUnavailable, EmbeddingUnavailable):
            self._vector_failed("failed while staging a publish")
            return 0
        self._staged.update(d.id for d in todo)
        return len(todo)

    def unstage(self, ids: Iterable[str]) -> None:
        """Forget a staging whose publish failed: its chunks are not served, and may be removed as orphans."""
        self._staged.difference_update(ids)

    def reload(self) -> ReloadStats:
        """Bring this process up to the published state in SQL, touching only the chunks that changed."""
        if self._frozen:
            raise RuntimeError("a knowledge base preview is read-only")
        t0 = time.perf_counter()
        with self._reload_lock:
            docs, revision = self._load()
            before = self._retriever.docs if self._retriever is not None else {}
            wanted = {d.id for d in docs}
            added = [d for d in docs if d.id not in before]
            removed = sorted(set(before) - wanted)
            vector = self._open_vector()
            embedded = 0
            if vector is not None:
                try:
                    embedded = self._sync_changes(vector, added, removed)
                except (IndexUnavailable, EmbeddingUnavailable):
                    self._vector_failed("failed while reloading")
            self._install(docs, vector, revision)
        return ReloadStats(len(docs), len(added), len(removed), embedded, time.perf_counter() - t0)

    def _sync_changes(self, vector: VectorIndex, added: list[Doc], removed: list[str]) -> int:
        # What this process staged should be there, unless a `reindex --verify` ran in between and removed
        # it as an orphan: checked, not trusted.
        present = vector.present([d.id for d in added])
        if self.settings.chroma_url:  # a shared server: whoever published has embedded them already
            todo = [d for d in added if d.id not in present]
        else:  # an embedded index is per process: another process's upserts are not in our copy
            todo = [d for d in added if d.id not in self._staged or d.id not in present]
        if todo:
            embed_into(vector, self.embedder, todo)
        if removed:
            vector.delete(removed)
        self._staged.difference_update(d.id for d in added)
        return len(todo)

    def maybe_reload(self) -> bool:
        """Reload when another process changed what is served (checked at most every KB_POLL_S seconds).

        A database that does not answer is not this turn's problem: it keeps the current index.
        """
        if (
            self._frozen
            or self._retriever is None
            or time.monotonic() - self._checked_at < self.settings.kb_poll_s
        ):
            return False
        self._checked_at = time.monotonic()
        try:
            with session_scope(self.settings.database_url) as session:
                revision = served_revision(session)
        except (SQLAlchemyError, DatabaseUnavailable, OSError):
            return False
        if revision == self._revision:
            return False
        try:
            self.reload()
        except (SQLAlchemyError, DatabaseUnavailable, OSError):
            logger.warning("knowledge base reload failed; serving revision %s", self._revision, exc_info=True)
            return False
        return True

    @property
    def revision(self) -> int | None:
        return self._revision

    @property
    def retriever(self) -> HybridRetriever:
        if self._retriever is None:
            self.refresh()
        assert self._retriever is not None
        return self._retriever

    def search(self, query: str, *, history: Sequence[Turn] = (), k: int | None = None) -> RetrievalResult:
        self.maybe_reload()
        return self.retriever.search(query, history=history, k=k or self.settings.top_k)

    def preview(self, drafts: Sequence[Doc], *, replacing: str | None = None) -> HybridRetriever:
        """A retriever over what customers would be served if `drafts` replaced the published chunks of
        article `replacing`: the live index plus the drafts embedded in memory, nothing written."""
        live = self.retriever
        hidden = {d for d, doc in live.docs.items() if replacing and doc.metadata.get("article") == replacing}
        docs = [doc for d, doc in live.docs.items() if d not in hidden] + list(drafts)
        vector: VectorIndex | _Overlay | None = live.vector
        if live.vector is not None and drafts:
            vector = _Overlay(live.vector, drafts, self.embedder, hidden=hidden)
        return HybridRetriever(
            docs,
            embedder=self.embedder,
            vector=vector,  # type: ignore[arg-type]  # duck-typed: only query() is used
            candidates=self.settings.retrieval_candidates,
            health=self.health,
            dense_timeout_s=self.settings.retrieval_timeout_s,
        )

    def previewing(self, drafts: Sequence[Doc], *, replacing: str | None = None) -> KnowledgeBase:
        """A read-only knowledge base serving what customers would get if `drafts` replaced the published
        chunks of article `replacing`: whole turns can run against a draft before it goes live (the eval
        change gate). It shares the embedder and the index; nothing is written, nothing reloads."""
        view = KnowledgeBase(self.settings, embedder=self.embedder, vector=self._vector, health=self.health)
        view._retriever = self.preview(drafts, replacing=replacing)
        view._revision = self._revision
        view._frozen = True
        return view

    def __len__(self) -> int:
        return len(self.retriever)


class _Overlay:
    """The live vector index with some draft chunks added in memory and some published ones hidden."""

    def __init__(
        self, base: VectorIndex, drafts: Sequence[Doc], embedder: Embedder, *, hidden: set[str]
    ) -> None:
        self.base = base
        self.hidden = hidden
        self.ids = [d.id for d in drafts]
        self.vectors = embedder.embed([d.index_text() for d in drafts]) if drafts else np.zeros((0, 1))

    def query(self, embedding: np.ndarray, *, k: int, where: dict | None = None) -> list[tuple[str, float]]:
        found = [
            (i, s)
            for i, s in self.base.query(embedding, k=k + len(self.hidden), where=where)
            if i not in self.hidden
        ]
        drafts = [(i, float(s)) for i, s in zip(self.ids, self.vectors @ embedding, strict=True)]
        best: dict[str, float] = {}
        for doc_id, score in [*found, *drafts]:
            best[doc_id] = max(score, best.get(doc_id, -1.0))
        return sorted(best.items(), key=lambda x: -x[1])[:k]
