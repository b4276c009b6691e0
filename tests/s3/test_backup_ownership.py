"""Backups touch only what is Oozo's own, against a real MinIO: retention deletes nothing Oozo
did not write, a backup needs a prefix, and one prefix has one owner (PREFIX/oozo-owner.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devcluster.s3server import S3Server
from oozo_runtime.backup import retention
from oozo_runtime.backup.backup import run_backup
from oozo_runtime.backup.ownership import Owner
from oozo_runtime.backup.uri import parse_s3_uri
from tests.s3.conftest import add_version, sample_files, tree
from tests.s3.helpers import Run, backup, restore

# Objects a shared bucket holds beside Oozo's backups, under and around its prefix.
FOREIGN = {
    "finance/2025-q3.xlsx": b"PK\x03\x04 quarterly numbers",
    "terraform/state/prod.tfstate": b'{"version": 4, "resources": []}',
    "backups/finance/2025-q3.xlsx": b"PK\x03\x04 a copy under the prefix",
    "backups/terraform/state/prod.tfstate": b'{"version": 4}',
    # folders that look like versions but are not Oozo's: foreign names, and a foreign object
    # with an Oozo name (no owner metadata), neither with a .sha256 marker
    "backups/20250101t000000z-deadbeef/quarterly-report.pdf": b"%PDF-1.7 not an index",
    "backups/v0/notes.txt": b"someone's notes",
    "backups/old-export/index.tar.zst": b"someone else's tarball",
    "backups/old-export/manifest.json": b'{"someone": "else"}',
}


def objects(server: S3Server, bucket: str) -> dict[str, bytes]:
    client = server.client()
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])]  # fmt: skip
    return {k: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def put_all(server: S3Server, bucket: str, data: dict[str, bytes]) -> None:
    for key, body in data.items():
        server.client().put_object(Bucket=bucket, Key=key, Body=body)


def test_retention_deletes_nothing_oozo_did_not_write_whatever_its_age(
    s3_server: S3Server, s3_env: dict[str, str], bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MinIO stamps objects with its own clock; a negative age makes every object count as an old
    # leftover, the worst case for foreign objects.
    monkeypatch.setattr(retention, "LEFTOVER_AGE_SECONDS", -3600)
    put_all(s3_server, bucket, FOREIGN)
    # Another corpus's backups under a nested prefix: backups/b/<V>/... with its own owner.
    other = tmp_path / "other"
    for i in range(3):
        add_version(other, f"20260101t00000{i}z-bbbbbbbb", sample_files(f"b{i}", vectors=32))
        made = backup(s3_server, other, f"s3://{bucket}/backups/b", "--owner", "corpus-b")
        assert made.code == 0, made.stderr
    before = objects(s3_server, bucket)

    loc = parse_s3_uri(f"s3://{bucket}/backups", allow_version=False)
    ours = tmp_path / "ours"
    pruned: list[str] = []
    for i in range(4):
        add_version(ours, f"20260201t00000{i}z-aaaaaaaa", sample_files(f"a{i}", vectors=32))
        result = run_backup(ours, loc, endpoint=s3_server.endpoint, keep_last=1, owner=Owner("corpus-a"))
        pruned += result.pruned
    assert pruned == [f"20260201t00000{i}z-aaaaaaaa" for i in range(3)]

    after = objects(s3_server, bucket)
    assert {k: v for k, v in after.items() if k in before} == before  # every foreign byte survives
    new = sorted(set(after) - set(before))
    kept = "backups/20260201t000003z-aaaaaaaa/"
    assert new == [
        "backups/20260201t000003z-aaaaaaaa/backup.json",
        "backups/20260201t000003z-aaaaaaaa/index.tar.zst",
        "backups/20260201t000003z-aaaaaaaa/index.tar.zst.sha256",
        "backups/20260201t000003z-aaaaaaaa/manifest.json",
        "backups/latest",
        "backups/oozo-owner.json",
    ]
    assert after["backups/latest"] == kept.split("/")[1].encode() + b"\n"


def test_retention_removes_its_own_leftover_of_a_crashed_backup(
    s3_server: S3Server, s3_env: dict[str, str], bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "LEFTOVER_AGE_SECONDS", -3600)
    loc = parse_s3_uri(f"s3://{bucket}/p", allow_version=False)
    src = tmp_path / "src"
    add_version(src, "20260101t000000z-11111111", sample_files("one", vectors=32))
    run_backup(src, loc, endpoint=s3_server.endpoint, keep_last=0, owner=Owner("me"))
    # A crash before the marker: the artifact, manifest and record are there, the marker is not.
    s3_server.client().delete_object(Bucket=bucket, Key="p/20260101t000000z-11111111/index.tar.zst.sha256")
    add_version(src, "20260101t000001z-22222222", sample_files("two", vectors=32))
    result = run_backup(src, loc, endpoint=s3_server.endpoint, keep_last=3, owner=Owner("me"))
    assert result.pruned == ["20260101t000000z-11111111"]
    assert not [k for k in objects(s3_server, bucket) if "11111111" in k]


def test_a_backup_needs_a_prefix(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    add_version(src, "v1", sample_files())
    for uri in (f"s3://{bucket}", f"s3://{bucket}/", f"s3://{bucket}//"):
        made = backup(s3_server, src, uri)
        assert made.code == 1
        assert made.error["reason"] == "InvalidURI"
        assert "needs a prefix" in made.error["error"]
    assert objects(s3_server, bucket) == {}  # nothing written


def test_a_second_owner_of_a_prefix_is_refused_and_writes_nothing(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    first = tmp_path / "first"
    add_version(first, "v1", sample_files("first"))
    env = {
        **s3_server.env(),
        "OOZO_BACKUP_OWNER": "0b7a8d6e-uid-of-a",
        "OOZO_BACKUP_OWNER_CORPUS": "team-a/handbook",
    }
    made = backup(s3_server, first, f"s3://{bucket}/shared", env=env)
    assert made.code == 0, made.stderr
    marker = json.loads(objects(s3_server, bucket)["shared/oozo-owner.json"])
    assert marker["owner"] == "0b7a8d6e-uid-of-a" and marker["corpus"] == "team-a/handbook"
    before = objects(s3_server, bucket)

    second = tmp_path / "second"
    add_version(second, "v2", sample_files("second"))
    env_b = {**env, "OOZO_BACKUP_OWNER": "5c1d-uid-of-b", "OOZO_BACKUP_OWNER_CORPUS": "team-b/handbook"}
    refused = backup(s3_server, second, f"s3://{bucket}/shared", env=env_b)
    assert refused.code == 1
    assert refused.error["reason"] == "PrefixOwnedByAnother"
    assert "team-a/handbook" in refused.error["error"] and "team-b/handbook" in refused.error["error"]
    assert objects(s3_server, bucket) == before  # not one object written, latest still v1

    # A plain CLI backup (owner "cli") is another owner too.
    assert backup(s3_server, second, f"s3://{bucket}/shared").error["reason"] == "PrefixOwnedByAnother"
    # The owner itself goes on backing up.
    assert backup(s3_server, second, f"s3://{bucket}/shared", env=env).code == 0


def test_a_restore_names_its_owner_and_refuses_another_corpus_unless_asked(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    add_version(src, "v1", sample_files("a"))
    owner_env = {**s3_server.env(), "OOZO_BACKUP_OWNER": "uid-a", "OOZO_BACKUP_OWNER_CORPUS": "ns/a"}
    assert backup(s3_server, src, f"s3://{bucket}/a", env=owner_env).code == 0
    uri = f"s3://{bucket}/a"

    def restore_as(index: Path, **env: str) -> Run:
        return restore(s3_server, index, uri, env={**s3_server.env(), **env})

    other = tmp_path / "b"
    add_version(other, "b1", sample_files("b"))
    before = tree(other)
    refused = restore_as(other, OOZO_RESTORE_OWNER="uid-b", OOZO_RESTORE_OWNER_CORPUS="ns/b")
    assert refused.code == 1
    assert refused.error["reason"] == "PrefixOwnedByAnother"
    assert "ns/a" in refused.error["error"] and "fromCorpus" in refused.error["error"]
    assert tree(other) == before  # the index is exactly as it was

    asked = restore_as(
        other, OOZO_RESTORE_OWNER="uid-b", OOZO_RESTORE_OWNER_CORPUS="ns/b", OOZO_RESTORE_FROM_OWNER="ns/a"
    )
    assert asked.code == 0, asked.stderr
    assert asked.result["owner"] == "uid-a" and asked.result["ownerCorpus"] == "ns/a"

    wrong = restore_as(tmp_path / "c", OOZO_RESTORE_FROM_OWNER="ns/someone-else")
    assert wrong.error["reason"] == "PrefixOwnedByAnother"

    # The same corpus recreated after a disaster (same namespace/name, new uid) gets its backups.
    recreated = restore_as(tmp_path / "d", OOZO_RESTORE_OWNER="uid-new", OOZO_RESTORE_OWNER_CORPUS="ns/a")
    assert recreated.code == 0, recreated.stderr
    # A plain CLI restore restores whatever is there and says whose it is.
    plain = restore_as(tmp_path / "e")
    assert plain.code == 0 and plain.result["owner"] == "uid-a"
