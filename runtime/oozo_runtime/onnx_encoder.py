"""The torch-free query encoder: the embedding model's ONNX export on ONNX Runtime, the model's
own tokenizer (`tokenizers`), and the pooling and normalisation its sentence-transformers
configuration names, done in numpy.

The index Job exports the graph (oozo_runtime.indexing.onnx_export) into INDEX_DIR/onnx/ and
records it in the version's manifest. `choose_query_encoder` gives the server this encoder when
the version has a graph whose files match their checksums, and the torch `Embedder` otherwise,
saying which and why, so a version without a graph still serves (slower, bigger).

Nothing here imports torch: the server image has no torch when every version has a graph.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oozo_contract.manifest import Manifest, OnnxGraphInfo
from oozo_runtime.prefixes import prefixes_for

log = logging.getLogger(__name__)

GRAPH_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
ENCODER_FILE = "encoder.json"  # pooling, normalisation, input names, max length, dimension
POOLING_MODES = ("cls", "mean", "max", "mean_sqrt_len")
# `tokenizers` Encoding attribute for each model input name the export may use.
INPUT_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


class OnnxUnavailable(RuntimeError):
    """This version has no usable ONNX graph; the message says why (it goes to /api/info)."""


@dataclass(frozen=True)
class EncoderSpec:
    """What encoder.json says: everything the numpy side must do like sentence-transformers."""

    model: str
    dimension: int
    max_seq_length: int
    input_names: tuple[str, ...]
    pooling: str
    normalize: bool

    @classmethod
    def read(cls, folder: Path) -> EncoderSpec:
        data = json.loads((folder / ENCODER_FILE).read_text())
        spec = cls(
            model=str(data["model"]),
            dimension=int(data["dimension"]),
            max_seq_length=int(data["max_seq_length"]),
            input_names=tuple(data["input_names"]),
            pooling=str(data["pooling"]),
            normalize=bool(data["normalize"]),
        )
        if spec.pooling not in POOLING_MODES:
            raise OnnxUnavailable(f"pooling mode {spec.pooling!r} is not one of {POOLING_MODES}")
        unknown = set(spec.input_names) - set(INPUT_FIELDS)
        if unknown:
            raise OnnxUnavailable(f"model inputs {sorted(unknown)} are not supported")
        return spec

    def write(self, folder: Path) -> None:
        data = {
            "model": self.model,
            "dimension": self.dimension,
            "max_seq_length": self.max_seq_length,
            "input_names": list(self.input_names),
            "pooling": self.pooling,
            "normalize": self.normalize,
        }
        (folder / ENCODER_FILE).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def pool(token_embeddings: np.ndarray, attention_mask: np.ndarray, mode: str) -> np.ndarray:
    """sentence-transformers' Pooling for one mode, over (batch, seq, dim) with a (batch, seq) mask."""
    mask = attention_mask[..., None].astype(np.float32)
    if mode == "cls":
        return np.asarray(token_embeddings[:, 0], dtype=np.float32)
    if mode == "max":
        masked = np.where(mask > 0, token_embeddings, np.float32(-1e9))
        return np.asarray(masked.max(axis=1), dtype=np.float32)
    summed = (token_embeddings * mask).sum(axis=1)
    counts = np.clip(mask.sum(axis=1), 1e-9, None)
    if mode == "mean_sqrt_len":
        return np.asarray(summed / np.sqrt(counts), dtype=np.float32)
    return np.asarray(summed / counts, dtype=np.float32)


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """L2 normalisation as torch.nn.functional.normalize does it (eps 1e-12)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def check_graph(root: Path, info: OnnxGraphInfo) -> Path:
    """The graph folder, after proving its files are the ones the manifest records."""
    from oozo_runtime.versions import checksum_file

    folder = (root / info.folder).resolve()
    if not folder.is_relative_to(root.resolve()):
        raise OnnxUnavailable(f"ONNX folder {info.folder!r} is outside the index directory")
    if not folder.is_dir():
        raise OnnxUnavailable(f"ONNX folder {info.folder} is missing")
    for name, expected in sorted(info.files.items()):
        path = folder / name
        if not path.is_file():
            raise OnnxUnavailable(f"ONNX file {info.folder}/{name} is missing")
        (actual,) = checksum_file(path, "xxh3_128")
        if actual != expected:
            raise OnnxUnavailable(f"ONNX file {info.folder}/{name} differs from the manifest's checksum")
    return folder


class OnnxEncoder:
    """Encodes text like `Embedder` (same prefixes, same vectors within float error), without torch."""

    backend = "onnx"

    def __init__(self, folder: Path, threads: int = 1, spin_us: int | None = None) -> None:
        """`threads`: ONNX Runtime's intra-op threads of one encode; `spin_us`: how long an idle
        thread busy-waits for the next operator's work before it sleeps (None: ONNX Runtime's
        default, which spins long; 0: it sleeps at once)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.spec = EncoderSpec.read(folder)
        self.model_id = self.spec.model
        self.dimension = self.spec.dimension
        self.prefixes = prefixes_for(self.model_id)
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        # tokenizer.json may carry its own truncation (often 128) and padding; sentence-transformers
        # truncates at the model's max_seq_length and pads to the longest text of a batch.
        self.tokenizer.enable_truncation(max_length=self.spec.max_seq_length)
        # padded to the batch's longest text with zeros (id, type id and mask), in Rust: building
        # the padded arrays row by row in Python cost about a millisecond per batch of 32
        self.tokenizer.no_padding()
        self.tokenizer.enable_padding(pad_id=0, pad_type_id=0)
        options = ort.SessionOptions()
        # The server's one encoder thread (server/encode_batcher.py) gets the worker's CPUs;
        # the torch-path comparisons and the index Job's checks encode with one.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        if spin_us == 0:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        elif spin_us is not None:
            options.add_session_config_entry("session.intra_op.spin_duration_us", str(spin_us))
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ONNX Runtime's CPU arena stays on: without it every encode mallocs from the calling
        # worker thread, glibc keeps a heap per thread, and RSS grew by 26 MiB over 8 threads
        # (measured), more than the arena's 11 MiB it saves single-threaded
        self.session = ort.InferenceSession(
            str(folder / GRAPH_FILE), options, providers=["CPUExecutionProvider"]
        )

    def _feeds(self, texts: list[str]) -> dict[str, np.ndarray]:
        # encode_batch_fast: the same ids without the character offsets nothing here reads
        encodings = self.tokenizer.encode_batch_fast(texts)
        feeds = {
            name: np.array([getattr(e, INPUT_FIELDS[name]) for e in encodings], dtype=np.int64)
            for name in self.spec.input_names
        }
        if "attention_mask" not in feeds:  # pooling needs it even when the graph does not
            feeds["attention_mask"] = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return feeds

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Vectors of texts as given (no prefix), shape (len(texts), dim), float32."""
        feeds = self._feeds(texts)
        inputs = {name: feeds[name] for name in self.spec.input_names}
        (token_embeddings,) = self.session.run(["token_embeddings"], inputs)
        vectors = pool(token_embeddings, feeds["attention_mask"], self.spec.pooling)
        return normalize_rows(vectors) if self.spec.normalize else vectors

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for lo in range(0, len(texts), batch_size):
            batch = [self.prefixes.passage + t for t in texts[lo : lo + batch_size]]
            out[lo : lo + len(batch)] = self.encode_texts(batch)
        return out

    def encode_query(self, question: str) -> np.ndarray:
        """One query vector, shape (1, dim), with the model family's query prefix."""
        return self.encode_queries([question])

    def encode_queries(self, questions: list[str]) -> np.ndarray:
        """Query vectors of several questions in one session run (the server's batches, padded
        to the longest: the attention mask keeps padding out of every vector), shape (n, dim)."""
        return self.encode_texts([self.prefixes.query + q for q in questions])


@dataclass(frozen=True)
class ChosenEncoder:
    encoder: Any
    backend: str  # "onnx" or "torch"
    reason: str  # why torch, when it is torch


def choose_query_encoder(
    root: Path,
    manifest: Manifest,
    model_id: str,
    cache_dir: str | None,
    threads: int = 1,
    onnx_threads: int | None = None,
    onnx_spin_us: int | None = None,
) -> ChosenEncoder:
    """The ONNX encoder when the version records a graph whose files check out; else the torch
    `Embedder` (imported only then), with the reason. `threads` are torch's; ONNX Runtime's
    session gets `onnx_threads` (default the same) and `onnx_spin_us` (OnnxEncoder)."""
    info = manifest.embedding.onnx if manifest.embedding else None
    reason = (manifest.embedding.onnx_error if manifest.embedding else None) or (
        f"index version {manifest.version} records no ONNX graph"
    )
    if info is not None:
        try:
            encoder = OnnxEncoder(check_graph(root, info), onnx_threads or threads, onnx_spin_us)
            if encoder.model_id != model_id:
                raise OnnxUnavailable(f"ONNX graph is of model {encoder.model_id!r}, not {model_id!r}")
            return ChosenEncoder(encoder, "onnx", "")
        except Exception as exc:  # a broken graph must not stop serving: torch still can
            reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, OnnxUnavailable) else str(exc)
    log.warning("query encoder falls back to torch", extra={"reason": reason})
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import torch
    except ImportError as exc:  # the torch-free server image (the `serve` extra)
        raise OnnxUnavailable(
            f"{reason}, and torch is not installed to encode without one; rebuild the index with "
            "`oozo index` (it exports the graph)"
        ) from exc

    from oozo_runtime.embedding import Embedder
    from oozo_runtime.model_files import models_root

    torch.set_num_threads(threads)
    revision = manifest.embedding.model_revision if manifest.embedding else None  # a hub model's commit
    embedder = Embedder(model_id, cache_dir, models_root(root, cache_dir), revision)
    return ChosenEncoder(embedder, "torch", reason)
