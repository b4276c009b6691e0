"""Restore on a real control plane: spec.restore on a corpus with no index yet → a restore Job
instead of the index Job; its result drives Ready and the rollout; a failure stalls."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from devcluster.kubelet.player import KubeletPlayer
from devcluster.ragcorpus import GROUP, PLURAL, VERSION, condition
from devcluster.waiting import wait_for
from tests.controlplane import test_operator_lifecycle as lifecycle
from tests.controlplane.test_operator_backup import S3
from tests.k8s_fields import name_of
from tests.operator_builders import at, make_corpus, on_local_node
from tests.operator_support import Operator, corpus

apply_corpus = lifecycle.apply_corpus


def with_restore_credentials(core: client.CoreV1Api, ns: str) -> None:
    """The Secret spec.restore.s3.credentialsSecret names: without it the restore pod could not
    start, and the corpus stalls naming the field before any Job (test_operator_missing_references)."""
    secret = client.V1Secret(
        metadata=client.V1ObjectMeta(name=S3["credentialsSecret"]),
        string_data={"AWS_ACCESS_KEY_ID": "test-id", "AWS_SECRET_ACCESS_KEY": "test-secret"},
    )
    core.create_namespaced_secret(ns, secret)


def restore_pod(kubelet: KubeletPlayer, ns: str, name: str) -> str:
    sel = f"app.kubernetes.io/instance={name},app.kubernetes.io/component=restore"
    return wait_for(
        f"a restore pod of {name}",
        lambda: [
            name_of(p)
            for p in kubelet.pods(ns, sel)
            if p.spec.node_name and not p.status.container_statuses and not p.metadata.deletion_timestamp
        ],
        30,
    )[0]


def test_restore_replaces_the_first_build_and_drives_the_rollout(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    spec_restore = {"s3": S3, "version": "20251231-rrrr"}
    with_restore_credentials(core, ns)
    apply_corpus(core, custom, ns, make_corpus("rs", on_local_node, at("spec.restore", spec_restore)))
    batch = client.BatchV1Api(api)
    jobs = wait_for("the restore Job", lambda: batch.list_namespaced_job(ns).items, 20)
    assert [j.metadata.name.startswith("rs-restore-") for j in jobs] == [True]
    c = jobs[0].spec.template.spec.containers[0]
    assert c.args == ["restore"]
    env = {e.name: e for e in c.env}
    assert env["OOZO_RESTORE_URI"].value == "s3://oozo-backups/handbook@20251231-rrrr"
    assert env["AWS_ACCESS_KEY_ID"].value_from.secret_key_ref.name == "s3-creds"

    restored = {
        "time": "2026-01-02T00:00:00Z",
        "uri": "s3://oozo-backups/handbook/20251231-rrrr/index.tar.zst",
        "sha256": "b" * 64,
        "sizeBytes": 999,
        "version": "20251231-rrrr",
        "downloaded": True,
        "seconds": 0.3,
        "documents": 12,  # read back from the restored manifest by `oozo restore`
        "chunks": 340,
        "embeddingModel": "sentence-transformers/all-MiniLM-L6-v2",
        "dimensions": 384,
    }
    kubelet.terminate(ns, restore_pod(kubelet, ns, "rs"), 0, json.dumps(restored))
    wait_for("the rollout", lambda: lifecycle.serve_version(api, ns, "rs") == "20251231-rrrr" or None, 30)
    obj = lifecycle.until_ready(kubelet, custom, ns, "rs", "20251231-rrrr")
    assert obj["status"]["index"]["restoredFrom"] == restored["uri"]
    assert (obj["status"]["index"]["documents"], obj["status"]["index"]["chunks"]) == (12, 340)
    assert condition(obj, "IndexReady")["status"] == "True"
    assert len(batch.list_namespaced_job(ns).items) == 1  # no index Job was needed

    # Later changes build normally: an index Job, no second restore.
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "rs", {"spec": {"chunking": {"size": 700}}}
    )
    jobs = wait_for(
        "an index Job",
        lambda: [j for j in batch.list_namespaced_job(ns).items if "-index-" in name_of(j)],
        20,
    )
    assert len(batch.list_namespaced_job(ns).items) == 2 and jobs
    lifecycle.bring_up(api, custom, kubelet, ns, "rs", "20260103-nnnn")


def test_a_failed_restore_stalls_once_retries_are_spent(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    with_restore_credentials(core, ns)
    apply_corpus(core, custom, ns, make_corpus("rf", on_local_node, at("spec.restore", {"s3": S3})))
    failure = json.dumps({"error": "s3://oozo-backups/handbook holds no backup", "reason": "BackupNotFound"})
    kubelet.terminate(ns, restore_pod(kubelet, ns, "rf"), 1, failure)
    kubelet.terminate(ns, restore_pod(kubelet, ns, "rf"), 1, failure)  # backoffLimit 1: the last attempt

    def stalled() -> dict[str, Any] | None:
        obj = corpus(custom, ns, "rf")
        return obj if condition(obj, "Stalled").get("status") == "True" else None

    obj = wait_for("Stalled", stalled, 60)
    assert condition(obj, "IndexReady")["status"] == "False"
    assert "holds no backup" in condition(obj, "IndexReady")["message"]
    assert condition(obj, "Ready")["status"] == "False"
    assert not [j for j in client.BatchV1Api(api).list_namespaced_job(ns).items if "-index-" in name_of(j)]
