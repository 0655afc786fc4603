"""The dense index: a Chroma collection (embedded PersistentClient, or a server by URL).

Embeddings are computed by us and passed in, so Chroma never loads (or downloads) a model of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import chromadb
import numpy as np

if TYPE_CHECKING:
    from core.config import Settings

logger = logging.getLogger(__name__)


class IndexUnavailable(RuntimeError):
    """The vector index cannot be reached or used."""


def _client(*, url: str = "", path: Path | None = None) -> Any:
    settings = chromadb.Settings(anonymized_telemetry=False)
    if url:
        parsed = urlparse(url)
        return chromadb.HttpClient(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 8000,
            ssl=parsed.scheme == "https",
            settings=settings,
        )
    if path is None:
        raise ValueError("a Chroma path or URL is required")
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


class VectorIndex:
    """Cosine-distance collection of (id, embedding, document, metadata)."""

    def __init__(self, *, collection: str, url: str = "", path: Path | None = None) -> None:
        try:
            self._client = _client(url=url, path=path)
            self._col = self._client.get_or_create_collection(
                collection, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
            )
        except Exception as exc:
            raise IndexUnavailable(f"Chroma collection {collection!r} unavailable: {exc}") from exc
        self.name = collection

    @classmethod
    def configured(cls, settings: Settings) -> VectorIndex:
        """The deployment's index: CHROMA_URL's server, or the embedded one under DATA_DIR."""
        return cls(collection=settings.chroma_collection, url=settings.chroma_url, path=settings.chroma_path)

    def reset(self) -> None:
        """Drop every entry (a full rebuild follows)."""
        try:
            self._client.delete_collection(self.name)
            self._col = self._client.get_or_create_collection(
                self.name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
            )
        except Exception as exc:
            raise IndexUnavailable(f"Chroma collection {self.name!r} could not be reset: {exc}") from exc

    def count(self) -> int:
        return int(self._col.count())

    def ids(self) -> set[str]:
        out: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = self._col.get(limit=page, offset=offset, include=[])
            out.update(got["ids"])
            if len(got["ids"]) < page:
                return out
            offset += page

    def present(self, ids: Sequence[str]) -> set[str]:
        """Which of `ids` the collection holds."""
        out: set[str] = set()
        for i in range(0, len(ids), 2000):
            out.update(self._col.get(ids=list(ids[i : i + 2000]), include=[])["ids"])
        return out

    def upsert(
        self,
        ids: Sequence[str],
        embeddings: np.ndarray,
        documents: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
        *,
        batch: int = 2000,
    ) -> None:
        for i in range(0, len(ids), batch):
            self._col.upsert(
                ids=list(ids[i : i + batch]),
                embeddings=embeddings[i : i + batch],
                documents=list(documents[i : i + batch]),
                metadatas=[_scalar(m) for m in metadatas[i : i + batch]],
            )

    def delete(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), 2000):
            self._col.delete(ids=list(ids[i : i + 2000]))

    def query(
        self, embedding: np.ndarray, *, k: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """(id, cosine similarity) best first."""
        try:
            res = self._col.query(
                query_embeddings=[embedding], n_results=k, where=where or None, include=["distances"]
            )
        except Exception as exc:
            raise IndexUnavailable(f"Chroma query failed: {exc}") from exc
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]


def _scalar(meta: dict[str, Any]) -> dict[str, Any]:
    """Chroma takes str, int, float and bool values only; drop empties, stringify the rest."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if value is None or value == "":
            continue
        out[key] = value if isinstance(value, str | int | float | bool) else str(value)
    return out
