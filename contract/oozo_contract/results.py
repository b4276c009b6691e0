"""What a runtime Job reports back: `oozo index`, `oozo backup` and `oozo restore` print one of
these as their JSON result line and write it as the container's termination message, and the
operator validates that message into the same model before it copies fields into status.

Strings are cut to the bounds of the status fields they land in (a long document path or
skip reason shortens the report instead of voiding it); numbers that cannot be negative are
refused when they are. Unknown keys are ignored, so a newer runtime may report more.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Bounds of the status fields the results are copied into (RagCorpus.status in the CRD).
VERSION_MAX = 128
TIME_MAX = 64
URI_MAX = 4096
SHA256_MAX = 64
MODEL_MAX = 256
DETAIL_MAX = 4096
# Versions an index build lists as still on the volume (newest first): status.index.available.
# Ten entries of about 150 bytes keep the termination message far below its 4096 bytes; a
# message that still does not fit loses the oldest entries first (oozo_runtime.termination).
AVAILABLE_MAX = 10


def _cut(limit: int) -> AfterValidator:
    return AfterValidator(lambda text: text[:limit])


VersionName = Annotated[str, Field(min_length=1), _cut(VERSION_MAX)]
Timestamp = Annotated[str, _cut(TIME_MAX)]
Uri = Annotated[str, Field(min_length=1), _cut(URI_MAX)]
Sha256 = Annotated[str, Field(min_length=1), _cut(SHA256_MAX)]
ModelName = Annotated[str, _cut(MODEL_MAX)]
Detail = Annotated[str, _cut(DETAIL_MAX)]
Count = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]


class ResultModel(BaseModel):
    """camelCase on the wire (the status fields are camelCase too), snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class SkippedDocument(ResultModel):
    """A document the indexer could not read, and why."""

    document: Detail
    reason: Detail
    shard: Count | None = None  # the shard of a parallel build that skipped it


Score = Annotated[float, Field(ge=0, le=1)]
QUESTION_IDS_MAX = 10  # missed questions a result names; the count has them all
# `oozo index` ends with this reason and exit code when the new version failed the quality gate
# and was not published: the same inputs give the same verdict, so the index Job's
# podFailurePolicy fails the Job at once instead of retrying.
QUALITY_GATE_FAILED = "QualityGateFailed"
QUALITY_GATE_EXIT_CODE = 3


class Evaluation(ResultModel):
    """The quality gate's verdict on a version (`oozo index --evaluation-questions`): retrieval
    scores over the golden questions, beside those of the version it was compared with. Written
    into the manifest of a version that passed, and reported by every build that evaluated,
    passed or not (status.index.evaluation)."""

    version: VersionName = Field(description="the version evaluated (a rejected one is never published)")
    questions: Count
    hit_at1: Score = Field(alias="hitAt1")
    hit_at5: Score = Field(alias="hitAt5")
    mrr_at5: Score = Field(alias="mrrAt5")
    passed: bool
    min_hit_at5: Score = Field(alias="minHitAt5")
    max_regression: Score
    baseline_version: VersionName | None = None
    baseline_hit_at5: Score | None = Field(None, alias="baselineHitAt5")
    # Why there is no baseline although a version serves (another embedding model, unreadable).
    baseline_note: Detail | None = None
    # Ids of the first questions whose expected documents were not in the top 5.
    missed: list[Annotated[str, _cut(128)]] = Field(default_factory=list, max_length=QUESTION_IDS_MAX)
    reason: Detail = Field("", description="why the gate failed; empty when it passed")


class AvailableVersion(ResultModel):
    """An index version on the volume after a build: what a pin (spec.index.pinnedVersion) may
    choose, with the facts a person chooses by. The embedding model is the one the server must
    embed questions with when it serves this version."""

    version: VersionName
    built_at: Timestamp | None = None
    documents: Count | None = None
    chunks: Count | None = None
    embedding_model: ModelName | None = None


def _newest(limit: int) -> AfterValidator:
    return AfterValidator(lambda items: items[:limit])


class VectorIndexReport(ResultModel):
    """What the version's FAISS index costs and gives (from its manifest): the type built (auto
    resolved), recall@10 against exact search, the index file's size and the memory a serving
    replica needs for the version. Absent for versions built before they were measured."""

    type: Annotated[str, _cut(16)]
    recall_at10: Score | None = Field(None, alias="recallAt10")
    size_bytes: Count | None = None
    memory_bytes: Count | None = None


class IndexBuildResult(ResultModel):
    """`oozo index`: the version it published, or the current one when the inputs (documents,
    chunking, model, index type) were those of the current version and nothing was published
    (`unchanged`). `pruned_versions` counts the versions retention deleted (their names are in
    the log: after an upgrade from an Oozo without retention they can be hundreds)."""

    version: VersionName
    documents: Count
    chunks: Count
    skipped_documents: Count
    skipped: list[SkippedDocument] = Field(default_factory=list)
    embedding_model: ModelName
    dimensions: Count
    size_bytes: Count
    built_at: Timestamp
    build_seconds: Seconds
    reused_embeddings: Count
    # Chunks longer than the model's max_seq_length, whose tails are not embedded: 0 unless
    # OOZO_CHUNK_MAX_TOKENS was raised above it. None: not counted (a remote embeddings server).
    chunks_truncated: Count | None = None
    index_type: str | None = None
    vector_index: VectorIndexReport | None = None
    # The model files' revision the manifest records (a hub model's commit, or a digest of an
    # s3:// or volume model); None for the bundled model and remote embeddings.
    model_revision: str | None = Field(default=None, max_length=128)
    unchanged: bool = False
    pruned_versions: Count = 0
    evaluation: Evaluation | None = None
    # The versions retention kept, newest first (the reported one among them); cut to
    # AVAILABLE_MAX. Empty from a runtime older than pins: only `version` is known to exist.
    available: Annotated[list[AvailableVersion], _newest(AVAILABLE_MAX)] = Field(default_factory=list)
    shards: Count | None = None  # the shards a parallel build merged; None: one pod built it


class ShardResult(ResultModel):
    """`oozo index --shard K --shards N`: one shard of a parallel build, left in the staging
    folder for the merge. `embedded` chunks were new; `reused_embeddings` came from the cache;
    `reused_result`: the shard's result was already staged (a retry after success), nothing redone."""

    shard: Count
    shards: Count
    build: Sha256  # the staging folder's name: a hash of the build's inputs
    documents: Count
    chunks: Count
    embedded: Count
    reused_embeddings: Count
    skipped_documents: Count
    skipped: list[SkippedDocument] = Field(default_factory=list)
    seconds: Seconds
    reused_result: bool = False


class BackupResult(ResultModel):
    """`oozo backup`: the artifact that holds the current version."""

    time: Timestamp
    uri: Uri
    sha256: Sha256
    size_bytes: Count | None = None
    version: VersionName
    unchanged: bool
    pruned: list[str] = Field(default_factory=list)
    seconds: Seconds


class RestoreResult(ResultModel):
    """`oozo restore`: the artifact it came from, and what its manifest says about the index (the
    same facts an index build reports, so status.index reads alike either way)."""

    time: Timestamp
    uri: Uri
    sha256: Sha256
    size_bytes: Count | None = None
    version: VersionName
    downloaded: bool
    seconds: Seconds
    documents: Count | None = None
    chunks: Count | None = None
    skipped_documents: Count | None = None
    embedding_model: ModelName | None = None
    dimensions: Count | None = None
    built_at: Timestamp | None = None
    owner: Detail | None = Field(
        None, description="who wrote the backups restored from (oozo-owner.json); empty: not recorded"
    )
    owner_corpus: Detail | None = Field(None, description="that owner's <namespace>/<name>")


# Reasons of a restore drill (`oozo verify-backup`) beyond the restore's own (ChecksumMismatch,
# Truncated, VerificationFailed, SignatureInvalid, ...): the BackupVerified condition carries them.
VERIFIED = "Verified"
NO_BACKUP = "NoBackup"
INDEX_LOAD_FAILED = "IndexLoadFailed"
QUESTIONS_FAILED = "QuestionsFailed"


class BackupVerifyResult(ResultModel):
    """`oozo verify-backup`: the backup restored into scratch space, every checksum checked, the
    index loaded as the server loads it and queried. `mode` says what was asked: the golden
    questions (`questions`) or sampled chunks' own text (`samples`). A failed drill reports
    `{error, reason}` plus these fields as far as it got (under `verification`)."""

    time: Timestamp
    uri: Uri
    sha256: Sha256
    version: VersionName
    size_bytes: Count | None = None
    checksums: Count = Field(description="checksums that matched: the artifact's sha256 and every file's")
    documents: Count | None = None
    chunks: Count | None = None
    mode: Annotated[str, _cut(16)] = Field(description="questions or samples")
    questions: Count
    hits: Count
    missed: list[Annotated[str, _cut(128)]] = Field(default_factory=list, max_length=QUESTION_IDS_MAX)
    seconds: Seconds
