"""Retention after a build: which index versions, embedding caches and ONNX graphs stay on the
volume (docs/runtime.md, "Retention")."""

from __future__ import annotations

import logging
from pathlib import Path

from oozo_runtime import versions

log = logging.getLogger(__name__)


def retain(root: Path, keep_newest: int, keep: set[str], models: Path | None = None) -> list[str]:
    """Delete the versions beyond the newest `keep_newest` that are neither current nor in
    `keep`, then the embedding cache and the ONNX graph of every model no kept version uses, and
    the hub commits no kept version records from the model cache `models` when that cache is the
    index folder's own (a cache elsewhere may serve other indexes: it is left alone)."""
    from oozo_runtime.hub_models import is_hub_model, prune_hub_commits
    from oozo_runtime.indexing.cache import prune_models
    from oozo_runtime.indexing.onnx_export import prune_graphs

    current = versions.current_version(root)
    pruned = versions.prune(root, keep_newest, keep | ({current} if current else set()))
    if pruned:
        log.info("pruned old index versions", extra={"pruned": pruned})
    kept_models: set[tuple[str, str]] = set()
    kept_graphs: set[str] = set()
    kept_commits: set[tuple[str, str]] = set()
    for name in versions.list_versions(root):
        try:
            embedding = versions.read_manifest(root / versions.VERSIONS / name).embedding
        except (OSError, ValueError):
            continue
        if embedding:
            kept_models.add((embedding.cache_identity(), embedding.passage_prefix))
            if embedding.onnx:
                kept_graphs.add(embedding.onnx.folder)
            if embedding.model_revision and is_hub_model(embedding.model):
                kept_commits.add((embedding.model, embedding.model_revision))
    prune_models(root / versions.CACHE, kept_models)
    prune_graphs(root, kept_graphs)
    if models is not None and models.resolve().is_relative_to(root.resolve()):
        gone = prune_hub_commits(models, kept_commits)
        if gone:
            log.info("pruned hub model commits no kept version uses", extra={"pruned": gone})
    return pruned
