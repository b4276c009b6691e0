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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from oozo_contract.results import SkippedDocument

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1


class _Part(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class EmbeddingInfo(_Part):
    model: str
    dimension: int | None = None
    normalized: bool = True
    metric: str = "inner_product"
    query_prefix: str = ""
    passage_prefix: str = ""


class ChunkingInfo(_Part):
    size: int
    overlap: int


class IndexFileInfo(_Part):
    type: str = "flat"
    file: str = "index.faiss"


class Counts(_Part):
    documents: int
    chunks: int


class FileChecksums(_Part):
    xxh3_128: dict[str, str] = Field(default_factory=dict, alias="xxh3_128")


class Manifest(_Part):
    format_version: int = FORMAT_VERSION
    version: str
    built_at: str | None = None
    embedding: EmbeddingInfo | None = None
    chunking: ChunkingInfo | None = None
    index: IndexFileInfo = Field(default_factory=IndexFileInfo)
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
