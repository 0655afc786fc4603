"""Plain data passed between the knowledge package and its callers (serialisable, no clients)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Doc:
    """One indexable unit: a chunk of a published article version, or a record of an external KB."""

    id: str
    text: str
    title: str = ""
    section: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Scalar values only (they go to Chroma): article, version, category, entity, domain, type ..."""

    def index_text(self) -> str:
        """What the embedder and BM25 see: title and section give a short chunk its subject."""
        head = self.title
        if self.section and self.section not in (self.title, "Overview"):
            head = f"{self.title} — {self.section}" if self.title else self.section
        return f"{head}\n{self.text}" if head else self.text


@dataclass(frozen=True)
class Passage:
    """A retrieved doc with its scores; what the agent quotes and cites."""

    id: str
    text: str
    title: str
    section: str
    metadata: dict[str, Any]
    score: float
    """Fused rank score (higher is better)."""
    dense: float | None = None
    """Cosine similarity to the query, when the dense retriever saw it."""
    lexical: float | None = None
    """BM25 score, when the lexical retriever saw it."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
