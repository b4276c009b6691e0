"""A parallel build staged in S3 (spec.index.build.staging.s3) on the real API server: its shard
pods mount no volume and carry the staging label that keeps them out of the corpus's co-location
term (render/staging.py), and the operator still watches them: a shard pod that cannot start is
reported as for any other pod of the corpus, instead of at the Job's deadline."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from devcluster.kubelet.player import KubeletPlayer
from devcluster.ragcorpus import condition
from devcluster.waiting import wait_for
from tests.controlplane import test_operator_lifecycle as lifecycle
from tests.k8s_fields import name_of
from tests.operator_builders import at, make_corpus, on_local_node
from tests.operator_support import Operator, corpus

STAGING = {
    "s3": {
        "bucket": "oozo-staging",
        "prefix": "builds/",
        "endpoint": "http://minio.storage:9000",
        "credentialsSecret": "staging-creds",
    }
}


def test_a_shard_pod_that_cannot_start_is_reported_as_pod_cannot_start(
    operator: Operator,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    # The Secret exists, so the spec's references are complete; a pod still fails on a key.
    core.create_namespaced_secret(
        ns, client.V1Secret(metadata=client.V1ObjectMeta(name="staging-creds"), string_data={"other": "x"})
    )
    build = {"parallelism": 2, "staging": STAGING}
    lifecycle.apply_corpus(core, custom, ns, make_corpus("st", on_local_node, at("spec.index.build", build)))
    sel = "app.kubernetes.io/instance=st,app.kubernetes.io/component=index"
    pods = wait_for(
        "shard pods", lambda: [p for p in kubelet.pods(ns, sel) if p.spec and p.spec.node_name], 30
    )
    pod = pods[0]
    assert pod.metadata and pod.spec
    assert (pod.metadata.labels or {}).get("rag.oozo.dev/staging") == "s3", pod.metadata.labels
    kubelet.cannot_start(
        ns, name_of(pod), "CreateContainerConfigError", "couldn't find key AWS_ACCESS_KEY_ID"
    )

    def reported() -> dict[str, Any] | None:
        obj = corpus(custom, ns, "st")
        return obj if condition(obj, "Stalled").get("reason") == "PodCannotStart" else None

    obj = wait_for("Stalled=True/PodCannotStart", reported, 30)
    message = condition(obj, "Stalled")["message"]
    assert name_of(pod) in message and "couldn't find key" in message, message
