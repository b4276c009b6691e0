"""The embedding cache of shards staged in S3 (docs/runtime.md, "Parallel builds").

Shard pods staged in S3 may run where the index volume, and so its embedding cache
(indexing/cache.py), is out of reach: on Kubernetes they mount no volume at all. Each shard
keeps its own pack in the bucket instead, PREFIX/embeddings/<model-key>/shard-K-of-N.npz, in the
cache's own file format (content hashes, vectors) and holding exactly the vectors of the chunks
that shard staged last. Shard K of N reads the same documents in every build (a stable hash of
their path), so its next build finds every unchanged chunk there and embeds only the changed
documents, on any node. A pack is replaced whole after its shard is staged: it stays the size of
the shard's share of the index, and a shard killed before that leaves the previous pack. A pack
that cannot be read or written costs embeddings, never the build: a warning, and the shard
embeds what it must.

On only with OOZO_STAGING_EMBEDDING_CACHE (the operator sets it for its volume-free shard pods).
The merge removes the packs of another model or another N, or every pack when it is off
(`remove_stale`), and only objects named as this module names them: anything else under
PREFIX/embeddings/ stays.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oozo_runtime.errors import OozoError
from oozo_runtime.indexing.staging import Staging
from oozo_runtime.indexing.staging_s3 import S3Staging

log = logging.getLogger("oozo_runtime.indexing.shard_cache")

FOLDER = "embeddings"
PACK_NAME = re.compile(r"^shard-(\d+)-of-(\d+)\.npz$")
# Makes the EmbeddingCache of these settings rooted at a folder (shards.embedding_cache).
CacheAt = Callable[[Path], Any]


def pack_name(model_key: str, shard: int, shards: int) -> str:
    return f"{FOLDER}/{model_key}/shard-{shard}-of-{shards}.npz"


def lookup(
    staging: Staging, cache_at: CacheAt, shard: int, shards: int, hashes: list[str]
) -> tuple[Any, Any]:
    """(found mask, vectors of the found ones in order) from shard K's pack; nothing found for
    a folder staging (its shards share the volume's cache) or a pack that is not there."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="oozo-pack-") as tmp:
        pack = cache_at(Path(tmp))  # empty: it names the file and knows the dimension
        none = np.zeros(len(hashes), dtype=bool), np.empty((0, pack.dimension), np.float32)
        if not isinstance(staging, S3Staging) or not hashes:
            return none
        try:
            body = staging.read_object(pack_name(pack.dir.name, shard, shards))
        except OozoError as exc:
            log.warning("embedding pack not read: embedding without it", extra={"error": exc.message})
            return none
        if body is None:
            return none
        pack.dir.mkdir(parents=True, exist_ok=True)
        pack.file.write_bytes(body)
        found, vectors = cache_at(Path(tmp)).lookup(hashes)  # an unreadable pack loads empty
        return found, vectors


def save(
    staging: Staging, cache_at: CacheAt, shard: int, shards: int, hashes: list[str], vectors: Any
) -> None:
    """Replace shard K's pack with exactly these chunks' vectors (S3 staging only)."""
    if not isinstance(staging, S3Staging):
        return
    with tempfile.TemporaryDirectory(prefix="oozo-pack-") as tmp:
        pack = cache_at(Path(tmp))
        pack.replace(hashes, vectors)
        try:
            staging.write_object(pack_name(pack.dir.name, shard, shards), pack.file)
        except OozoError as exc:  # staged already: the next build of this shard embeds again
            log.warning("embedding pack not written", extra={"error": exc.message})


def remove_stale(staging: Staging, kept: tuple[str, int] | None) -> list[str]:
    """Delete the packs of models other than kept's model key and of another N (every pack when
    `kept` is None: the cache is off): a merge's cleanup. Only names
    PREFIX/embeddings/<model-key>/shard-K-of-N.npz are considered."""
    from oozo_runtime.indexing.cache import is_model_key

    if not isinstance(staging, S3Staging):
        return []
    stale = []
    for name in staging.names_under(FOLDER):
        parts = name.split("/")
        match = PACK_NAME.match(parts[2]) if len(parts) == 3 else None
        if not match or not is_model_key(parts[1]):
            continue
        if kept is None or (parts[1], int(match.group(2))) != kept:
            stale.append(name)
    staging.remove_objects(stale, "remove stale embedding packs")
    return stale
