"""The s3 tier: one real MinIO per session on loopback, a fresh bucket per test, and small
builders for index directories laid out as the runtime publishes them."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import xxhash

from devcluster.s3server import S3Server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("s3"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.make_bucket(f"oozo-{secrets.token_hex(4)}")


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Credentials the way a Pod gets them: AWS_* variables (the test's own shell ones removed)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "OOZO_")):
            monkeypatch.delenv(name)
    env = s3_server.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def add_version(
    index_dir: Path,
    version: str,
    files: dict[str, bytes],
    *,
    current: bool = True,
    fast_checksums: bool = True,
) -> Path:
    """Publish a version the way the indexer does: files + manifest (sha256 of each, and their
    xxh3_128 unless `fast_checksums` is off, like a manifest written before they existed) in
    versions/<version>, and `current` pointing at it."""
    vdir = index_dir / "versions" / version
    vdir.mkdir(parents=True)
    for rel, data in files.items():
        (vdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (vdir / rel).write_bytes(data)
    manifest = {
        "version": version,
        "embedding": {"model": "sentence-transformers/all-MiniLM-L6-v2", "dimension": 384},
        "chunking": {"size": 1000, "overlap": 200},
        "documents": {"handbook.md": sha256(b"handbook")},
        "counts": {"documents": 1, "chunks": 3},
        "files": {rel: sha256(data) for rel, data in files.items()},
    }
    if fast_checksums:
        manifest["fileChecksums"] = {
            "xxh3_128": {rel: xxhash.xxh3_128(data).hexdigest() for rel, data in files.items()}
        }
    (vdir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    if current:
        link = index_dir / "current"
        link.unlink(missing_ok=True)
        os.symlink(f"versions/{version}", link)
    (index_dir / "cache").mkdir(exist_ok=True)
    return vdir


def sample_files(seed: str = "a", vectors: int = 2048) -> dict[str, bytes]:
    """A small index shaped like the runtime's: incompressible vectors and a JSON-lines chunk store."""
    rng = hashlib.sha256(seed.encode()).digest()
    blob = b"".join(
        hashlib.sha256(rng + i.to_bytes(4, "big")).digest() for i in range(vectors * 384 * 4 // 32)
    )
    chunks = "\n".join(
        json.dumps({"id": i, "document": "handbook.md", "text": f"Section {i} of the {seed} handbook."})
        for i in range(50)
    )
    return {"index.faiss": blob, "chunks.jsonl": chunks.encode()}


def tree(vdir: Path) -> dict[str, bytes]:
    return {p.relative_to(vdir).as_posix(): p.read_bytes() for p in sorted(vdir.rglob("*")) if p.is_file()}
