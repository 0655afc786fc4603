"""The embedding backends: the ONNX export agrees with the torch model, is written safely, and the embedder
serves with torch when the export cannot be made."""

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
    assert [p.name for p in folder.iterdir()] == [exported.name]  # no temporary file left behind
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


def test_concurrent_queries_are_batched_and_each_gets_its_own_vector(exported: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    embedder = MiniLMEmbedder(backend="onnx", cache_dir=exported.parent)
    alone = {text: embedder.embed([text])[0] for text in TEXTS}
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda t: embedder.embed([t])[0], TEXTS * 8))
    for text, vector in zip(TEXTS * 8, together, strict=True):
        assert float(vector @ alone[text]) > 0.99999
