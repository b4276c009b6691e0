"""PersistentVolumeClaim NAME-index: index versions and the embedding cache.

It carries the controller ownerReference, so deleting the RagCorpus deletes the volume: an
index is rebuilt from its source, and backups (S3) outlive the corpus. Keep the data by
removing the ownerReference before deleting (documented in docs/operator.md)."""

from __future__ import annotations

from typing import Any

from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus


def render(corpus: Corpus) -> dict[str, Any]:
    storage = corpus.spec.index.storage
    spec: dict[str, Any] = {
        "accessModes": list(storage.access_modes),
        "resources": {"requests": {"storage": storage.size}},
    }
    if storage.storage_class_name:
        spec["storageClassName"] = storage.storage_class_name
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": L.metadata(corpus, corpus.pvc_name, L.STORAGE),
        "spec": spec,
    }
