"""The documents of a build: found in the source folder, parsed (unless unchanged since the
current version) and chunked; every file that cannot be used is skipped with its reason, never
fatal to the build."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from oozo_contract.index_settings import IndexSettings
from oozo_contract.manifest import ChunkingInfo, Manifest
from oozo_contract.results import SkippedDocument
from oozo_runtime import versions
from oozo_runtime.indexing.chunking import Chunk, chunk_blocks
from oozo_runtime.indexing.isolation import IsolatedParser
from oozo_runtime.indexing.parsing import SUPPORTED_SUFFIXES, DocumentLimits, UnusableDocument
from oozo_runtime.indexing.tokens import TokenCounter

log = logging.getLogger(__name__)


@dataclass
class DocumentSet:
    """The documents read from the source: their chunks, the sha256 of each one read, and the
    ones skipped with the reason."""

    chunks: list[Chunk] = field(default_factory=list)
    documents: dict[str, str] = field(default_factory=dict)  # relative path -> sha256 of bytes
    skipped: list[SkippedDocument] = field(default_factory=list)

    def skip(self, document: str, reason: str) -> None:
        self.skipped.append(SkippedDocument(document=document, reason=reason))
        log.warning("skipped document", extra={"document": document, "reason": reason})


def discover(source: Path, include: list[str]) -> tuple[list[Path], dict[str, str]]:
    """Files under `source` matching any include glob, in a stable order, and the matches that
    cannot be read with the reason. Word lock files and hidden files are ignored. A match that
    resolves outside the source folder (a symlink to /etc/passwd, or into another corpus's
    files) is never read: the source is what the corpus's owner chose to publish."""
    root = source.resolve()
    found: set[Path] = set()
    refused: dict[str, str] = {}
    for pattern in include:
        for path in source.glob(pattern):
            rel = path.relative_to(source)
            if any(p.startswith((".", "~$")) for p in rel.parts):
                continue
            name = rel.as_posix()
            if path.is_symlink() and not path.exists():
                refused[name] = "broken symlink (its target does not exist)"
                continue
            try:
                target = path.resolve(strict=True)
            except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
                refused[name] = f"unreadable: {getattr(exc, 'strerror', None) or exc}"
                continue
            if not target.is_relative_to(root):
                refused[name] = "symlink to a file outside the source folder"
            elif path.is_file():
                found.add(path)
    return sorted(found, key=lambda p: p.relative_to(source).as_posix()), refused


@dataclass(frozen=True)
class CurrentVersion:
    path: Path
    manifest: Manifest


def current_version(root: Path) -> CurrentVersion | None:
    """The current version and its manifest, or None when there is none (or it is unreadable:
    the build then starts from scratch)."""
    try:
        path = versions.resolve(root)
        return CurrentVersion(path, versions.read_manifest(path))
    except (versions.VersionNotFound, OSError, ValueError):
        return None


def previous_chunks(
    current: CurrentVersion | None, settings: IndexSettings, chunking: ChunkingInfo
) -> tuple[dict[str, tuple[str, list[Chunk]]], int | None]:
    """Chunks of the current version by document, with the document's sha256, when it was
    chunked with the same parameters (`chunking`, token budget included); and its embedding
    dimension when built with the same model. An unchanged document (same bytes) then needs no
    parsing at all."""
    if current is None:
        return {}, None
    manifest = current.manifest
    from oozo_runtime.embedding import expected_fingerprint

    same_embedder = (
        manifest.embedding is not None and manifest.embedding.fingerprint() == expected_fingerprint(settings)
    )
    dimension = manifest.dimension if same_embedder else None
    if manifest.chunking != chunking:
        return {}, dimension
    by_doc: dict[str, list[Chunk]] = {}
    try:
        with open(current.path / versions.CHUNKS_FILE, encoding="utf-8") as fh:
            for line in fh:
                c = json.loads(line)
                by_doc.setdefault(c["document"], []).append(
                    Chunk(c["document"], c["chunk"], c["text"], c["heading"])
                )
    except (OSError, ValueError, KeyError):
        return {}, dimension
    docs = manifest.documents
    return {name: (docs[name], chunks) for name, chunks in by_doc.items() if name in docs}, dimension


def read_documents(
    source: Path,
    settings: IndexSettings,
    on_stage: Callable[[str, int], None],
    on_advance: Callable[[int], None],
    previous: dict[str, tuple[str, list[Chunk]]] | None = None,
    counter: TokenCounter | None = None,
    select: Callable[[str], bool] | None = None,
) -> DocumentSet:
    """`select`: which documents (by relative path) this build reads; default all. A shard of a
    parallel build reads only its own (indexing/shards.py)."""
    docs = DocumentSet()
    previous = previous or {}
    files, refused = discover(source, settings.include)
    if select is not None:
        files = [f for f in files if select(f.relative_to(source).as_posix())]
        refused = {name: reason for name, reason in refused.items() if select(name)}
    for name, reason in sorted(refused.items()):
        docs.skip(name, reason)
    on_stage("parsing", len(files))
    limits = DocumentLimits(max_chars=settings.max_document_chars, max_pages=settings.max_document_pages)
    with IsolatedParser(limits, settings.document_timeout_seconds, settings.parser_memory_mb) as parser:
        for path in files:
            name = path.relative_to(source).as_posix()
            try:
                chunks, digest = _chunks_of(path, name, settings, parser, previous, counter)
            except UnusableDocument as exc:
                docs.skip(name, str(exc))
            else:
                docs.documents[name] = digest
                docs.chunks.extend(chunks)
            on_advance(1)
    return docs


def _chunks_of(
    path: Path,
    name: str,
    settings: IndexSettings,
    parser: IsolatedParser,
    previous: dict[str, tuple[str, list[Chunk]]],
    counter: TokenCounter | None,
) -> tuple[list[Chunk], str]:
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UnusableDocument(f"unsupported file type {path.suffix or '(none)'}")
    try:
        digest = versions.sha256_file(path)
    except OSError as exc:  # permissions, an I/O error of the volume
        raise UnusableDocument(f"unreadable: {exc.strerror or exc}") from exc
    if name in previous and previous[name][0] == digest:
        chunks = previous[name][1]
    else:
        blocks = parser.parse(path)
        chunks = chunk_blocks(name, blocks, settings.chunk_size, settings.chunk_overlap, counter)
    if not chunks:
        raise UnusableDocument("no text")
    if len(chunks) > settings.max_document_chunks:
        raise UnusableDocument(
            f"{len(chunks):,} chunks, more than {settings.max_document_chunks:,} (OOZO_MAX_DOCUMENT_CHUNKS)"
        )
    return chunks, digest
