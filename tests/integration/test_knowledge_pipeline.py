"""Ingestion -> SQL versions -> Chroma + BM25 -> hybrid retrieval, with the real embedding model."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.db import session_scope
from core.migrate import upgrade
from knowledge.embeddings import get_embedder
from knowledge.indexing import build_index
from knowledge.retrieval import HybridRetriever
from knowledge.store import import_markdown, published_docs
from knowledge.vector_index import VectorIndex

pytestmark = pytest.mark.slow

ARTICLES = {
    "pets.md": """\
        ---
        title: Travelling with pets
        category: policies
        updated: 2026-01-10
        ---
        Pets are welcome on some routes.

        ## Which animals may travel
        Cats and small dogs up to 8 kg may travel in a carrier under the seat.

        ## Fees for pets
        A pet costs 25 dollars per journey, paid at booking.
        """,
    "luggage.md": """\
        ---
        title: Luggage allowance
        category: policies
        updated: 2026-02-01
        ---
        ## Cabin bags
        One cabin bag of up to 10 kg and one small personal item are included.

        ## Checked bags
        Each checked bag costs 30 dollars and may weigh up to 23 kg.
        """,
}


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))


@pytest.fixture()
def scratch(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    upgrade(url)
    content = tmp_path / "content"
    content.mkdir()
    vector = VectorIndex(collection="scratch-kb", path=tmp_path / "chroma")
    return url, content, vector


def _sync(url: str, vector: VectorIndex):
    with session_scope(url) as session:
        docs = published_docs(session)
    stats = build_index(docs, vector=vector, embedder=get_embedder())
    return docs, stats


def test_imported_articles_are_found_by_meaning_and_by_words(scratch):
    url, content, vector = scratch
    _write(content, ARTICLES)
    with session_scope(url) as session:
        report = import_markdown(session, content.glob("*.md"))
    assert sorted(report.created) == ["luggage", "pets"]
    docs, stats = _sync(url, vector)
    assert stats.embedded == len(docs) == vector.count() == 5
    retriever = HybridRetriever(docs, embedder=get_embedder(), vector=vector)
    by_meaning = retriever.search("can I bring my cat?", k=3)
    assert by_meaning.passages[0].section == "Which animals may travel"
    assert by_meaning.passages[0].metadata["article"] == "pets"
    by_words = retriever.search("checked bag weight limit", k=3)
    assert by_words.passages[0].section == "Checked bags"
    assert (
        retriever.search("can I bring my cat?").confidence
        > retriever.search("quantum chromodynamics").confidence
    )


def test_editing_one_section_reembeds_only_that_chunk_and_archives_the_old_version(scratch):
    url, content, vector = scratch
    _write(content, ARTICLES)
    with session_scope(url) as session:
        import_markdown(session, content.glob("*.md"))
    before, _ = _sync(url, vector)

    with session_scope(url) as session:
        assert import_markdown(session, content.glob("*.md")).unchanged == ["luggage", "pets"]
    _, stats = _sync(url, vector)
    assert stats.embedded == 0 and stats.removed == 0

    edited = dict(ARTICLES)
    edited["pets.md"] = ARTICLES["pets.md"].replace("25 dollars", "35 dollars")
    _write(content, edited)
    with session_scope(url) as session:
        assert import_markdown(session, content.glob("*.md")).updated == ["pets"]
    after, stats = _sync(url, vector)
    assert (stats.embedded, stats.removed) == (1, 1)
    changed = {d.id for d in after} - {d.id for d in before}
    assert len(changed) == 1
    fee = next(d for d in after if d.id in changed)
    assert "35 dollars" in fee.text and fee.metadata["version"] == 2
    assert vector.count() == 5


def test_retrieval_falls_back_to_words_alone_when_there_is_no_vector_index(scratch):
    url, content, _vector = scratch
    _write(content, ARTICLES)
    with session_scope(url) as session:
        import_markdown(session, content.glob("*.md"))
        docs = published_docs(session)
    retriever = HybridRetriever(docs, embedder=None, vector=None)
    result = retriever.search("how much does a checked bag cost", k=2)
    assert result.lexical_only
    assert result.passages[0].section == "Checked bags"


def test_a_broken_article_is_reported_and_the_others_still_import(scratch):
    url, content, _vector = scratch
    _write(content, {**ARTICLES, "broken.md": "---\ntitle: [unclosed\n---\nbody\n"})
    with session_scope(url) as session:
        report = import_markdown(session, content.glob("*.md"))
    assert sorted(report.created) == ["luggage", "pets"]
    assert len(report.errors) == 1 and "broken.md" in report.errors[0]
