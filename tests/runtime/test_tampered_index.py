"""A tampered version is never served (issue 13): the real server and the real `oozo query`,
on a copy of an index built with the real model, after a file of the version was rewritten."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from oozo_runtime import versions
from tests.runtime.conftest import Built, copy_index, oozo


def rewrite_chunks(vdir: Path) -> None:
    """A rewritten chunk store with the same number of lines: it would load and answer."""
    path = vdir / versions.CHUNKS_FILE
    path.write_text(path.read_text().replace("e", "3"))


def truncate_faiss(vdir: Path) -> None:
    path = vdir / versions.INDEX_FILE
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)


def tampered(built: Built, dest: Path, tamper: Callable[[Path], None]) -> Path:
    index_dir = copy_index(built, dest)
    tamper(versions.resolve(index_dir))
    return index_dir


def unready_reason(url: str, wait: float = 180) -> dict[str, Any]:
    """/ready once the server has given its verdict (the load runs in the background)."""
    deadline = time.monotonic() + wait
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url + "/ready", timeout=2)
        except httpx.ConnectError:  # not listening yet
            time.sleep(0.3)
            continue
        assert r.status_code == 503, r.text  # never ready, not even for a moment
        body = r.json()
        if "manifest" in str(body.get("error")):
            return body
        time.sleep(0.3)
    raise TimeoutError(f"no load verdict: {body}")


@pytest.mark.parametrize(
    ("tamper", "named"), [(rewrite_chunks, "chunks.jsonl"), (truncate_faiss, "index.faiss")]
)
def test_a_tampered_version_is_never_served(
    built: Built, serve: Any, tmp_path: Path, tamper: Callable[[Path], None], named: str
) -> None:
    index_dir = tampered(built, tmp_path / "index", tamper)
    server = serve(index_dir)
    body = unready_reason(server.url)
    reason = body["error"]
    assert named in reason and built.result.version in reason and "does not match its manifest" in reason
    assert str(tmp_path) not in reason and "Traceback" not in reason and "Error:" not in reason
    assert httpx.post(server.url + "/api/query", json={"question": "vacation days"}).status_code == 503
    assert httpx.get(server.url + "/ready").status_code == 503  # it stays refused


def test_oozo_query_refuses_a_tampered_version(built: Built, tmp_path: Path) -> None:
    index_dir = tampered(built, tmp_path / "index", rewrite_chunks)
    done = subprocess.run(
        oozo("query", "How many vacation days?", "--index", str(index_dir)),
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=300,
        check=False,
    )
    assert done.returncode == 1
    assert "chunks.jsonl" in done.stderr and "does not match its manifest" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
