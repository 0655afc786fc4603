"""Keep the vector index equal to a set of docs: embed only what is missing, delete what is gone."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm import tqdm

from knowledge.embeddings import Embedder
from knowledge.types import Doc
from knowledge.vector_index import VectorIndex

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexStats:
    total: int
    embedded: int
    removed: int
    seconds: float

    @property
    def docs_per_s(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0


def embed_into(vector: VectorIndex, embedder: Embedder, docs: Sequence[Doc]) -> None:
    """Embed `docs` and add (or replace) them in the vector index, with their citation metadata."""
    vector.upsert(
        [d.id for d in docs],
        embedder.embed([d.index_text() for d in docs]),
        [d.text for d in docs],
        [{**d.metadata, "title": d.title, "section": d.section} for d in docs],
    )


def build_index(
    docs: Sequence[Doc], *, vector: VectorIndex, embedder: Embedder, progress: bool = False, batch: int = 256
) -> IndexStats:
    """Sync the index to `docs`. Ids are content-derived, so an id already present needs no re-embedding."""
    present = vector.ids()
    t0 = time.perf_counter()
    wanted = {d.id for d in docs}
    stale = sorted(present - wanted)
    if stale:
        vector.delete(stale)
    todo = [d for d in docs if d.id not in present]
    if todo:
        embedder.embed(["warm-up"])  # load the model outside the timed part, so docs/s is the real rate
        t0 = time.perf_counter()
    bar = tqdm(total=len(todo), desc="embedding", unit="doc", disable=not progress or not todo, leave=False)
    for i in range(0, len(todo), batch):
        part = todo[i : i + batch]
        embed_into(vector, embedder, part)
        bar.update(len(part))
    bar.close()
    stats = IndexStats(
        total=len(docs), embedded=len(todo), removed=len(stale), seconds=time.perf_counter() - t0
    )
    if todo:
        logger.info(
            "indexed %d docs (%.0f docs/s), removed %d", stats.embedded, stats.docs_per_s, stats.removed
        )
    return stats
