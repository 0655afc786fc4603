"""The embedding backends: the ONNX export agrees with the torch model, is written safely, and the embedder
serves with torch when the export cannot be made; the int8 query model ranks documents like the float one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge import embeddings as emb
from knowledge.embeddings import MiniLMEmbedder, OnnxBackend, TorchBackend, export_onnx, onnx_path

pytestmark = pytest.mark.slow

TEXTS = [
    "How do I return a blender I bought last week?",
    "refund",
    "Mi pedido no ha llegado, ¿qué hago?",
    "The kettle's lid hinge snapped after two months of use. " * 30,  # truncated at 256 tokens
    "",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def torch_backend() -> TorchBackend:
    return TorchBackend()


def test_onnx_vectors_match_the_torch_model(exported: Path, torch_backend: TorchBackend) -> None:
    onnx = OnnxBackend(exported)
    expected = torch_backend.encode(TEXTS, batch_size=8, progress=False)
    for batch_size in (1, 2, 8):  # padding in mixed-length batches must not move a vector
        got = onnx.encode(TEXTS, batch_size=batch_size, progress=False)
        assert got.shape == (len(TEXTS), 384)
        assert got.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        assert (got * expected).sum(axis=1).min() > 0.99999


def test_export_is_written_once_under_a_versioned_name(exported: Path) -> None:
    folder = exported.parent
    assert exported == onnx_path(folder)
    left = [p.name for p in folder.iterdir() if not p.name.endswith("-query-int8.onnx")]
    assert left == [exported.name]  # no temporary file left behind
    before = exported.stat().st_mtime_ns
    assert export_onnx(folder) == exported
    assert exported.stat().st_mtime_ns == before


def test_a_failed_export_leaves_nothing_and_the_embedder_serves_with_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, torch_backend: TorchBackend
) -> None:
    monkeypatch.setattr(emb, "MIN_AGREEMENT", 1.5)  # no export can pass the check
    folder = tmp_path / "models"
    with pytest.raises(emb.EmbeddingUnavailable, match="disagrees"):
        export_onnx(folder)
    assert list(folder.iterdir()) == []

    embedder = MiniLMEmbedder(backend="onnx", cache_dir=folder)
    assert embedder.backend == "torch"
    vectors = embedder.embed(TEXTS[:2])
    expected = torch_backend.encode(TEXTS[:2], batch_size=2, progress=False)
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


def test_an_unwritable_cache_falls_back_to_torch(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    assert MiniLMEmbedder(backend="onnx", cache_dir=blocker / "models").backend == "torch"


@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_concurrent_queries_each_get_their_own_vector(exported: Path, precision: str) -> None:
    """float32 queries asked at once share a forward pass on the batcher's thread; int8 ones run one a
    query (their activations are scaled per input) on the callers' own threads, with no hop."""
    from concurrent.futures import ThreadPoolExecutor

    embedder = MiniLMEmbedder(backend="onnx", cache_dir=exported.parent, query_precision=precision)
    alone = {text: embedder.embed_query(text) for text in TEXTS}
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(embedder.embed_query, TEXTS * 8))
    for text, vector in zip(TEXTS * 8, together, strict=True):
        assert float(vector @ alone[text]) > 0.99999
    assert embedder.query_precision == precision
    assert (embedder._batcher is not None) == (precision == "float32")


DOCS = [
    "Returns: you can return any item within 30 days of delivery for a full refund to the original payment.",
    "Shipping to Canada takes 5 to 8 business days; duties are paid at checkout.",
    "To reset your password, open Sign in, choose Forgot password and follow the emailed link.",
    "The Barista Mini comes with a two-year warranty covering defects in materials and workmanship.",
    "Gift cards never expire and can be used on any order in the same country they were bought in.",
]
QUERIES = [
    "can i send back the blender i got 2 weeks ago",
    "how long does delivery to toronto take",
    "i forgot my pasword and cant log in",
    "is the barista mini covered if it breaks",
    "does my gift card have an expiry date?",
]


@pytest.fixture(scope="module")
def query_model(exported: Path) -> Path:
    return emb.quantise_for_queries(exported)


def test_int8_query_vectors_stay_close_to_the_float_ones_and_rank_documents_alike(
    exported: Path, query_model: Path
) -> None:
    backend = OnnxBackend(exported, query_path=query_model)
    assert backend.query_precision == "int8"
    documents = backend.encode(DOCS, batch_size=8, progress=False)
    as_float = backend.encode(QUERIES, batch_size=8, progress=False)
    as_int8 = backend.encode_queries(QUERIES)
    np.testing.assert_allclose(np.linalg.norm(as_int8, axis=1), 1.0, atol=1e-5)
    assert (as_float * as_int8).sum(axis=1).min() >= emb.MIN_QUERY_AGREEMENT
    assert not np.allclose(as_float, as_int8)  # it is the int8 model that answered
    best = (as_int8 @ documents.T).argmax(axis=1)
    assert best.tolist() == (as_float @ documents.T).argmax(axis=1).tolist() == list(range(len(DOCS)))
    embedder = MiniLMEmbedder(backend="onnx", cache_dir=exported.parent)
    assert embedder.query_precision == "int8"  # the default
    assert float(embedder.embed_query(QUERIES[0]) @ as_int8[0]) > 0.99999  # one at a time, as served
    before = query_model.stat().st_mtime_ns
    assert emb.quantise_for_queries(exported) == query_model
    assert query_model.stat().st_mtime_ns == before  # written once


def test_float32_queries_use_the_document_model(exported: Path) -> None:
    embedder = MiniLMEmbedder(backend="onnx", cache_dir=exported.parent, query_precision="float32")
    assert embedder.query_precision == "float32"
    for text in QUERIES[:2]:
        assert float(embedder.embed_query(text) @ embedder.embed([text])[0]) > 0.99999


def test_a_failed_quantisation_leaves_nothing_and_queries_run_in_float32(
    exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(exported, folder / exported.name)
    monkeypatch.setattr(emb, "MIN_QUERY_AGREEMENT", 1.5)  # no quantisation can pass the check
    embedder = MiniLMEmbedder(backend="onnx", cache_dir=folder, query_precision="int8")
    assert (embedder.backend, embedder.query_precision) == ("onnx", "float32")
    assert [p.name for p in folder.iterdir()] == [exported.name]
    assert float(embedder.embed_query(QUERIES[0]) @ embedder.embed([QUERIES[0]])[0]) > 0.99999
