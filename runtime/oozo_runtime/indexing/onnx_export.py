"""The index Job's half of the torch-free server: export the embedding model's transformer to ONNX
once per model revision, into INDEX_DIR/onnx/<model>-<revision>/, verify it against torch, and
describe it for the manifest (`OnnxGraphInfo`).

The export is `torch.onnx.export` (TorchScript tracing, opset 17, dynamic batch and sequence
axes) of the transformer alone; tokenisation (the model's tokenizer.json), pooling and
normalisation (the sentence-transformers modules) run in the server in numpy, as
oozo_runtime.onnx_encoder. optimum, the other official path, pins an older transformers than the
runtime's, so it is not used.

A graph is published only after it reproduces the torch vectors (cosine >= VERIFY_MIN_COSINE on
sample texts). Any failure is returned as a reason, never raised: the build still publishes, and
the server encodes with torch and says so.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

from oozo_contract.manifest import Manifest, OnnxGraphInfo
from oozo_runtime import versions
from oozo_runtime.onnx_encoder import (
    ENCODER_FILE,
    GRAPH_FILE,
    INPUT_FIELDS,
    TOKENIZER_FILE,
    EncoderSpec,
    OnnxEncoder,
    OnnxUnavailable,
    check_graph,
)

log = logging.getLogger(__name__)

ONNX_DIR = "onnx"
OPSET = 17
VERIFY_MIN_COSINE = 0.9999
_FOLDER_RE = re.compile(r"^[a-z0-9-]*-[0-9a-f]{16}$")
# Texts of different lengths, so the check covers padding in a batch as well as a single text.
VERIFY_TEXTS = (
    "How many days of annual leave do employees get?",
    "query: where is the backup stored",
    "The quarterly report lists revenue, costs and the headcount of every regional office, "
    "with a table of the figures by month and a note on the currency used. " * 6,
    "x",
)

# sentence-transformers Pooling: 6.x names one `pooling_mode`, older configs set one flag.
_POOLING_NAMES = {"cls": "cls", "mean": "mean", "max": "max", "mean_sqrt_len_tokens": "mean_sqrt_len"}
_POOLING_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
}


class ExportError(RuntimeError):
    pass


def encoder_spec(embedder: Any) -> EncoderSpec:
    """What the numpy side must do, read from the loaded sentence-transformers modules; raises
    ExportError for a pipeline it cannot reproduce (a Dense layer, weighted pooling, ...)."""
    modules = list(embedder.model)
    kinds = [type(m).__name__ for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ExportError(f"modules {kinds} are not Transformer, Pooling[, Normalize]")
    config = modules[1].get_config_dict()
    if "pooling_mode" in config:
        mode = _POOLING_NAMES.get(str(config["pooling_mode"]))
    else:
        flags = [name for key, name in _POOLING_FLAGS.items() if config.get(key)]
        mode = (
            flags[0]
            if len(flags) == 1
            and sum(1 for k, v in config.items() if k.startswith("pooling_mode") and v) == 1
            else None
        )
    if mode is None:
        raise ExportError(f"pooling {config} is not one of {sorted(set(_POOLING_NAMES.values()))}")
    tokenizer = modules[0].tokenizer
    names = tuple(tokenizer.model_input_names)
    if not set(names) <= set(INPUT_FIELDS) or "input_ids" not in names:
        raise ExportError(f"model inputs {list(names)} are not supported")
    if not hasattr(tokenizer, "backend_tokenizer"):
        raise ExportError("the model has no fast tokenizer (tokenizer.json)")
    return EncoderSpec(
        model=embedder.model_id,
        dimension=int(embedder.dimension),
        max_seq_length=int(embedder.model.max_seq_length),
        input_names=names,
        pooling=mode,
        normalize=kinds[-1] == "Normalize",
    )


def model_revision(embedder: Any, spec: EncoderSpec) -> str:
    """Fingerprint of what the graph and encoder.json are made from: the weights, the tokenizer
    and the spec. A new model revision (or a changed max length) gets a new folder."""
    import xxhash

    digest = xxhash.xxh3_128()
    for name, tensor in sorted(embedder.model[0].auto_model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    digest.update(tokenizer_identity(embedder.model[0].tokenizer.backend_tokenizer.to_str()).encode())
    digest.update(repr(spec).encode())
    return str(digest.hexdigest())


def tokenizer_identity(tokenizer_json: str) -> str:
    """The tokenizer without its truncation and padding state: transformers sets both on the
    backend tokenizer at each call, so a model that has encoded passages would otherwise get
    another revision than the same model fresh from disk (the encoder sets both itself)."""
    data = json.loads(tokenizer_json)
    data.pop("truncation", None)
    data.pop("padding", None)
    return json.dumps(data, sort_keys=True)


def folder_name(model_id: str, revision: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", model_id.lower()).strip("-")[-40:]
    return f"{slug}-{revision[:16]}"


def graph_info(root: Path, folder: Path, revision: str) -> OnnxGraphInfo:
    import torch

    files = {
        p.name: versions.checksum_file(p, "xxh3_128")[0] for p in sorted(folder.iterdir()) if p.is_file()
    }
    return OnnxGraphInfo(
        folder=folder.relative_to(root).as_posix(),
        files=files,
        opset=OPSET,
        model_revision=revision,
        exporter=f"torch.onnx {torch.__version__}",
    )


def _export(embedder: Any, spec: EncoderSpec, dest: Path) -> None:
    import torch

    transformer = embedder.model[0].auto_model
    names = list(spec.input_names)

    class TokenEmbeddings(torch.nn.Module):
        """The transformer with positional inputs in `names` order and one named output."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    wrapper = TokenEmbeddings(transformer).eval()
    sample = embedder.model[0].tokenizer(list(VERIFY_TEXTS[:2]), return_tensors="pt", padding=True)
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "token_embeddings"]}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                wrapper,
                tuple(sample[n] for n in names),
                str(dest / GRAPH_FILE),
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
    finally:
        # the exporter restores the wrapper's training flag, recursively: keep the model in eval
        # mode, or the passages embedded after the export would go through dropout
        wrapper.eval()
    embedder.model[0].tokenizer.backend_tokenizer.save(str(dest / TOKENIZER_FILE))
    spec.write(dest)


def _verify(embedder: Any, folder: Path) -> None:
    import numpy as np

    expected = embedder.model.encode(list(VERIFY_TEXTS), convert_to_numpy=True, normalize_embeddings=True)
    actual = OnnxEncoder(folder).encode_texts(list(VERIFY_TEXTS))
    expected = expected / np.linalg.norm(expected, axis=1, keepdims=True)
    actual = actual / np.linalg.norm(actual, axis=1, keepdims=True)
    worst = float((expected * actual).sum(axis=1).min())
    if worst < VERIFY_MIN_COSINE:
        raise ExportError(f"ONNX vectors differ from torch (cosine {worst:.6f} < {VERIFY_MIN_COSINE})")


def ensure_graph(root: Path, embedder: Any) -> OnnxGraphInfo:
    """The graph of this model revision: the cached folder when there is one, else a fresh,
    verified export, published by one rename. Raises ExportError (or any export failure)."""
    spec = encoder_spec(embedder)
    revision = model_revision(embedder, spec)
    folder = root / ONNX_DIR / folder_name(spec.model, revision)
    if folder.is_dir() and all((folder / n).is_file() for n in (GRAPH_FILE, TOKENIZER_FILE, ENCODER_FILE)):
        log.info("reusing ONNX graph", extra={"folder": folder.name})
        return graph_info(root, folder, revision)
    with versions.scratch_dir(root) as tmp:  # a killed export leaves a .tmp- the next build removes
        _export(embedder, spec, tmp)
        _verify(embedder, tmp)
        folder.parent.mkdir(exist_ok=True)
        if folder.exists():  # an unfinished or foreign folder under our name: replace it
            shutil.rmtree(folder)
        os.rename(tmp, folder)
    log.info("exported ONNX graph", extra={"folder": folder.name, "opset": OPSET})
    return graph_info(root, folder, revision)


def graph_for_build(root: Path, embedder: Any) -> tuple[OnnxGraphInfo | None, str | None]:
    """(graph, None) or (None, why not): what the manifest records."""
    try:
        return ensure_graph(root, embedder), None
    except Exception as exc:  # any exporter failure: the build still publishes, the server uses torch
        reason = f"ONNX export failed: {type(exc).__name__}: {exc}"[:500]
        log.warning(
            "no ONNX graph for this model; the server will encode with torch", extra={"reason": reason}
        )
        return None, reason


def reusable_graph(root: Path, manifest: Manifest | None, model_id: str) -> OnnxGraphInfo | None:
    """The current version's graph when it is of this model and its files still check out: a
    build that loads no model (every vector cached) can record it without exporting."""
    info = manifest.embedding.onnx if manifest and manifest.embedding else None
    if info is None or manifest is None or manifest.model != model_id:
        return None
    try:
        check_graph(root, info)
    except OnnxUnavailable:
        return None
    return info


def prune_graphs(root: Path, kept_folders: set[str]) -> list[str]:
    """Remove the graph folders no kept version records; only folders named like ours."""
    base = root / ONNX_DIR
    if not base.is_dir():
        return []
    removed = []
    for entry in base.iterdir():
        if f"{ONNX_DIR}/{entry.name}" in kept_folders or not _FOLDER_RE.match(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed
