"""`manifest.json`, the description every index version carries: written once by the build (or
brought back by a restore), read by the server, the next build, backup and restore. This model is
its only reader and writer.

`formatVersion` 1 is what every Oozo so far has written; manifests without it (hand-made ones,
test fixtures) read as 1. A manifest from a newer format is refused rather than half understood.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from oozo_contract.results import Evaluation, SkippedDocument

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1


class _Part(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class OnnxGraphInfo(_Part):
    """The ONNX export of the embedding model the server encodes questions with (no torch). It
    lives once per model revision in INDEX_DIR/<folder>, shared by the versions built with that
    revision; the server refuses a folder whose files differ from these checksums."""

    folder: str = Field(description="relative to the index directory, e.g. onnx/<model>-<revision>")
    files: dict[str, str] = Field(description="file name → xxh3_128 of its bytes")
    opset: int
    model_revision: str = Field(description="fingerprint of the model's weights, config and tokenizer")
    exporter: str = Field(default="", description="what exported it, e.g. torch.onnx 2.5.1")


class EmbeddingInfo(_Part):
    """The model fingerprint: what the server checks before serving a version. Provider and host
    are absent from manifests written before remote embeddings (they read as local)."""

    model: str
    dimension: int | None = None
    normalized: bool = True
    metric: str = "inner_product"
    query_prefix: str = ""
    passage_prefix: str = ""
    # None for the local provider, so a local build writes the same bytes as before remote
    # embeddings existed (a backup compares manifest bytes with its copy in S3).
    provider: str | None = Field(default=None, description="openai for a remote server; absent: local")
    host: str | None = Field(default=None, description="host[:port] of a remote embeddings server")
    server_prefixes: bool | None = Field(
        default=None, description="the remote server added the instruction prefixes (input_type)"
    )
    # Absent in manifests written before the ONNX query encoder (they load as None): the server
    # then encodes with torch. `onnx_error` says why a build could not export one.
    onnx: OnnxGraphInfo | None = None
    onnx_error: str | None = None
    # Absent for the bundled model and remote ones. For an s3:// model the digest of the copied
    # listing (keys and ETags), for a model folder a digest of its files, for a Hugging Face Hub
    # id the commit the index step downloaded (the server loads exactly that commit). A new
    # revision of the same model id rebuilds, and its vectors are cached apart.
    model_revision: str | None = Field(
        default=None, description="revision of the model files: a digest, or a hub model's commit"
    )

    @model_serializer(mode="wrap")
    def _local_has_no_remote_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A local version's embedding reads exactly as before remote embeddings (and copied
        models' revisions) existed."""
        data: dict[str, Any] = handler(self)
        for name in (
            "provider",
            "host",
            "server_prefixes",
            "serverPrefixes",
            "model_revision",
            "modelRevision",
        ):
            if name in data and data[name] is None:
                del data[name]
        return data

    def fingerprint(self) -> EmbeddingFingerprint:
        return EmbeddingFingerprint(
            provider=self.provider or "local",
            host=self.host,
            model=self.model,
            server_prefixes=bool(self.server_prefixes),
        )

    def cache_identity(self) -> str:
        """Whose vectors the embedding cache holds: the model id alone for the local provider (as
        every cache so far was keyed), with @revision for copied model files; provider, host and
        model for a remote one."""
        return model_cache_identity(self.fingerprint(), self.model_revision)


def model_cache_identity(fingerprint: EmbeddingFingerprint, model_revision: str | None) -> str:
    identity = fingerprint.cache_identity()
    return f"{identity}@{model_revision}" if model_revision else identity


class EmbeddingFingerprint(_Part):
    """Which embedder a version's vectors come from, without the dimension (known only once the
    model answers). Two embedders with equal fingerprints give comparable vectors."""

    provider: str = "local"
    host: str | None = None
    model: str
    server_prefixes: bool = False

    def cache_identity(self) -> str:
        if self.provider == "local":
            return self.model
        marker = "+server-prefixes" if self.server_prefixes else ""
        return f"{self.provider}://{self.host}/{self.model}{marker}"

    def describe(self) -> str:
        if self.provider == "local":
            return f"local model {self.model!r}"
        return f"{self.provider} model {self.model!r} at {self.host}" + (
            " (server-side prefixes)" if self.server_prefixes else ""
        )


class ChunkingInfo(_Part):
    size: int
    overlap: int
    # Absent for character windows alone (a remote embeddings server; versions built before
    # token-aware chunking, which therefore re-chunk once).
    max_tokens: int | None = Field(
        default=None, description="token budget of a chunk, prefix and special tokens included"
    )


class IndexFileInfo(_Part):
    """The version's FAISS index: what was built (auto resolved), with which parameters, and what
    the approximation costs. The measured fields are absent from versions built before them."""

    type: str = "flat"
    file: str = "index.faiss"
    params: dict[str, int] | None = Field(
        default=None, description="hnsw: m, efConstruction, efSearch; ivfpq: nlist, nprobe, m, nbits"
    )
    recall_at10: float | None = Field(
        default=None,
        alias="recallAt10",
        description="share of the exact top 10 the index returns, over a seeded sample of the corpus's "
        "own vectors as questions; 1.0 for flat (exact, not measured)",
    )
    recall_queries: int | None = Field(default=None, description="questions the recall was measured over")
    size_bytes: int | None = Field(default=None, description="size of the index file")
    memory_bytes: int | None = Field(
        default=None, description="memory the version needs in a serving replica (index, chunks, BM25)"
    )


class LexicalIndexInfo(_Part):
    """The version's BM25 index (hybrid and lexical retrieval). Absent from versions built before
    it existed: the server then builds one from the chunks at load."""

    file: str = Field(description="a file of the version, covered by its checksums")
    tokenizer: str = Field(description="how texts were split into words; another one is rebuilt at load")
    method: str = "lucene"
    k1: float = 1.5
    b: float = 0.75


class Counts(_Part):
    documents: int
    chunks: int
    chunks_truncated: int | None = Field(
        default=None, description="chunks longer than the model reads (absent: not counted, remote model)"
    )


class FileChecksums(_Part):
    xxh3_128: dict[str, str] = Field(default_factory=dict, alias="xxh3_128")


class Manifest(_Part):
    format_version: int = FORMAT_VERSION
    version: str
    built_at: str | None = None
    embedding: EmbeddingInfo | None = None
    chunking: ChunkingInfo | None = None
    index: IndexFileInfo = Field(default_factory=IndexFileInfo)
    lexical: LexicalIndexInfo | None = None
    documents: dict[str, str] = Field(default_factory=dict, description="relative path → sha256 of its bytes")
    skipped: list[SkippedDocument] = Field(default_factory=list)
    counts: Counts | None = None
    source_revision: str | None = Field(
        default=None, description="the fetched source's revision the documents came from (commit SHA, digest)"
    )
    files: dict[str, str] = Field(
        default_factory=dict, description="file name → sha256: what a restore proves it brought back"
    )
    file_checksums: FileChecksums | None = Field(
        default=None, description="xxh3_128 of the same files: what a backup checks while it packs"
    )
    # Absent unless the build ran the quality gate (and then the version passed it). An optional
    # field older readers ignore (extra="ignore") costs them nothing: no new formatVersion.
    evaluation: Evaluation | None = Field(
        default=None, description="the golden-question scores the version was promoted with"
    )

    @field_validator("files", mode="before")
    @classmethod
    def _sha256_of_each(cls, value: Any) -> Any:
        """Also accept {name: {"sha256": ...}}, a shape early manifests used."""
        if isinstance(value, dict):
            return {k: v["sha256"] if isinstance(v, dict) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _known_format(self) -> Manifest:
        if self.format_version > FORMAT_VERSION:
            raise ValueError(
                f"manifest format {self.format_version} is newer than this Oozo reads ({FORMAT_VERSION})"
            )
        return self

    @property
    def model(self) -> str | None:
        """The embedding model the version was built with."""
        return self.embedding.model if self.embedding else None

    @property
    def dimension(self) -> int | None:
        return self.embedding.dimension if self.embedding else None

    @classmethod
    def parse(cls, data: bytes | str) -> Manifest:
        """Raises pydantic's ValidationError (a ValueError) for anything but a manifest."""
        return cls.model_validate_json(data)

    @classmethod
    def read(cls, version_dir: Path) -> Manifest:
        """The manifest of a version directory; OSError when it has none, ValueError when it is
        not a manifest."""
        return cls.parse((version_dir / MANIFEST_FILE).read_bytes())

    def write(self, version_dir: Path) -> None:
        """Sorted keys and an indent, as every Oozo has written it: a backup compares these bytes
        with the copy in S3 to tell an unchanged version from a conflicting one."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        (version_dir / MANIFEST_FILE).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
