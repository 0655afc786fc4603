"""Retrieval benchmark on any KB/queries pair of the shapes in shared/benchmarks/README.md."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.config import get_settings
from evals.bench.jsonl import BadInput
from knowledge.embeddings import get_embedder
from knowledge.entities import Turn
from knowledge.indexing import build_index
from knowledge.retrieval import HybridRetriever
from knowledge.types import Doc
from knowledge.vector_index import VectorIndex


@dataclass(frozen=True)
class Query:
    id: str
    history: list[Turn]
    query: str
    answerable: bool
    gold_ids: list[str]


def _read_jsonl(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInput(f"{path}:{n}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise BadInput(f"{path}:{n}: expected a JSON object")
            yield n, row


def load_kb(path: Path) -> list[Doc]:
    docs = []
    for n, row in _read_jsonl(path):
        if "id" not in row or "text" not in row:
            raise BadInput(f"{path}:{n}: a document needs 'id' and 'text'")
        meta = {k: v for k, v in (row.get("metadata") or {}).items() if v is not None}
        docs.append(
            Doc(id=str(row["id"]), text=str(row["text"]), title=str(row.get("title") or ""), metadata=meta)
        )
    return docs


def load_queries(path: Path) -> list[Query]:
    out = []
    for n, row in _read_jsonl(path):
        if "query" not in row:
            raise BadInput(f"{path}:{n}: a query line needs 'query'")
        history = [
            Turn(role=str(h.get("role", "customer")), text=str(h.get("text", "")))
            for h in row.get("history") or []
        ]
        out.append(
            Query(
                id=str(row.get("id", n)),
                history=history,
                query=str(row["query"]),
                answerable=bool(row.get("answerable", True)),
                gold_ids=[str(g) for g in row.get("gold_ids") or []],
            )
        )
    return out


def _metrics(
    queries: Sequence[Query], search: Callable[[Query], tuple[list[str], float]], threshold: float
) -> dict[str, Any]:
    hits1 = hits5 = 0
    rr = 0.0
    n_ans = 0
    tp = fp = fn = 0
    latencies = []
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        ids, confidence = search(q)
        elapsed = (time.perf_counter() - t0) * 1000
        if i >= min(10, len(queries) // 10):  # warm-up excluded from latency
            latencies.append(elapsed)
        decided = confidence >= threshold
        tp += decided and q.answerable
        fp += decided and not q.answerable
        fn += (not decided) and q.answerable
        if q.answerable and q.gold_ids:
            n_ans += 1
            gold = set(q.gold_ids)
            rank = next((r for r, d in enumerate(ids, 1) if d in gold), None)
            hits1 += rank == 1
            hits5 += rank is not None and rank <= 5
            rr += 1.0 / rank if rank else 0.0
    lat = np.asarray(latencies or [0.0])
    return {
        "n": n_ans,
        "n_turns": len(queries),
        "hit_at_1": hits1 / n_ans if n_ans else 0.0,
        "hit_at_5": hits5 / n_ans if n_ans else 0.0,
        "mrr": rr / n_ans if n_ans else 0.0,
        "answerable_precision": tp / (tp + fp) if tp + fp else 0.0,
        "answerable_recall": tp / (tp + fn) if tp + fn else 0.0,
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
    }


INDEX_FORMAT = "minilm-l6-v2/title+text/1"
"""Part of the cache key: change it when what gets embedded changes, so a stale index is never reused."""


def _kb_key(path: Path) -> str:
    h = hashlib.sha1(INDEX_FORMAT.encode())
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def run_retrieval(
    *,
    kb_path: Path,
    queries_path: Path,
    limit: int = 0,
    cache_dir: Path | None = None,
    baselines: bool = True,
) -> dict[str, Any]:
    settings = get_settings()
    docs = load_kb(kb_path)
    queries = load_queries(queries_path)
    if limit:
        queries = queries[:limit]
    cache = (cache_dir or settings.data_dir / "bench") / f"chroma-{_kb_key(kb_path)}"
    embedder = get_embedder()
    vector = VectorIndex(collection="bench-kb", path=cache)
    stats = build_index(docs, vector=vector, embedder=embedder, progress=True)
    print(
        f"index: {len(docs)} docs, {stats.embedded} embedded, {stats.removed} removed "
        f"({stats.docs_per_s:.0f} docs/s)"
        if stats.embedded
        else f"index: {len(docs)} docs, up to date (cached at {cache})",
        file=sys.stderr,
    )

    retriever = HybridRetriever(
        docs, embedder=embedder, vector=vector, candidates=settings.retrieval_candidates
    )
    threshold = settings.answer_min_confidence

    def project(q: Query) -> tuple[list[str], float]:
        res = retriever.search(q.query, history=q.history, k=5)
        return [p.id for p in res.passages], res.confidence

    report = _metrics(queries, project, threshold)
    report["threshold"] = threshold
    report["kb_docs"] = len(docs)
    if baselines:

        def bm25(q: Query) -> tuple[list[str], float]:
            hits = retriever.lexical.search(q.query, k=5)
            return [d for d, _ in hits], 1.0 if hits else 0.0

        def dense(q: Query) -> tuple[list[str], float]:
            hits = vector.query(embedder.embed_query(q.query), k=5)
            return [d for d, _ in hits], hits[0][1] if hits else 0.0

        report["baselines"] = {
            "bm25": _metrics(queries, bm25, 0.5),
            "dense": _metrics(queries, dense, threshold),
        }
    _print(report)
    return report


def _print(report: dict[str, Any]) -> None:
    rows = [("project", report), *(report.get("baselines") or {}).items()]
    keys = ["hit_at_1", "hit_at_5", "mrr", "answerable_precision", "answerable_recall", "p50_ms", "p95_ms"]
    print(f"retrieval: {report['n']} answerable of {report['n_turns']} turns, KB {report['kb_docs']} docs")
    print(f"{'system':10}" + "".join(f"{k:>22}" for k in keys))
    for name, r in rows:
        print(f"{name:10}" + "".join(f"{r[k]:>22.3f}" for k in keys))
    base = report.get("baselines") or {}
    for name, r in base.items():
        ratios = "  ".join(
            f"{k} x{report[k] / r[k]:.2f}" if r[k] else f"{k} n/a" for k in ("hit_at_1", "hit_at_5", "mrr")
        )
        print(f"ratio vs {name}: {ratios}")
