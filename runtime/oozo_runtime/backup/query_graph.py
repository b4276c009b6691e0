"""A restored version's ONNX query graph, which the torch-free server (the `serve` extra, the
oozo-server image) needs to encode questions.

A backup carries the version's own files. The graph its manifest records lives beside the
versions, in INDEX_DIR/onnx/<model>-<revision>/ (shared by every version of one model), so a
restore onto a fresh volume brings the version back without it, and the server image, which
cannot fall back to torch, could not serve it. The restore runs where `oozo index` runs (torch
installed), so it exports the graph again with the model the manifest names: the export is
deterministic for a given torch and model (the same bytes as the index Job's), and the files are
then checked against the manifest's checksums, exactly as the server checks them. A graph that
cannot be made again (another torch, a model not on this volume) is logged and left out: the
restore still succeeds, and the server says why it cannot encode, as for a build whose export
failed."""

from __future__ import annotations

import logging
from pathlib import Path

from oozo_contract.manifest import Manifest
from oozo_contract.settings import EmbeddingSettings
from oozo_runtime.onnx_encoder import OnnxUnavailable, check_graph

log = logging.getLogger(__name__)


def restore_query_graph(index_dir: Path, manifest: Manifest) -> bool:
    """Make sure the graph the manifest records is in index_dir (exporting it when missing);
    whether it is there and checks out afterwards."""
    embedding = manifest.embedding
    info = embedding.onnx if embedding else None
    if embedding is None or info is None or embedding.provider not in (None, "local"):
        return False  # the version records no graph: the server uses what the manifest says
    try:
        check_graph(index_dir, info)
        return True  # already here (another version of the same model brought it)
    except OnnxUnavailable:
        pass
    try:
        from oozo_runtime.embedding import make_embedder
        from oozo_runtime.indexing.onnx_export import ensure_graph

        settings = EmbeddingSettings(model=embedding.model)
        embedder = make_embedder(settings, revision=embedding.model_revision)
        ensure_graph(index_dir, embedder)
        check_graph(index_dir, info)
    except Exception as exc:  # never fails the restore: the version itself is intact
        reason = f"{type(exc).__name__}: {exc}"
        log.warning(
            "restored version has no ONNX query graph; a server without torch cannot serve it",
            extra={"version": manifest.version, "folder": info.folder, "reason": reason},
        )
        return False
    log.info(
        "exported the ONNX query graph again", extra={"version": manifest.version, "folder": info.folder}
    )
    return True
