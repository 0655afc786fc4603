"""Dense retrieval abandoned at its deadline: the search answers lexically, and the thread it left behind
cannot touch what the search returned."""

from __future__ import annotations

import threading
import time

import numpy as np

from knowledge.retrieval import HybridRetriever
from knowledge.types import Doc

DOCS = [
    Doc("returns", "Return any item within 30 days for a refund.", title="Returns"),
    Doc("shipping", "Shipping to Canada takes 5 to 8 business days.", title="Shipping"),
]


class SlowEmbedder:
    """Takes `delay_s` per query, then says it finished."""

    dim = 4

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.finished = threading.Event()

    def embed_query(self, text: str) -> np.ndarray:
        time.sleep(self.delay_s)
        self.finished.set()
        return np.ones(self.dim, dtype=np.float32) / 2

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), self.dim), dtype=np.float32) / 2


class Index:
    def query(self, embedding: np.ndarray, *, k: int, where: dict | None = None) -> list[tuple[str, float]]:
        return [("shipping", 0.9), ("returns", 0.2)][:k]


def test_a_dense_search_past_its_deadline_is_left_out_and_its_timings_stay_its_own() -> None:
    embedder = SlowEmbedder(delay_s=0.3)
    retriever = HybridRetriever(DOCS, embedder=embedder, vector=Index(), dense_timeout_s=0.05)  # type: ignore[arg-type]
    result = retriever.search("how long is shipping to Canada")
    assert result.lexical_only and result.passages[0].id == "shipping"
    assert embedder.finished.wait(2)  # the abandoned thread ran on and finished...
    time.sleep(0.05)
    assert set(result.timings_ms) == {"context", "lexical"}  # ...without writing into the returned result


def test_a_dense_search_in_time_reports_its_parts() -> None:
    retriever = HybridRetriever(DOCS, embedder=SlowEmbedder(delay_s=0.0), vector=Index(), dense_timeout_s=2)  # type: ignore[arg-type]
    result = retriever.search("how long is shipping to Canada")
    assert not result.lexical_only
    assert {"lexical", "hop", "embed", "dense"} <= set(result.timings_ms)
