"""Restore drills (`oozo verify-backup`, the command of the NAME-verify CronJob) against a real
MinIO: a good backup of a real index (real .docx files, the real model, FAISS, BM25) is restored
into scratch space, loaded as the server loads it and answers its golden questions; a tampered
artifact, a missing backup and questions it cannot answer fail the drill with a reason naming
what failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from devcluster.s3server import S3Server
from tests.doc_commands import documented, reader_checkout, shell
from tests.runtime.corpus import SampleCorpus, make_corpus
from tests.s3.helpers import Run, backup, oozo

OFFLINE = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[SampleCorpus, Path, str]:
    """One real index for the module: (documents, index dir, version)."""
    pytest.importorskip("faiss")
    root = tmp_path_factory.mktemp("drill")
    corpus = make_corpus(root / "docs", 6)
    run = oozo("index", str(corpus.root), "--out", str(root / "index"), env=OFFLINE)
    assert run.code == 0, run.stderr
    return corpus, root / "index", run.result["version"]


def drill(server: S3Server, uri: str, scratch: Path, *extra: str) -> Run:
    termination = scratch.parent / "termination-log"
    env = {**server.env(), **OFFLINE, "OOZO_TERMINATION_MESSAGE_PATH": str(termination)}
    return oozo(
        "verify-backup",
        "--from",
        uri,
        "--scratch",
        str(scratch),
        "--endpoint",
        server.endpoint,
        *extra,
        env=env,
    )


def questions_file(path: Path, corpus: SampleCorpus, wrong: bool = False) -> Path:
    items = [
        {"id": f"q{n}", "question": fact.question, "documents": ["nowhere.docx" if wrong else fact.document]}
        for n, fact in enumerate(corpus.facts)
    ]
    path.write_text(yaml.safe_dump({"questions": items}))
    return path


def test_a_good_backup_passes_the_drill_answering_its_golden_questions(
    s3_server: S3Server, bucket: str, built: tuple[SampleCorpus, Path, str], tmp_path: Path
) -> None:
    corpus, index, version = built
    assert backup(s3_server, index, f"s3://{bucket}/handbook").code == 0
    scratch = tmp_path / "scratch"
    questions = questions_file(tmp_path / "questions.yaml", corpus)
    run = drill(s3_server, f"s3://{bucket}/handbook", scratch, "--questions", str(questions))
    assert run.code == 0, run.stderr
    result = run.result
    assert result["version"] == version
    assert result["mode"] == "questions"
    assert result["questions"] == len(corpus.facts) > 0
    assert result["hits"] == result["questions"]
    manifest = json.loads((index / "versions" / version / "manifest.json").read_text())
    assert result["checksums"] == 1 + len(manifest["files"])  # the artifact, then every file
    assert result["chunks"] > 0
    assert json.loads((tmp_path / "termination-log").read_text()) == result
    assert list(scratch.iterdir()) == []  # the drill leaves nothing behind


def test_without_golden_questions_sampled_chunks_find_themselves(
    s3_server: S3Server, bucket: str, built: tuple[SampleCorpus, Path, str], tmp_path: Path
) -> None:
    _, index, _ = built
    assert backup(s3_server, index, f"s3://{bucket}/handbook").code == 0
    run = drill(s3_server, f"s3://{bucket}/handbook@latest", tmp_path / "scratch", "--samples", "4")
    assert run.code == 0, run.stderr
    assert run.result["mode"] == "samples"
    assert run.result["questions"] == 4
    assert run.result["hits"] == 4


def test_a_tampered_artifact_fails_the_drill_naming_the_object(
    s3_server: S3Server, bucket: str, built: tuple[SampleCorpus, Path, str], tmp_path: Path
) -> None:
    _, index, version = built
    assert backup(s3_server, index, f"s3://{bucket}/handbook").code == 0
    key = f"handbook/{version}/index.tar.zst"
    client = s3_server.client()
    body = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0xFF  # one flipped byte, same size
    client.put_object(Bucket=bucket, Key=key, Body=bytes(body))
    run = drill(s3_server, f"s3://{bucket}/handbook", tmp_path / "scratch")
    assert run.code == 1
    error = run.error
    assert error["reason"] == "ChecksumMismatch"
    assert f"s3://{bucket}/{key}" in error["error"]  # the object that changed
    assert json.loads((tmp_path / "termination-log").read_text())["reason"] == error["reason"]


def test_a_prefix_without_a_backup_fails_the_drill_with_no_backup(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    run = drill(s3_server, f"s3://{bucket}/never-backed-up", tmp_path / "scratch")
    assert run.code == 1
    assert run.error["reason"] == "NoBackup"
    assert "no backup to verify" in run.error["error"]


def test_golden_questions_the_backup_cannot_answer_fail_the_drill_with_counts(
    s3_server: S3Server, bucket: str, built: tuple[SampleCorpus, Path, str], tmp_path: Path
) -> None:
    corpus, index, version = built
    assert backup(s3_server, index, f"s3://{bucket}/handbook").code == 0
    questions = questions_file(tmp_path / "questions.yaml", corpus, wrong=True)
    run = drill(s3_server, f"s3://{bucket}/handbook", tmp_path / "scratch", "--questions", str(questions))
    assert run.code == 1
    error = run.error
    assert error["reason"] == "QuestionsFailed"
    assert error["verification"]["hits"] == 0
    assert error["verification"]["questions"] == len(corpus.facts)
    assert error["verification"]["version"] == version


def test_the_drill_command_of_the_backup_page_passes(
    s3_server: S3Server, bucket: str, built: tuple[SampleCorpus, Path, str], tmp_path: Path
) -> None:
    """docs/backup.md's one-command drill, as the page shows it, run from a reader's checkout with
    its questions.yaml beside it. Substituted, visibly: the documented bucket for the test's, the
    scratch folder for the test's own, and the S3 endpoint given as OOZO_S3_ENDPOINT."""
    corpus, index, version = built
    assert backup(s3_server, index, f"s3://{bucket}/handbook").code == 0
    questions_file(tmp_path / "questions.yaml", corpus)
    command = documented("docs/backup.md", startswith="oozo verify-backup")
    assert "s3://rag-backups/handbook" in command and "/tmp/drill" in command, command
    command = command.replace("s3://rag-backups/", f"s3://{bucket}/").replace(
        "/tmp/drill", str(tmp_path / "drill")
    )
    env = {
        **reader_checkout(tmp_path),
        **s3_server.env(),
        **OFFLINE,
        "OOZO_S3_ENDPOINT": s3_server.endpoint,
    }
    done = shell(command, tmp_path, env, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["version"] == version and result["mode"] == "questions"
    assert result["hits"] == result["questions"] == len(corpus.facts)
