"""`oozo index --merge --shards N`: the last step of a parallel build (docs/index.md, "Parallel
builds").

It waits for nothing: every shard's result must be staged already (indexing/shards.py), and a
missing one fails the merge naming the shard. It then runs the one-pod build (indexing/build.py)
with the staged chunks in place of parsing: documents in the order a one-pod build reads them
(sorted by path), each document's chunks in order, so `--shards 3` publishes the same chunks and
vectors as one pod. The staged vectors go into the embedding cache first, so the build finds
every chunk there and embeds nothing; FAISS, BM25, the quality gate, the manifest, the atomic
publish and retention are the one-pod build's own. On success the build's staging folder is
removed; on failure it stays, so a retried merge (or a shard's retry) redoes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oozo_contract.fetch import FetchResult
from oozo_contract.index_settings import IndexSettings
from oozo_contract.results import IndexBuildResult
from oozo_runtime.errors import OozoError
from oozo_runtime.indexing import shard_cache
from oozo_runtime.indexing.build import BuildError, Progress, build
from oozo_runtime.indexing.chunking import Chunk
from oozo_runtime.indexing.documents import DocumentSet
from oozo_runtime.indexing.shards import (
    StagedShard,
    build_inputs,
    build_key,
    cache_identity,
    embedding_cache,
    load_shard,
)
from oozo_runtime.indexing.staging import Staging, open_staging, remove_expired
from oozo_runtime.indexing.staging_layout import INPUTS_FILE, ShardMissing

log = logging.getLogger("oozo_runtime.indexing.merge")


def merge(
    settings: IndexSettings,
    progress: Progress | None = None,
    fetched: FetchResult | None = None,
    embedder: Any = None,
    staging: Staging | None = None,
) -> IndexBuildResult:
    """Publish one version from the staged shards. With a source (`oozo index SOURCE --merge`,
    or the shard that claimed the merge) the build is the one that source makes; without one
    (`oozo merge --staging STAGING`) it is the newest build in STAGING whose shards are all
    staged, and N is what its shards were told."""
    from oozo_runtime.indexing.tokens import build_counter, chunking_info

    staging = staging or open_staging(settings)
    if settings.source:
        source = Path(settings.source)
        if not source.is_dir():
            raise BuildError("InvalidSettings", f"source {settings.source} is not a folder")
        key = build_key(settings, source, chunking_info(settings, build_counter(settings)))
    else:
        key, shards = staged_build(staging)
        # build() reads no document here (read_shards stands in for the source): it only needs a folder
        Path(settings.index_dir).mkdir(parents=True, exist_ok=True)
        settings = settings.model_copy(update={"shards": shards, "source": str(settings.index_dir)})
    reused: list[int] = []

    def read_shards(
        source: Path, settings: IndexSettings, on_stage: Callable[[str, int], None], *_: Any
    ) -> DocumentSet:
        staged = [load_shard(settings, key, shard, staging) for shard in range(settings.shards)]
        _check_inputs(settings, staged, key)
        on_stage("merging", len(staged))
        docs = merged_documents(staged)
        if docs.chunks:
            import numpy as np

            vectors = np.concatenate([s.vectors for s in staged if len(s.chunks)])
            order = _chunk_order(staged, docs)
            embedding_cache(settings, vectors.shape[1]).add(
                [c.content_hash for c in docs.chunks], vectors[order]
            )
        reused.append(sum(s.result.reused_embeddings for s in staged))
        return docs

    result = build(settings, progress, embedder, fetched, read=read_shards)
    # Published (or found unchanged): this build's staging has served, and builds abandoned
    # longer than the retention (their source changed before a merge) go with it.
    try:
        staging.remove_build(key)
        expired = remove_expired(staging, key, settings.staging_retention_hours)
        if expired:
            log.info("removed abandoned staging", extra={"builds": expired, "staging": str(staging)})
        from oozo_runtime.indexing.cache import model_key

        kept = (model_key(*cache_identity(settings, embedder)), settings.shards)
        packs = shard_cache.remove_stale(staging, kept if settings.staging_embedding_cache else None)
        if packs:
            log.info("removed stale embedding packs", extra={"packs": packs, "staging": str(staging)})
    except (OozoError, OSError) as exc:  # published already: a cleanup left for the next merge fails nothing
        log.warning("staging not removed", extra={"staging": str(staging), "error": str(exc)})
    update: dict[str, Any] = {"shards": settings.shards}
    if not result.unchanged and reused:
        update["reused_embeddings"] = reused[0]  # what the shards took from the cache
    return result.model_copy(update=update)


def staged_build(staging: Staging) -> tuple[str, int]:
    """(build, N) of the newest build in `staging` whose N shards are all staged; ShardMissing
    naming the missing shards of the newest build when none is complete."""
    import json

    builds = staging.builds()
    complete: list[tuple[float, str, int]] = []
    newest_missing: tuple[float, str, list[int], int] | None = None
    for key, (shards, newest) in builds.items():
        if not shards:
            continue
        raw = staging.read_file(key, shards[0], INPUTS_FILE)
        wanted = int(json.loads(raw or b"{}").get("shards", 0))
        missing = [k for k in range(wanted) if k not in shards]
        if wanted and not missing:
            complete.append((newest, key, wanted))
        elif newest_missing is None or newest > newest_missing[0]:
            newest_missing = (newest, key, missing, wanted)
    if complete:
        _, key, wanted = max(complete)
        return key, wanted
    if newest_missing is None:
        raise ShardMissing(
            "ShardMissing",
            f"no staged shard in {staging}: run `oozo index SOURCE --shard K/N "
            f"--staging {staging}` for K in 0..N-1 first",
        )
    _, key, missing, wanted = newest_missing
    named = ", ".join(str(k) for k in missing)
    raise ShardMissing(
        "ShardMissing",
        f"build {key[:12]} in {staging}: shard {named} of {wanted} has no result: run `oozo index SOURCE "
        f"--shard {missing[0]}/{wanted} --staging {staging}` on the same source first",
    )


def _check_inputs(settings: IndexSettings, staged: list[StagedShard], key: str) -> None:
    """The merge's own chunking, model and limits must be the shards': its vectors are published
    under the merge's model, and a merge without a source has only the settings it is given."""
    from oozo_runtime.indexing.tokens import build_counter, chunking_info

    own = build_inputs(settings, chunking_info(settings, build_counter(settings)))
    for shard in staged:
        differ = sorted(name for name in own if shard.inputs.get(name) != own[name])
        if differ:
            raise BuildError(
                "InvalidSettings",
                f"shard {shard.result.shard} of build {key[:12]} was staged with another "
                f"{' and '.join(differ)} "
                "than this merge's: give the merge the flags (--model, --chunk-size, ...) the shards had",
            )


def merged_documents(staged: list[StagedShard]) -> DocumentSet:
    """One DocumentSet from the shards, ordered as a one-pod build reads the source: by document
    path, each document's chunks in their order. Skipped documents keep their shard."""
    by_document: dict[str, list[Chunk]] = {}
    documents: dict[str, str] = {}
    for shard in staged:
        documents.update(shard.documents)
        for chunk in shard.chunks:
            by_document.setdefault(chunk.document, []).append(chunk)
    docs = DocumentSet()
    for name in sorted(documents):
        docs.documents[name] = documents[name]
        docs.chunks.extend(by_document.get(name, []))
    docs.skipped = sorted((s for shard in staged for s in shard.skipped), key=lambda s: s.document)
    return docs


def _chunk_order(staged: list[StagedShard], docs: DocumentSet) -> Any:
    """Positions in the shards' concatenated vectors of the merged chunks, in merged order."""
    import numpy as np

    position: dict[tuple[str, int], int] = {}
    offset = 0
    for shard in staged:
        for i, chunk in enumerate(shard.chunks):
            position[(chunk.document, chunk.ordinal)] = offset + i
        offset += len(shard.chunks)
    return np.array([position[(c.document, c.ordinal)] for c in docs.chunks], dtype=np.int64)
