"""Knowledge base maintenance at scale: a full index build (docs/s) and single-article publishes.

Any kb.jsonl becomes help-center articles (one per `entity`, or per 20 documents without one, each document
a `##` section), is published into a throwaway SQLite + embedded Chroma, and fully indexed with the real
model. Then an editor changes one section of an article at a time through the studio and publishes: the
time from "publish" to customers being served the new text (embed changed chunks, commit, reload the
retriever) is what `publish_*` reports.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from core.config import Settings
from core.db import session_scope
from core.migrate import upgrade
from core.users import Role, authenticate, create_user
from evals.bench.retrieval import load_kb
from knowledge.chunking import ParsedArticle, slugify
from knowledge.reindex import verify
from knowledge.service import KnowledgeBase
from knowledge.store import create_version, publish
from knowledge.studio import Studio
from knowledge.types import Doc

_PASSWORD = "bench-password-1"


def _articles(docs: list[Doc], per_article: int = 20) -> list[ParsedArticle]:
    groups: dict[str, list[Doc]] = defaultdict(list)
    for n, doc in enumerate(docs):
        entity = str(doc.metadata.get("entity") or f"documents {n // per_article + 1}")
        groups[entity].append(doc)
    out = []
    for entity, members in groups.items():
        body = "\n\n".join(f"## {d.title or d.id}\n\n{d.text}" for d in members)
        out.append(
            ParsedArticle(
                slug=slugify(entity), title=entity.title(), category="bench", updated="", tags=[], body=body
            )
        )
    return out


def run_kb(*, kb_path: Path, edits: int = 5, work_dir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kb-bench-", dir=work_dir) as tmp:
        settings = Settings(data_dir=Path(tmp), env="test", kb_poll_s=3600)
        upgrade(settings.database_url)
        articles = _articles(load_kb(kb_path))
        t0 = time.perf_counter()
        with session_scope(settings.database_url) as s:
            for article in articles:
                publish(s, version_id=create_version(s, article=article, source="bench").id)
        import_s = time.perf_counter() - t0

        kb = KnowledgeBase(settings)
        t0 = time.perf_counter()
        stats = kb.refresh()
        build_s = time.perf_counter() - t0
        assert stats is not None, "the vector index did not open"

        with session_scope(settings.database_url) as s:
            create_user(
                s,
                username="bench-editor",
                display_name="Bench",
                role=Role.EDITOR,
                password=_PASSWORD,
                settings=settings,
            )
            editor = authenticate(s, username="bench-editor", password=_PASSWORD)
        studio = Studio(settings, kb=kb)
        step = max(1, len(articles) // max(edits, 1))
        runs = []
        for article in articles[::step][:edits]:
            latest = studio.history(editor, article.slug)[0]
            first = latest.body.split("\n\n", 2)[1]  # the first section's text
            changed = latest.body.replace(first, first + " This answer was updated by the editor.", 1)
            draft = studio.save_draft(
                editor,
                slug=article.slug,
                title=latest.title,
                body=changed,
                category="bench",
                base_version=latest.version,
            )
            result = studio.publish(editor, draft.id)
            served = kb.search(first + " This answer was updated by the editor.", k=5)
            assert any("updated by the editor" in p.text for p in served.passages), article.slug
            runs.append({"slug": article.slug, "embedded": result.embedded, **result.timings_s})
        t0 = time.perf_counter()
        check = verify(settings, repair=False)
        verify_s = time.perf_counter() - t0

    totals = sorted(r["total"] for r in runs)
    report = {
        "articles": len(articles),
        "chunks": stats.total,
        "import_s": round(import_s, 2),
        "build_s": round(build_s, 2),
        "build_docs_per_s": round(stats.docs_per_s, 1),
        "publish_p50_s": round(statistics.median(totals), 3),
        "publish_max_s": round(totals[-1], 3),
        "publish_embed_p50_s": round(statistics.median(r["embed"] for r in runs), 3),
        "publish_commit_p50_s": round(statistics.median(r["commit"] for r in runs), 3),
        "publish_reload_p50_s": round(statistics.median(r["reload"] for r in runs), 3),
        "embedded_per_publish": [r["embedded"] for r in runs],
        "verify_s": round(verify_s, 2),
        "consistent": check.consistent,
        "edits": len(runs),
    }
    _print(report)
    return report


def _print(r: dict[str, Any]) -> None:
    print(f"kb: {r['articles']} articles, {r['chunks']} chunks (SQL import {r['import_s']} s)")
    print(f"full index build: {r['build_s']} s, {r['build_docs_per_s']} docs/s")
    print(
        f"publish one edited article ({r['edits']} edits): "
        f"p50 {r['publish_p50_s']} s, max {r['publish_max_s']} s"
        f" (embed {r['publish_embed_p50_s']} s, commit {r['publish_commit_p50_s']} s,"
        f" reload {r['publish_reload_p50_s']} s; chunks embedded per publish {r['embedded_per_publish']})"
    )
    print(f"reindex --verify: {r['verify_s']} s, {'consistent' if r['consistent'] else 'INCONSISTENT'}")
