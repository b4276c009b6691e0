"""Embedding cache beside the index: INDEX_DIR/cache/<model-key>/embeddings.npz.

One file per model holds two arrays, the chunk content hashes (sorted) and their vectors. A build
loads it once, looks hashes up with a binary search, and replaces it atomically (temp file +
os.replace) with exactly the vectors of the chunks it indexed, so the cache stays the size of one
index and a killed build leaves the previous cache intact. After retention, `prune_models` removes
the cache of every model no kept version was built with (a model switch would otherwise leave the
old model's vectors on the volume for good).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

FILE_NAME = "embeddings.npz"
_MODEL_KEY_RE = re.compile(r"^[a-z0-9-]*-[0-9a-f]{12}$")


def model_key(model_id: str, passage_prefix: str) -> str:
    """Directory name for a model: readable slug + hash of the id and prefix (both change vectors)."""
    slug = re.sub(r"[^a-z0-9]+", "-", model_id.lower()).strip("-")[-40:]
    digest = hashlib.sha256(f"{model_id}\0{passage_prefix}".encode()).hexdigest()[:12]
    return f"{slug}-{digest}"


def is_model_key(name: str) -> bool:
    """Whether `name` is named like a `model_key` (only those folders are Oozo's to remove)."""
    return bool(_MODEL_KEY_RE.match(name))


class EmbeddingCache:
    def __init__(self, root: Path, model_id: str, passage_prefix: str, dimension: int) -> None:
        self.dir = root / model_key(model_id, passage_prefix)
        self.dimension = dimension
        self._keys = np.empty(0, dtype="S64")
        self._vecs = np.empty((0, dimension), dtype=np.float32)
        self._load()

    @property
    def file(self) -> Path:
        return self.dir / FILE_NAME

    def _load(self) -> None:
        path = self.file
        if not path.exists():
            return
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, vecs = data["keys"], data["vectors"]
        except Exception:  # unreadable cache: start cold, never fail the build for it
            return
        if vecs.ndim == 2 and vecs.shape[1] == self.dimension and len(keys) == len(vecs):
            self._keys, self._vecs = keys, vecs.astype(np.float32, copy=False)

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, hashes: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, vectors for the found ones in order)."""
        if not hashes or not len(self._keys):
            return np.zeros(len(hashes), dtype=bool), np.empty((0, self.dimension), np.float32)
        wanted = np.array(hashes, dtype="S64")
        pos = np.searchsorted(self._keys, wanted)
        pos_clipped = np.minimum(pos, len(self._keys) - 1)
        found = self._keys[pos_clipped] == wanted
        return found, self._vecs[pos_clipped[found]]

    def replace(self, hashes: list[str], vectors: np.ndarray) -> None:
        """Atomically make the cache hold exactly these (deduplicated) entries."""
        keys = np.array(hashes, dtype="S64")
        keys, first = np.unique(keys, return_index=True)
        vecs = np.ascontiguousarray(vectors[first], dtype=np.float32)
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, keys=keys, vectors=vecs)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._keys, self._vecs = keys, vecs

    def add(self, hashes: list[str], vectors: np.ndarray) -> None:
        """Atomically add these entries and keep every one already held. The merge of a parallel
        build puts the shards' vectors here before it publishes: a merge that fails (its quality
        gate) must leave the serving version's vectors in the cache, and the publish that
        succeeds trims the cache to its own chunks with `replace`."""
        held = [key.decode() for key in self._keys.tolist()]
        self.replace([*hashes, *held], np.concatenate([vectors.astype(np.float32), self._vecs]))


def prune_models(root: Path, kept: set[tuple[str, str]]) -> list[str]:
    """Remove the cache directories of models not in `kept` ((model id, passage prefix) of every
    kept version); only directories named like a `model_key` are ours to remove."""
    if not root.is_dir():
        return []
    wanted = {model_key(model, prefix) for model, prefix in kept}
    removed = []
    for entry in root.iterdir():
        if entry.name in wanted or not is_model_key(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed
