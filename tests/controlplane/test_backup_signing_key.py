"""spec.backup.signingKeySecretRef on a real control plane: the key reaches the backup CronJob
as a secretKeyRef the API server accepts, never as a value; a missing signing Secret stalls the
corpus with a reason that names the field, and the Secret's value appears nowhere in the
corpus's status or Events."""

from __future__ import annotations

import json

from kubernetes import client

from devcluster.ragcorpus import condition
from devcluster.waiting import wait_for
from tests.controlplane import test_operator_lifecycle as lifecycle
from tests.operator_builders import at, make_corpus, on_local_node
from tests.operator_support import Operator, corpus, until_condition

S3 = {"bucket": "oozo-backups", "prefix": "handbook/", "credentialsSecret": "s3-creds"}
KEY_VALUE = "cp-signing-key-3b9e51c07d2a4f68"
SIGNED_BACKUP = {
    "schedule": "0 2 * * *",
    "s3": S3,
    "signingKeySecretRef": {"name": "backup-signing", "key": "hmac-key"},
}


def test_the_signing_key_reaches_the_backup_cronjob_only_by_reference(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    ns: str,
) -> None:
    lifecycle.apply_corpus(
        core, custom, ns, make_corpus("sk", on_local_node, at("spec.backup", SIGNED_BACKUP))
    )
    stalled = until_condition(custom, ns, "sk", "Stalled", 20, status="True")
    assert condition(stalled, "Stalled")["reason"] == "SecretNotFound"
    assert "spec.backup.signingKeySecretRef" in condition(stalled, "Stalled")["message"]

    core.create_namespaced_secret(
        ns,
        client.V1Secret.model_validate(
            {"metadata": {"name": "backup-signing"}, "stringData": {"hmac-key": KEY_VALUE}}
        ),
    )
    until_condition(custom, ns, "sk", "Stalled", 30, status="False")
    batch = client.BatchV1Api(api)
    cj = wait_for("the backup CronJob", lambda: batch.list_namespaced_cron_job(ns).items, 20)[0]
    cronjob = api.sanitize_for_serialization(cj)
    (ctr,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in ctr["env"]}
    assert env["OOZO_BACKUP_SIGNING_KEY"] == {
        "name": "OOZO_BACKUP_SIGNING_KEY",
        "valueFrom": {"secretKeyRef": {"name": "backup-signing", "key": "hmac-key"}},
    }

    seen = json.dumps(corpus(custom, ns, "sk")) + json.dumps(
        api.sanitize_for_serialization(core.list_namespaced_event(ns).items)
    )
    assert KEY_VALUE not in seen
    assert KEY_VALUE not in json.dumps(cronjob)
