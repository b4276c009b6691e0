"""RagCorpus.status as pydantic models, rendered into the CRD like the spec; these models fix what
the operator may write. The operator writes status as plain dicts, a merge patch on the status
subresource (act.write_status). The fields copied from a runtime Job's result take their bounds
from the result models of `oozo_contract.results`, which cut what they read to fit."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from oozo_contract import fetch as F
from oozo_contract import results as R
from oozo_operator.api.base import ApiModel

# Successful backups status.backups remembers, newest first.
BACKUPS_KEPT = 5
# metav1.Condition limits, as the API server enforces them for built-in types.
REASON = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(ApiModel):
    """A metav1.Condition: one aspect of the corpus's state."""

    type: str = Field(
        max_length=316,
        description="Ready, Reconciling, Stalled, IndexReady, BackupSucceeded or BackupVerified.",
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(max_length=1024, min_length=1, pattern=REASON, description="CamelCase reason.")
    message: str = Field(max_length=32768, description="Human-readable detail.")
    last_transition_time: str = Field(
        json_schema_extra={"format": "date-time"}, description="When status last flipped."
    )
    observed_generation: int | None = Field(
        None, ge=-1, description="Generation the condition was computed for."
    )


class SkippedDocument(ApiModel):
    """A document the indexer could not read."""

    document: str = Field(max_length=R.DETAIL_MAX, description="Path of the document inside the source.")
    reason: str = Field(max_length=R.DETAIL_MAX, description="Why it was skipped.")
    shard: int | None = Field(None, ge=0, description="The shard of a parallel build that skipped it.")


class EvaluationStatus(ApiModel):
    """The quality gate's scores of the last evaluated build (spec.evaluation)."""

    version: str | None = Field(None, max_length=R.VERSION_MAX, description="The version evaluated.")
    passed: bool | None = Field(None, description="Whether it passed (and so was published).")
    questions: int | None = Field(None, ge=0, description="Golden questions asked.")
    hit_at1: float | None = Field(
        None, ge=0, le=1, alias="hitAt1", description="Share with an expected document first."
    )
    hit_at5: float | None = Field(
        None, ge=0, le=1, alias="hitAt5", description="Share with an expected document in the top 5."
    )
    mrr_at5: float | None = Field(
        None, ge=0, le=1, alias="mrrAt5", description="Mean reciprocal rank of the first expected document."
    )
    min_hit_at5: float | None = Field(None, ge=0, le=1, alias="minHitAt5", description="The floor applied.")
    max_regression: float | None = Field(None, ge=0, le=1, description="The tolerance applied.")
    baseline_version: str | None = Field(
        None, max_length=R.VERSION_MAX, description="The serving version it was compared with."
    )
    baseline_hit_at5: float | None = Field(
        None, ge=0, le=1, alias="baselineHitAt5", description="That version's hit@5 on the same questions."
    )
    baseline_note: str | None = Field(
        None, max_length=R.DETAIL_MAX, description="Why no serving version was compared."
    )
    missed: list[Annotated[str, Field(max_length=128)]] | None = Field(
        None, max_length=R.QUESTION_IDS_MAX, description="The first questions it missed (their ids)."
    )
    reason: str | None = Field(None, max_length=R.DETAIL_MAX, description="Why it failed.")


class AvailableVersion(ApiModel):
    """An index version on the volume, as the last build listed it."""

    version: str = Field(max_length=R.VERSION_MAX, description="Index version id.")
    built_at: str | None = Field(None, max_length=R.TIME_MAX, description="When it was built (RFC 3339).")
    documents: int | None = Field(None, ge=0, description="Documents indexed.")
    chunks: int | None = Field(None, ge=0, description="Chunks in the index.")
    embedding_model: str | None = Field(
        None, max_length=R.MODEL_MAX, description="Embedding model it was built with."
    )


class VectorIndexStatus(ApiModel):
    """What the version's FAISS index costs and gives, measured by its build (docs/indexes.md)."""

    type: str = Field(
        max_length=16, description="The index built: flat, hnsw, hnswfp16 or ivfpq (auto resolved)."
    )
    recall_at10: float | None = Field(
        None,
        ge=0,
        le=1,
        alias="recallAt10",
        description="Share of the exact top 10 the index returns, measured at build time over a sample "
        "of the corpus's own vectors as questions; 1 for flat (exact).",
    )
    size_bytes: int | None = Field(None, ge=0, description="Size of the index file.")
    memory_bytes: int | None = Field(
        None,
        ge=0,
        description="Memory a serving replica needs for the version (index, chunks, BM25); the "
        "server's default memory request is 1Gi plus this.",
    )


class IndexStatus(ApiModel):
    """The newest index version built for the current spec, as the index Job reported it, the
    version the server serves (servingVersion: the newest, or spec.index.pinnedVersion) and the
    versions still on the volume."""

    version: str | None = Field(
        None, max_length=R.VERSION_MAX, description="Index version id of the newest build."
    )
    serving_version: str | None = Field(
        None,
        max_length=R.VERSION_MAX,
        description="Set while the server serves another version than `version`: the one "
        "spec.index.pinnedVersion names (or, when that one is not available, the version that "
        "kept serving). Absent: the server serves `version`.",
    )
    available: list[AvailableVersion] | None = Field(
        None,
        max_length=R.AVAILABLE_MAX,
        description="Versions on the volume after the last build, newest first (at most "
        f"{R.AVAILABLE_MAX}): what spec.index.pinnedVersion may choose.",
    )
    spec_hash: str | None = Field(
        None, max_length=64, description="Hash of (source, chunking, embedding, index type)."
    )
    documents: int | None = Field(None, ge=0, description="Documents indexed.")
    chunks: int | None = Field(None, ge=0, description="Chunks in the index.")
    skipped_documents: int | None = Field(None, ge=0, description="Documents skipped (unreadable).")
    skipped: list[SkippedDocument] | None = Field(
        None, max_length=100, description="The first skipped documents."
    )
    embedding_model: str | None = Field(
        None, max_length=R.MODEL_MAX, description="Embedding model of the index."
    )
    model_revision: str | None = Field(
        None,
        max_length=128,
        description="Revision of the model files the vectors came from: the commit a hub model "
        "resolved to, or a sha256: digest of an s3:// or volume model. Absent for the bundled model "
        "and remote embeddings.",
    )
    dimensions: int | None = Field(None, ge=0, description="Vector dimensions.")
    size_bytes: int | None = Field(None, ge=0, description="Size of the version on disk.")
    vector_index: VectorIndexStatus | None = Field(
        None, description="The FAISS index of the version: type, recall, size and memory per replica."
    )
    built_at: str | None = Field(
        None, max_length=R.TIME_MAX, description="When the build finished (RFC 3339)."
    )
    build_seconds: float | None = Field(None, ge=0, description="Build duration.")
    succeeded_at: str | None = Field(
        None,
        max_length=R.TIME_MAX,
        description="When the Job that reported this index (a build, a refresh or a restore) completed: "
        "a refresh that found nothing new moves it, builtAt not. The stale-index alert watches it.",
    )
    reused_embeddings: int | None = Field(
        None, ge=0, description="Chunks whose embeddings came from the cache."
    )
    chunks_truncated: int | None = Field(
        None,
        ge=0,
        description="Chunks longer than the embedding model reads (their tails are not embedded): 0 "
        "unless spec.chunking.maxTokens exceeds the model's length; absent with a remote model.",
    )
    job: str | None = Field(None, max_length=253, description="The Job that built (or restored) it.")
    source_revision: str | None = Field(
        None,
        max_length=F.REVISION_MAX,
        description="Revision of a fetched source (s3, http, git) the build fetched: the commit SHA, "
        "or a sha256: digest of the S3 listing's keys and ETags or of the HTTP validators.",
    )
    restored_from: str | None = Field(
        None, max_length=R.URI_MAX, description="The backup artifact it was restored from (spec.restore)."
    )
    evaluation: EvaluationStatus | None = Field(
        None,
        description="Quality gate scores of the last evaluated build: this version's, or those of a "
        "newer build that failed the gate and was not published.",
    )


class BackupStatus(ApiModel):
    """The newest successful backup, as the backup Job reported it in its termination message."""

    time: str | None = Field(None, max_length=R.TIME_MAX, description="When it finished.")
    uri: str | None = Field(None, max_length=R.URI_MAX, description="Where it is.")
    sha256: str | None = Field(None, max_length=R.SHA256_MAX, description="Checksum of the artifact.")
    size_bytes: int | None = Field(None, ge=0, description="Size of the artifact.")
    version: str | None = Field(
        None, max_length=R.VERSION_MAX, description="Index version that was backed up."
    )
    job: str | None = Field(None, max_length=253, description="The Job that wrote it.")


class VerifiedBackupStatus(ApiModel):
    """The last restore drill (spec.backup.verify), as its Job reported it: passed or not."""

    time: str | None = Field(None, max_length=R.TIME_MAX, description="When the drill restored the backup.")
    result: Literal["Verified", "Failed"] | None = Field(None, description="Verified or Failed.")
    reason: str | None = Field(
        None, max_length=1024, description="Verified, or what failed: ChecksumMismatch, NoBackup, ..."
    )
    message: str | None = Field(None, max_length=R.DETAIL_MAX, description="What failed, for people.")
    uri: str | None = Field(None, max_length=R.URI_MAX, description="The artifact restored.")
    version: str | None = Field(None, max_length=R.VERSION_MAX, description="Index version of the backup.")
    checksums: int | None = Field(None, ge=0, description="Checksums that matched.")
    documents: int | None = Field(None, ge=0, description="Documents in the restored index.")
    chunks: int | None = Field(None, ge=0, description="Chunks in the restored index.")
    mode: str | None = Field(
        None, max_length=16, description="questions (spec.evaluation's) or samples (chunks' own text)."
    )
    questions: int | None = Field(None, ge=0, description="Questions asked.")
    hits: int | None = Field(None, ge=0, description="Questions with an expected source in the top 5.")
    job: str | None = Field(None, max_length=253, description="The drill Job.")
    last_verified_time: str | None = Field(
        None, max_length=R.TIME_MAX, description="When a drill last passed (kept through failed drills)."
    )


class RagCorpusStatus(ApiModel):
    """The observed state, written only by the operator."""

    observed_generation: int = Field(
        -1,
        ge=-1,
        description="Generation of the last completed reconcile; -1 until the operator's first pass, "
        "so kstatus reads a brand-new object as InProgress.",
    )
    conditions: list[Condition] | None = Field(
        None,
        max_length=16,
        description="Ready, Reconciling, Stalled, IndexReady, BackupSucceeded, BackupVerified "
        "(metav1.Condition).",
    )
    index: IndexStatus | None = Field(None, description="The published index version being served.")
    building: IndexStatus | None = Field(None, description="The index build in progress, if any.")
    endpoint: str | None = Field(None, max_length=512, description="Query URL inside the cluster.")
    source_revision: str | None = Field(
        None,
        max_length=F.REVISION_MAX,
        description="The source's revision. configMap: the resourceVersion the current index hash was "
        "computed with (editing the ConfigMap in place builds a new index version). s3, http, git: "
        "what the build of the served index fetched (status.index.sourceRevision), a commit SHA or a "
        "sha256: digest.",
    )
    replicas: int | None = Field(None, ge=0, description="Ready replicas of the server.")
    last_backup: BackupStatus | None = Field(None, description="The newest backup.")
    backups: list[BackupStatus] | None = Field(
        None,
        max_length=BACKUPS_KEPT,
        description=f"The last {BACKUPS_KEPT} successful backups, newest first (the first is lastBackup).",
    )
    last_verified_backup: VerifiedBackupStatus | None = Field(
        None, description="The last restore drill (spec.backup.verify) and its verdict."
    )
