"""`oozo backup` and `oozo restore` as README.md and docs/backup.md show them, read from the pages
and run by bash against the real MinIO, in a working directory holding an index (./index) and
the checkout's .venv. Substituted, visibly: the documented bucket for the test's own, and the
store's endpoint given as OOZO_S3_ENDPOINT (the environment form of `--endpoint`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devcluster.s3server import S3Server
from tests.doc_commands import documented, documented_all, reader_checkout, shell
from tests.s3.conftest import add_version, sample_files, tree

VERSION = "20261124t030001z-1a2b3c4d"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    vdir = add_version(tmp_path / "index", VERSION, sample_files("docs"))
    manifest = json.loads((vdir / "manifest.json").read_text())
    manifest["builtAt"] = "2026-11-24T03:00:01Z"  # as the indexer records it; restore reports it
    (vdir / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def environment(s3_server: S3Server, workdir: Path) -> dict[str, str]:
    return {**reader_checkout(workdir), **s3_server.env(), "OOZO_S3_ENDPOINT": s3_server.endpoint}


def last_json(stdout: str) -> dict:
    return dict(json.loads(stdout.strip().splitlines()[-1]))


def test_the_readme_backs_up_and_restores_an_index(
    s3_server: S3Server, bucket: str, s3_env: dict[str, str], workdir: Path
) -> None:
    env = environment(s3_server, workdir)
    backup = documented("README.md", startswith=".venv/bin/oozo backup")
    restore = documented("README.md", startswith=".venv/bin/oozo restore")
    for command in (backup, restore):
        assert "s3://bucket/" in command, command
        done = shell(command.replace("s3://bucket/", f"s3://{bucket}/"), workdir, env)
        assert done.returncode == 0, (command, done.stderr)
    restored = (workdir / "restored" / "current").resolve()
    assert restored.name == VERSION
    assert tree(restored) == tree(workdir / "index" / "versions" / VERSION)


def test_the_backup_page_prints_what_it_shows(
    s3_server: S3Server, bucket: str, s3_env: dict[str, str], workdir: Path
) -> None:
    env = environment(s3_server, workdir)
    (backup,) = documented_all("docs/backup.md", startswith="oozo backup")
    (restore,) = documented_all("docs/backup.md", startswith="oozo restore")
    results = []
    for command in (backup, restore):
        assert "s3://rag-backups/" in command.text, command
        done = shell(command.text.replace("s3://rag-backups/", f"s3://{bucket}/"), workdir, env)
        assert done.returncode == 0, (command, done.stderr)
        shown = json.loads(" ".join(command.shown_output))
        result = last_json(done.stdout)
        assert set(shown) <= set(result), (command.text, sorted(set(shown) - set(result)))
        results.append(result)
    assert results[0]["version"] == results[1]["version"] == VERSION
    assert results[0]["uri"].startswith(f"s3://{bucket}/handbook/{VERSION}/")
