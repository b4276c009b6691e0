"""Backup on a real control plane: spec.backup → CronJob NAME-backup; a backup Job created
from it (as `kubectl create job --from=cronjob/NAME-backup` does) reports through its pod's
termination message into status.lastBackup and BackupSucceeded. The test plays the kubelet."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from kubernetes import client

from devcluster.kubelet.player import KubeletPlayer
from devcluster.ragcorpus import GROUP, PLURAL, VERSION, condition
from devcluster.waiting import wait_for
from tests.controlplane import test_operator_lifecycle as lifecycle
from tests.k8s_fields import name_of, owners_of
from tests.operator_builders import at, make_corpus, on_local_node
from tests.operator_support import Operator, corpus

S3 = {
    "bucket": "oozo-backups",
    "prefix": "handbook/",
    "endpoint": "http://minio.storage:9000",
    "credentialsSecret": "s3-creds",
}
apply_corpus, bring_up, ready = lifecycle.apply_corpus, lifecycle.bring_up, lifecycle.ready
BACKUP = {"schedule": "0 2 * * *", "s3": S3, "retention": {"keepLast": 3}}


def job_from_cronjob(batch: client.BatchV1Api, ns: str, cronjob: str, name: str, **spec: Any) -> None:
    """What `kubectl create job NAME --from=cronjob/CRONJOB` does: the jobTemplate, owned by
    the CronJob. `spec` overrides fields of the Job spec (e.g. backoffLimit=0 to fail fast)."""
    cj = batch.read_namespaced_cron_job(cronjob, ns)
    tpl = batch.api_client.sanitize_for_serialization(cj.spec.job_template)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": copy.deepcopy(tpl["metadata"]["labels"]),
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "CronJob", "name": cronjob, "uid": cj.metadata.uid}
            ],
        },
        "spec": {**tpl["spec"], **spec},
    }
    batch.create_namespaced_job(ns, client.V1Job.model_validate(job))


def finish_backup(kubelet: KubeletPlayer, ns: str, job: str, exit_code: int, message: str) -> None:
    sel = f"batch.kubernetes.io/job-name={job}"
    pod = wait_for(
        f"a pod of {job}",
        lambda: [name_of(p) for p in kubelet.pods(ns, sel) if p.spec.node_name],
        30,
    )[0]
    kubelet.terminate(ns, pod, exit_code, message)


def test_backup_cronjob_follows_the_spec(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    ns: str,
) -> None:
    apply_corpus(core, custom, ns, make_corpus("bk", on_local_node, at("spec.backup", BACKUP)))
    batch = client.BatchV1Api(api)
    cj = wait_for("the backup CronJob", lambda: batch.list_namespaced_cron_job(ns).items, 20)[0]
    assert cj.metadata.name == "bk-backup" and cj.spec.concurrency_policy == "Forbid"
    assert owners_of(cj)[0].kind == "RagCorpus"
    pod = cj.spec.job_template.spec.template.spec
    c = pod.containers[0]
    assert c.command == ["oozo"] and c.args == ["backup"]
    env = {e.name: e for e in c.env}
    assert env["OOZO_BACKUP_URI"].value == "s3://oozo-backups/handbook"
    assert env["OOZO_S3_ENDPOINT"].value == "http://minio.storage:9000"
    assert env["OOZO_BACKUP_KEEP_LAST"].value == "3"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        ref = env[key].value_from.secret_key_ref
        assert (ref.name, ref.key) == ("s3-creds", key)
    assert [m.read_only for m in c.volume_mounts if m.name == "index"] == [True]
    assert c.termination_message_policy == "FallbackToLogsOnError"

    custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "bk", {"spec": {"backup": None}})
    wait_for("the CronJob gone", lambda: not batch.list_namespaced_cron_job(ns).items or None, 20)


def test_backup_results_reach_status_and_failures_do_not_unready(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    apply_corpus(core, custom, ns, make_corpus("bk", on_local_node, at("spec.backup", BACKUP)))
    bring_up(api, custom, kubelet, ns, "bk", "20260101-aaaa")
    batch = client.BatchV1Api(api)
    wait_for("the backup CronJob", lambda: batch.list_namespaced_cron_job(ns).items, 20)

    job_from_cronjob(batch, ns, "bk-backup", "bk-backup-manual-1")
    done = {
        "time": "2026-01-01T02:00:05Z",
        "uri": "s3://oozo-backups/handbook/20260101-aaaa/index.tar.zst",
        "sha256": "a" * 64,
        "sizeBytes": 4321,
        "version": "20260101-aaaa",
        "unchanged": False,
        "pruned": [],
        "seconds": 0.5,
    }
    finish_backup(kubelet, ns, "bk-backup-manual-1", 0, json.dumps(done))

    def backed_up() -> dict[str, Any] | None:
        obj = corpus(custom, ns, "bk")
        return obj if condition(obj, "BackupSucceeded").get("status") == "True" else None

    obj = wait_for("BackupSucceeded=True", backed_up, 30)
    last = obj["status"]["lastBackup"]
    assert (last["uri"], last["sha256"], last["sizeBytes"], last["time"]) == (
        done["uri"],
        done["sha256"],
        4321,
        done["time"],
    )
    assert condition(obj, "Ready")["status"] == "True"

    time.sleep(1.1)  # creationTimestamp has a one-second resolution: the next Job is newer
    job_from_cronjob(batch, ns, "bk-backup", "bk-backup-manual-2", backoffLimit=0)
    failure = {"error": "bucket oozo-backups does not exist", "reason": "NoSuchBucket"}
    finish_backup(kubelet, ns, "bk-backup-manual-2", 1, json.dumps(failure))

    def failed() -> dict[str, Any] | None:
        obj = corpus(custom, ns, "bk")
        return obj if condition(obj, "BackupSucceeded").get("status") == "False" else None

    obj = wait_for("BackupSucceeded=False", failed, 30)
    cond = condition(obj, "BackupSucceeded")
    assert cond["reason"] == "NoSuchBucket" and "does not exist" in cond["message"]
    # Serving is fine: Ready stays True, Stalled False, and the last good backup stays.
    assert condition(obj, "Ready")["status"] == "True" and condition(obj, "Stalled")["status"] == "False"
    assert obj["status"]["lastBackup"]["uri"] == done["uri"]
    assert ready(custom, ns, "bk")
    events = wait_for(
        "a Warning event",
        lambda: [
            e
            for e in core.list_namespaced_event(ns).items
            if e.reason == "NoSuchBucket" and e.type == "Warning" and e.involved_object.name == "bk"
        ],
        10,
    )
    assert events[0].message is not None
    assert "BackupSucceeded=False" in events[0].message


def test_a_backup_pod_that_cannot_start_is_reported_without_unreadying(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    apply_corpus(core, custom, ns, make_corpus("bs", on_local_node, at("spec.backup", BACKUP)))
    bring_up(api, custom, kubelet, ns, "bs", "20260101-aaaa")
    batch = client.BatchV1Api(api)
    wait_for("the backup CronJob", lambda: batch.list_namespaced_cron_job(ns).items, 20)
    job_from_cronjob(batch, ns, "bs-backup", "bs-backup-manual-1")
    sel = "batch.kubernetes.io/job-name=bs-backup-manual-1"
    pod = wait_for("a backup pod", lambda: [p for p in kubelet.pods(ns, sel) if p.spec.node_name], 30)[0]
    kubelet.cannot_start(ns, name_of(pod), "CreateContainerConfigError", 'secret "s3-creds" not found')

    def reported() -> dict[str, Any] | None:
        obj = corpus(custom, ns, "bs")
        return obj if condition(obj, "BackupSucceeded").get("reason") == "BackupPodCannotStart" else None

    obj = wait_for("BackupSucceeded=False/BackupPodCannotStart", reported, 30)
    assert 's3-creds" not found' in condition(obj, "BackupSucceeded")["message"]
    assert condition(obj, "Ready")["status"] == "True" and condition(obj, "Stalled")["status"] == "False"
