"""Backup (and restore) on the operator side, pure: the CronJob renderer and the readers of
backup Jobs' termination messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from oozo_contract.backup_settings import BackupSettings
from oozo_contract.results import BackupResult
from oozo_operator import conditions as C
from oozo_operator.api.status import BACKUPS_KEPT
from oozo_operator.config import OperatorSettings
from oozo_operator.gather import new_backup
from oozo_operator.observe import UnreadableResult, read_result
from oozo_operator.observe_backup import backup_of, last_backup_fields
from oozo_operator.outcome import backup_history, backup_status
from oozo_operator.render import backup, pod
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus
from tests.operator_builders import at, make_corpus, on_local_node

S3 = {
    "bucket": "oozo-backups",
    "prefix": "handbook/",
    "endpoint": "http://minio.storage:9000",
    "region": "eu-west-1",
    "credentialsSecret": "s3-creds",
}


def corpus_of(*mods: Any) -> Corpus:
    obj = make_corpus("docs", *mods, namespace="ns")
    obj["metadata"]["uid"] = "uid-1"
    return Corpus.from_body(obj, OperatorSettings())


def with_backup(s3: dict[str, Any] | None = None, keep: int = 3) -> Any:
    return at("spec.backup", {"schedule": "0 2 * * *", "s3": s3 or S3, "retention": {"keepLast": keep}})


def test_backup_cronjob_runs_oozo_backup_with_the_runtime_contract() -> None:
    c = corpus_of(with_backup())
    assert backup.wanted(c) and not backup.wanted(corpus_of())
    cj = backup.render(c)
    assert cj["metadata"]["name"] == "docs-backup"
    assert cj["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    spec = cj["spec"]
    assert spec["schedule"] == "0 2 * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert job["ttlSecondsAfterFinished"] > 0 and job["backoffLimit"] >= 0
    labels = spec["jobTemplate"]["metadata"]["labels"]
    assert (
        labels[L.INSTANCE] == "docs" and labels[L.MANAGED_BY] == L.MANAGER and labels[L.COMPONENT] == "backup"
    )
    tpl = job["template"]
    assert tpl["metadata"]["labels"] == labels
    (ctr,) = tpl["spec"]["containers"]
    assert ctr["command"] == ["oozo"] and ctr["args"] == ["backup"]
    env = {e["name"]: e for e in ctr["env"]}
    plain = {k: e["value"] for k, e in env.items() if "value" in e and k.startswith("OOZO_")}
    settings = BackupSettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in plain.items()})
    assert settings.backup_uri == "s3://oozo-backups/handbook"
    assert settings.s3_endpoint == "http://minio.storage:9000" and settings.s3_region == "eu-west-1"
    assert settings.backup_keep_last == 3
    assert settings.backup_upload_checksum == "crc32"
    assert str(settings.index_dir) == "/var/lib/oozo/index"
    assert str(settings.termination_message_path) == ctr["terminationMessagePath"] == "/dev/termination-log"
    assert ctr["terminationMessagePolicy"] == "FallbackToLogsOnError"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[key]["valueFrom"]["secretKeyRef"] == {"name": "s3-creds", "key": key}
    assert env["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    mount = next(m for m in ctr["volumeMounts"] if m["name"] == "index")
    assert mount["readOnly"] is True
    vol = next(v for v in tpl["spec"]["volumes"] if v["name"] == "index")
    assert vol["persistentVolumeClaim"] == {"claimName": "docs-index", "readOnly": True}
    assert tpl["spec"]["securityContext"] == pod.POD_SECURITY
    assert ctr["securityContext"] == pod.CONTAINER_SECURITY
    assert tpl["spec"]["restartPolicy"] == "Never"


def test_backup_without_credentials_uses_the_pod_identity_and_keeps_scheduling() -> None:
    c = corpus_of(on_local_node, with_backup({"bucket": "b-1x"}))
    tpl = backup.render(c)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    names = {e["name"] for e in tpl["containers"][0]["env"]}
    assert "AWS_ACCESS_KEY_ID" not in names and "OOZO_S3_ENDPOINT" not in names
    env = {e["name"]: e.get("value") for e in tpl["containers"][0]["env"]}
    # No prefix given: the corpus's own <namespace>/<name>, never the bucket's root (issue 13).
    assert env["OOZO_BACKUP_URI"] == "s3://b-1x/ns/docs"
    # RWO index volume: the backup pod joins the node of the corpus's other pods.
    assert tpl["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert tpl["nodeSelector"] and tpl["tolerations"]


def _job(name: str, created: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "creationTimestamp": created}, "status": status}


def _pod(job: str, exit_code: int, message: str) -> dict[str, Any]:
    term = {"exitCode": exit_code, "message": message, "finishedAt": "2026-01-01T00:01:00Z"}
    return {
        "metadata": {"name": f"{job}-p", "labels": {"batch.kubernetes.io/job-name": job}},
        "status": {"containerStatuses": [{"name": "backup", "state": {"terminated": term}}]},
    }


RESULT = {
    "time": "2026-01-01T02:00:05Z",
    "uri": "s3://oozo-backups/handbook/v1/index.tar.zst",
    "sha256": "a" * 64,
    "sizeBytes": 1234,
    "version": "v1",
    "unchanged": False,
    "pruned": [],
    "seconds": 1.2,
}
COMPLETE = [{"type": "Complete", "status": "True"}]
FAILED = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]


def test_backup_result_and_failure_readers() -> None:
    parsed = read_result(json.dumps(RESULT), BackupResult)
    assert parsed is not None
    assert last_backup_fields(parsed) == {
        k: RESULT[k] for k in ("time", "uri", "sha256", "sizeBytes", "version")
    }
    for garbage in ("not json", '{"uri": "x"}'):
        with pytest.raises(UnreadableResult):
            read_result(garbage, BackupResult)
    ok = backup_of(_job("j1", "t", succeeded=1, conditions=COMPLETE), [_pod("j1", 0, json.dumps(RESULT))])
    assert ok and ok.ok and ok.result and ok.result["job"] == "j1" and ok.result["sizeBytes"] == 1234
    err = json.dumps({"error": "no such bucket oozo-backups", "reason": "NoSuchBucket"})
    bad = backup_of(_job("j2", "t", failed=3, conditions=FAILED), [_pod("j2", 1, err)])
    assert bad and not bad.ok and bad.reason == "NoSuchBucket" and "no such bucket" in bad.message
    logs = backup_of(_job("j3", "t", failed=3, conditions=FAILED), [_pod("j3", 1, "Traceback ... boom")])
    assert logs and logs.reason == "BackupFailed" and "boom" in logs.message
    assert backup_of(_job("j4", "t", failed=1), [_pod("j4", 1, err)]) is None  # still retrying
    assert backup_of(_job("j5", "t"), []) is None


class FakeKube:
    def __init__(self, jobs: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
        self.jobs, self.pods, self.pod_reads = jobs, pods, 0

    def list(self, api: str, kind: str, ns: str, labels: dict[str, str]) -> list[dict[str, Any]]:
        if kind == "Job":
            return list(self.jobs)
        self.pod_reads += 1
        name = labels["batch.kubernetes.io/job-name"]
        return [p for p in self.pods if p["metadata"]["labels"]["batch.kubernetes.io/job-name"] == name]


def last_backup(
    kube: Any, c: Corpus, last: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, tuple[str, str, str] | None]:
    """status.lastBackup and BackupSucceeded as a pass reads (gather) and decides (outcome) them;
    `kube` is a FakeKube, which has the one method gather uses here."""
    return backup_status(new_backup(kube, c, last), last)


def test_status_reads_the_newest_finished_backup_job() -> None:
    c = corpus_of(with_backup())
    err = json.dumps({"error": "access denied", "reason": "InvalidCredentials"})
    kube = FakeKube(
        [
            _job("b-old", "2026-01-01T00:00:00Z", succeeded=1, conditions=COMPLETE),
            _job("b-new", "2026-01-02T00:00:00Z", failed=3, conditions=FAILED),
            _job("b-running", "2026-01-03T00:00:00Z"),
        ],
        [_pod("b-old", 0, json.dumps(RESULT)), _pod("b-new", 1, err)],
    )
    last, cond = last_backup(kube, c, None)
    assert last is None  # the newest finished one failed: no success to report yet
    assert cond and cond[:2] == ("False", "InvalidCredentials") and "access denied" in cond[2]
    kube.jobs = kube.jobs[:1]
    last, cond = last_backup(kube, c, None)
    assert last and last["uri"] == RESULT["uri"] and last["job"] == "b-old"
    assert cond and cond[:2] == ("True", "BackupCompleted")
    reads = kube.pod_reads
    assert last_backup(kube, c, last) == (last, None)
    assert kube.pod_reads == reads  # already in status: no pod read
    kube.jobs = []  # the TTL removed the Job: status keeps what it had
    assert last_backup(kube, c, last) == (last, None)


def test_backup_condition_rides_beside_ready_without_touching_it() -> None:
    wanted = {
        C.READY: ("True", "Serving", "serving"),
        C.RECONCILING: ("False", "Reconciled", "ok"),
        C.STALLED: ("False", "AsExpected", "ok"),
        C.INDEX_READY: ("True", "IndexPublished", "ok"),
    }
    conds = C.merge(None, wanted, 1, "t0", {C.BACKUP_SUCCEEDED: ("False", "NoSuchBucket", "gone")})
    by = {c["type"]: c for c in conds}
    assert by[C.READY]["status"] == "True" and by[C.BACKUP_SUCCEEDED]["status"] == "False"
    again = C.merge(conds, wanted, 2, "t1")  # nothing new: the previous backup condition stays
    assert {c["type"]: c for c in again}[C.BACKUP_SUCCEEDED] == by[C.BACKUP_SUCCEEDED]
    flipped = C.merge(again, wanted, 2, "t2", {C.BACKUP_SUCCEEDED: ("True", "BackupCompleted", "ok")})
    assert {c["type"]: c for c in flipped}[C.BACKUP_SUCCEEDED]["lastTransitionTime"] == "t2"
    assert [c["type"] for c in flipped].count(C.BACKUP_SUCCEEDED) == 1


def test_backup_job_with_an_unreadable_result_fails_with_a_reason_naming_the_job() -> None:
    broken = json.dumps({**RESULT, "sizeBytes": "big"})
    run = backup_of(_job("j5", "t", succeeded=1, conditions=COMPLETE), [_pod("j5", 0, broken)])
    assert run and not run.ok and run.reason == "ResultUnreadable"
    assert "j5" in run.message and "sizeBytes" in run.message


def test_backup_prefix_defaults_to_namespace_and_name_and_the_owner_is_the_corpus_uid() -> None:
    env = {e["name"]: e.get("value") for e in _backup_env(corpus_of(with_backup({"bucket": "b-1x"})))}
    assert env["OOZO_BACKUP_URI"] == "s3://b-1x/ns/docs"
    assert env["OOZO_BACKUP_OWNER"] == "uid-1" and env["OOZO_BACKUP_OWNER_CORPUS"] == "ns/docs"
    given = {
        e["name"]: e.get("value")
        for e in _backup_env(corpus_of(with_backup({"bucket": "b-1x", "prefix": "/t/h/"})))
    }
    assert given["OOZO_BACKUP_URI"] == "s3://b-1x/t/h"


def _backup_env(c: Corpus) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = backup.render(c)["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "containers"
    ][0]["env"]
    return env


@pytest.mark.parametrize("prefix", ["", "/", "//", "a//b", "a/../b", "./a"])
def test_an_explicitly_empty_or_dotted_backup_prefix_is_refused(prefix: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must name a folder"):
        corpus_of(with_backup({"bucket": "b-1x", "prefix": prefix}))


def _backup(job: str) -> dict[str, Any]:
    return {"time": f"t-{job}", "uri": f"s3://b/p/{job}", "sha256": "a" * 64, "version": "v", "job": job}


@pytest.mark.parametrize(
    ("last", "before", "history"),
    [
        (None, None, None),  # no backup yet: no list
        (_backup("j1"), None, ["j1"]),  # a status from before the list: it starts from lastBackup
        (_backup("j2"), [_backup("j1")], ["j2", "j1"]),  # newest first
        (_backup("j2"), [_backup("j2"), _backup("j1")], ["j2", "j1"]),  # the same backup again: once
        (_backup("j9"), [_backup(f"j{i}") for i in range(8, 3, -1)], ["j9", "j8", "j7", "j6", "j5"]),
    ],
)
def test_status_backups_keeps_the_last_few_newest_first(
    last: dict[str, Any] | None, before: list[dict[str, Any]] | None, history: list[str] | None
) -> None:
    got = backup_history(last, before)
    assert (None if got is None else [b["job"] for b in got]) == history
    assert got is None or len(got) <= BACKUPS_KEPT
