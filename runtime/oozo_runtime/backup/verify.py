"""`oozo verify-backup`: a restore drill. A backup nobody ever restored is a hope, not a backup.

    1. restore the newest backup (or @VERSION) into a fresh directory under the scratch space with
       the restore's own code: ownership, signature, the artifact's sha256 against its marker,
       every unpacked file against the manifest's checksums (restore.run_restore)
    2. load it exactly as the server does (`LoadedIndex.load`: the manifest's embedding
       fingerprint against the configured model, every file's checksum again, FAISS, BM25) and
       pick the query encoder the server would pick (the version's ONNX graph, else the model)
    3. ask it questions: the golden questions of spec.evaluation when there are some (hit@5 against
       their expected documents, scored by the quality gate's own code, passing at its minHitAt5);
       otherwise a handful of its own chunks, evenly spread, each of which must find itself in the
       top 5 with its own text as the query
The scratch directory is removed at the end, pass or fail: the drill leaves nothing behind, and a
serving index is never opened for writing (a drill Job mounts an emptyDir, not the index volume).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from oozo_contract.backup_settings import VerifySettings
from oozo_contract.results import (
    INDEX_LOAD_FAILED,
    NO_BACKUP,
    QUESTION_IDS_MAX,
    QUESTIONS_FAILED,
    BackupVerifyResult,
    RestoreResult,
)
from oozo_runtime.backup import errors as e
from oozo_runtime.backup.errors import BackupError
from oozo_runtime.backup.layout import file_checksums
from oozo_runtime.backup.ownership import Owner
from oozo_runtime.backup.uri import parse_s3_uri
from oozo_runtime.errors import OozoError

TOP_K = 5  # the quality gate's hit@5: a source a user sees on the first screen


def run_verify(
    settings: VerifySettings, signing_key: bytes | None = None, client: Any = None
) -> BackupVerifyResult:
    started = time.monotonic()
    loc = parse_s3_uri(settings.restore_uri, allow_version=True)
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    # A fresh directory every time: a version already on disk would be trusted without a download.
    scratch = Path(tempfile.mkdtemp(prefix="drill-", dir=settings.index_dir))
    try:
        restored = _restore(settings, loc, scratch, signing_key, client)
        progress: dict[str, Any] = {
            "time": restored.time,
            "uri": restored.uri,
            "sha256": restored.sha256,
            "version": restored.version,
            "size_bytes": restored.size_bytes,
        }
        index, encoder = _load(settings, scratch, restored.version)
        files = len(file_checksums(index.manifest)[1])
        progress.update(
            checksums=1 + files,  # the artifact's sha256, then every file of the version
            documents=index.document_count,
            chunks=len(index.chunks),
        )
        mode, asked, hits, missed, passed = _ask(settings, index, encoder)
        result = BackupVerifyResult(
            **progress,
            mode=mode,
            questions=asked,
            hits=hits,
            missed=missed[:QUESTION_IDS_MAX],
            seconds=round(time.monotonic() - started, 3),
        )
        if not passed:
            what = "golden questions" if mode == "questions" else "sampled chunks"
            raise OozoError(
                QUESTIONS_FAILED,
                f"backup {restored.version} restored and loaded, but answered {hits} of {asked} {what} "
                f"(missed: {', '.join(missed[:QUESTION_IDS_MAX])})",
                {"verification": result.model_dump(mode="json", by_alias=True, exclude_none=True)},
            )
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _restore(
    settings: VerifySettings, loc: Any, scratch: Path, signing_key: bytes | None, client: Any
) -> RestoreResult:
    from oozo_runtime.backup.restore import run_restore

    owner = Owner(settings.restore_owner, settings.restore_owner_corpus) if settings.restore_owner else None
    try:
        return run_restore(
            scratch,
            loc,
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            owner=owner,
            from_owner=settings.restore_from_owner,
            signing_key=signing_key,
            client=client,
        )
    except BackupError as exc:
        if exc.reason == e.BACKUP_NOT_FOUND:  # the drill's own word: there is nothing to verify
            raise OozoError(NO_BACKUP, f"no backup to verify: {exc.message}") from None
        raise


def _load(settings: VerifySettings, root: Path, version: str) -> tuple[Any, Any]:
    """The index and query encoder, chosen as `oozo serve` chooses them (server/state.py)."""
    from oozo_runtime.embedding import expected_fingerprint, make_embedder
    from oozo_runtime.onnx_encoder import choose_query_encoder
    from oozo_runtime.retrieval import LoadedIndex, ModelMismatch, check_dimension
    from oozo_runtime.versions import IndexCorrupt, VersionNotFound

    try:
        index = LoadedIndex.load(root, version, expected_fingerprint(settings))
        if settings.embedding_provider == "local":
            cache = str(settings.model_cache_dir) if settings.model_cache_dir else None
            encoder = choose_query_encoder(root, index.manifest, settings.model, cache).encoder
        else:
            encoder = make_embedder(settings)
        check_dimension(index.manifest, encoder.dimension)
    except (ModelMismatch, IndexCorrupt, VersionNotFound) as exc:
        raise OozoError(INDEX_LOAD_FAILED, f"backup {version} restored but does not load: {exc}") from None
    return index, encoder


def _ask(settings: VerifySettings, index: Any, encoder: Any) -> tuple[str, int, int, list[str], bool]:
    """(mode, asked, hits, missed ids, passed)."""
    from oozo_runtime.indexing.quality_gate import decide, load_questions, score_index
    from oozo_runtime.retrieval import Retriever

    if settings.evaluation_questions is not None:
        questions = load_questions(settings.evaluation_questions)
        scores = score_index(index, encoder, questions, settings.retrieval_mode)
        hits = round(scores.hit_at5 * scores.questions)
        verdict = decide(scores.hit_at5, None, settings.evaluation_min_hit_at5, 0.0)
        return "questions", scores.questions, hits, list(scores.missed), verdict.passed
    retriever = Retriever(encoder, index, settings.retrieval_mode)
    missed = []
    picks = sample_positions(len(index.chunks), settings.verify_samples)
    for position in picks:
        chunk = index.chunks[position]
        own = (chunk["document"], int(chunk["chunk"]))
        found, _ = retriever.retrieve(chunk["text"], TOP_K)
        if own not in [(hit.document, hit.chunk) for hit in found]:
            missed.append(f"{own[0]}#{own[1]}")
    return "samples", len(picks), len(picks) - len(missed), missed, not missed


def sample_positions(total: int, wanted: int) -> list[int]:
    """`wanted` chunk positions spread evenly over `total` (all of them when there are fewer):
    the same every run, so a drill that fails fails again on the same chunks."""
    if total <= wanted:
        return list(range(total))
    return [(n * total) // wanted for n in range(wanted)]
