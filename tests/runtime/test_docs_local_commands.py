"""The runtime without Kubernetes, as README.md ("Without Kubernetes") and docs/runtime.md show
it: their `oozo index`, `oozo query` and `oozo serve` lines, read from the pages and run by bash
in a working directory that holds a small handbook in ./docs and the checkout's .venv, with the
real model. The only substitution is the server's address: OOZO_HOST/OOZO_PORT in the
environment (the documented 127.0.0.1:8000 may be taken by another test)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from devcluster.ports import free_port
from tests.doc_commands import documented, documented_all, reader_checkout, shell


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "docs" / "hr").mkdir(parents=True)
    (tmp_path / "docs" / "hr" / "leave.md").write_text(
        "# Leave policy\n\nEmployees get 27 days of paid leave per year: 27 vacation days.\n"
    )
    (tmp_path / "docs" / "travel.md").write_text(
        "# Travel\n\nTrain journeys under six hours are booked in second class.\n"
    )
    return tmp_path


def served(command: str, cwd: Path, env: dict[str, str]) -> tuple[str, str]:
    """Start the documented `oozo serve` line, wait for /ready, return (the page at /, the log)."""
    port = free_port()
    log = cwd / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=cwd,
            env={**env, "OOZO_HOST": "127.0.0.1", "OOZO_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text, log.read_text()
    finally:
        proc.terminate()
        proc.wait(30)


def test_the_readme_runs_the_runtime_without_kubernetes(workdir: Path) -> None:
    env = {**os.environ, **reader_checkout(workdir)}
    index = shell(documented("README.md", startswith=".venv/bin/oozo index"), workdir, env)
    assert index.returncode == 0, index.stderr
    assert json.loads(index.stdout.splitlines()[-1])["documents"] == 2

    page, _ = served(documented("README.md", startswith=".venv/bin/oozo serve"), workdir, env)
    assert 'id="question"' in page, page[:500]  # the question page

    query = shell(documented("README.md", startswith=".venv/bin/oozo query"), workdir, env)
    assert query.returncode == 0, query.stderr
    assert "27" in query.stdout and "hr/leave.md" in query.stdout, query.stdout


def test_the_runtime_page_commands_print_what_it_shows(workdir: Path) -> None:
    env = {**os.environ, **reader_checkout(workdir)}
    # the page's first three commands; its `oozo merge` lines belong to Parallel builds
    # (tests/runtime/test_parallel_build_cli.py, tests/s3/test_parallel_staging.py)
    index, query, serve = documented_all("docs/runtime.md", startswith="oozo ")[:3]
    assert index.text.startswith("oozo index") and query.text.startswith("oozo query"), (index, query)

    built = shell(index.text, workdir, env)
    assert built.returncode == 0, built.stderr
    shown = json.loads(index.shown_output[0].replace(",...}", "}"))
    result = json.loads(built.stdout.splitlines()[-1])
    assert set(shown) <= set(result), (shown, result)

    asked = shell(query.text, workdir, env)
    assert asked.returncode == 0, asked.stderr
    # The page shows the answer's first line, then the sources under the serving version.
    assert asked.stdout.startswith("According to hr/leave.md (Leave policy):"), asked.stdout
    assert f"Sources (index {result['version']}):" in asked.stdout, asked.stdout
    assert query.shown_output[0].startswith("According to ")

    page, _ = served(serve.text, workdir, env)
    assert 'id="question"' in page, page[:500]
