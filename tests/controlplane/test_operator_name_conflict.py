"""The operator never adopts or deletes a same-named object it does not own (issue 13, item 2),
on a real control plane: another team's object that holds the name of a corpus's child stalls
the corpus with NameConflict, and survives untouched a create, a spec change, the drop of the
optional child and the deletion of the corpus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client

from devcluster.kubelet.player import KubeletPlayer, index_result_message
from devcluster.ragcorpus import GROUP, PLURAL, VERSION, condition, docs_configmap
from devcluster.waiting import wait_for
from tests.controlplane.test_operator_lifecycle import apply_corpus
from tests.operator_builders import (
    Modifier,
    at,
    make_corpus,
    on_local_node,
    with_auth,
    with_autoscaling,
    with_refresh,
)
from tests.operator_support import Operator, corpus

NAME = "clash"
BACKUP = {
    "schedule": "0 2 * * *",
    "s3": {
        "bucket": "oozo-backups",
        "prefix": "clash/",
        "endpoint": "http://minio.storage:9000",
        "credentialsSecret": "s3-creds",
    },
}
THEIRS = {"team": "someone-else"}


@dataclass(frozen=True)
class Foreign:
    kind: str
    name: str
    api: Callable[[client.ApiClient], Any]
    snake: str  # e.g. horizontal_pod_autoscaler, for create_/read_namespaced_…
    body: dict[str, Any]  # everything but metadata
    wanted: tuple[Modifier, ...] = ()  # what makes the corpus want that child
    drop: dict[str, Any] | None = None  # the merge patch that makes it unwanted again


CRONJOB_BODY = {
    "spec": {
        "schedule": "0 3 * * *",
        "jobTemplate": {
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "theirs", "image": "busybox"}]}
                }
            }
        },
    }
}

CASES = [
    Foreign(
        "PersistentVolumeClaim",
        f"{NAME}-index",
        client.CoreV1Api,
        "persistent_volume_claim",
        {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    ),
    Foreign(
        "Service",
        NAME,
        client.CoreV1Api,
        "service",
        {"spec": {"selector": {"app": "theirs"}, "ports": [{"port": 8080}]}},
    ),
    Foreign("ConfigMap", f"{NAME}-config", client.CoreV1Api, "config_map", {"data": {"theirs": "1"}}),
    Foreign(
        "Secret",
        f"{NAME}-api-key",
        client.CoreV1Api,
        "secret",
        {"stringData": {"password": "theirs"}},
        wanted=(with_auth(),),
    ),
    Foreign(
        "HorizontalPodAutoscaler",
        NAME,
        client.AutoscalingV2Api,
        "horizontal_pod_autoscaler",
        {
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "theirs"},
                "minReplicas": 1,
                "maxReplicas": 2,
            }
        },
        wanted=(with_autoscaling(1, 3),),
        drop={"spec": {"runtime": {"autoscaling": None}}},
    ),
    Foreign(
        "PodDisruptionBudget",
        NAME,
        client.PolicyV1Api,
        "pod_disruption_budget",
        {"spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "theirs"}}}},
        wanted=(with_autoscaling(2, 3),),
        drop={"spec": {"runtime": {"autoscaling": None}}},
    ),
    Foreign(
        "CronJob",
        f"{NAME}-refresh",
        client.BatchV1Api,
        "cron_job",
        CRONJOB_BODY,
        wanted=(with_refresh("0 * * * *"),),
        drop={"spec": {"refresh": None}},
    ),
    Foreign(
        "CronJob",
        f"{NAME}-backup",
        client.BatchV1Api,
        "cron_job",
        CRONJOB_BODY,
        wanted=(at("spec.backup", BACKUP),),
        drop={"spec": {"backup": None}},
    ),
    Foreign(  # wanted by default (spec.runtime.networkPolicy.enabled)
        "NetworkPolicy",
        NAME,
        client.NetworkingV1Api,
        "network_policy",
        {"spec": {"podSelector": {"matchLabels": {"app": "theirs"}}, "policyTypes": ["Ingress"]}},
        drop={"spec": {"runtime": {"networkPolicy": {"enabled": False}}}},
    ),
]


def untouched_view(api: client.ApiClient, obj: Any) -> dict[str, Any]:
    """Everything a write of Oozo's would change. Status is left out: Kubernetes' own
    controllers write it (the HPA controller, the PV binder)."""
    data = api.sanitize_for_serialization(obj)
    meta = data["metadata"]
    return {
        "uid": meta["uid"],
        "generation": meta.get("generation"),
        "labels": meta.get("labels"),
        "annotations": meta.get("annotations"),
        "ownerReferences": meta.get("ownerReferences"),
        "finalizers": meta.get("finalizers"),
        # Kubernetes' controllers add their own status managers; Oozo's must never appear.
        "oozo_manages_fields": any(m["manager"] == "oozo" for m in meta.get("managedFields") or []),
        "content": {k: v for k, v in data.items() if k not in ("metadata", "status")},
    }


def until_conflict(custom: client.CustomObjectsApi, ns: str, generation: int, message: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        obj = corpus(custom, ns, NAME)
        stalled = condition(obj, "Stalled")
        done = (obj.get("status") or {}).get("observedGeneration") == generation
        if done and stalled.get("reason") == "NameConflict" and message in stalled.get("message", ""):
            return obj
        return None

    return wait_for(f"NameConflict at generation {generation}", probe, 30)


@pytest.mark.parametrize("foreign", CASES, ids=[f"{c.kind}-{c.name}" for c in CASES])
def test_a_foreign_object_with_a_childs_name_is_never_adopted_changed_or_deleted(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    ns: str,
    foreign: Foreign,
) -> None:
    typed = foreign.api(api)
    getattr(typed, f"create_namespaced_{foreign.snake}")(
        ns, {"metadata": {"name": foreign.name, "labels": THEIRS}, **foreign.body}
    )

    def theirs() -> dict[str, Any]:
        return untouched_view(api, getattr(typed, f"read_namespaced_{foreign.snake}")(foreign.name, ns))

    before = theirs()
    assert not before["oozo_manages_fields"]
    docs_configmap(core, ns, f"{NAME}-docs")
    custom.create_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, make_corpus(NAME, on_local_node, *foreign.wanted)
    )
    message = f"{foreign.kind} {foreign.name} exists and is not owned by this RagCorpus"
    obj = until_conflict(custom, ns, 1, message)
    assert condition(obj, "Stalled")["status"] == "True" and condition(obj, "Ready")["status"] == "False"
    assert theirs() == before

    # A spec change: every child is applied again, still not that one.
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, NAME, {"spec": {"chunking": {"size": 800}}}
    )
    until_conflict(custom, ns, 2, message)
    assert theirs() == before

    if foreign.drop is not None:
        # The spec stops wanting the child: the delete that follows must not reach theirs, and
        # a name the corpus no longer needs is no conflict.
        custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, NAME, foreign.drop)
        wait_for(
            "the drop handled",
            lambda: (
                (
                    (o := corpus(custom, ns, NAME)).get("status", {}).get("observedGeneration") == 3
                    and condition(o, "Stalled").get("status") == "False"
                )
                or None
            ),
            30,
        )
        assert theirs() == before

    # The corpus goes: garbage collection takes its own children (its build Job) but not theirs.
    custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, NAME)
    batch = client.BatchV1Api(api)
    wait_for(
        "garbage collection",
        lambda: not batch.list_namespaced_job(ns, label_selector=f"app.kubernetes.io/instance={NAME}").items,
        60,
    )
    assert theirs() == before


def test_a_foreign_deployment_with_the_servers_name_is_never_adopted_changed_or_deleted(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    """The server's Deployment is applied only once an index version is published."""
    apps = client.AppsV1Api(api)
    labels = {"app": "theirs"}
    pod = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "theirs", "image": "busybox"}]}}
    theirs_deployment = {
        "metadata": {"name": NAME, "labels": THEIRS},
        "spec": {"replicas": 0, "selector": {"matchLabels": labels}, "template": pod},
    }
    apps.create_namespaced_deployment(ns, client.V1Deployment.model_validate(theirs_deployment))

    def theirs() -> dict[str, Any]:
        return untouched_view(api, apps.read_namespaced_deployment(NAME, ns))

    # The Deployment controller annotates its revision first: that write is Kubernetes', not ours.
    before = wait_for("the revision annotation", lambda: (v := theirs())["annotations"] and v, 20)
    apply_corpus(core, custom, ns, make_corpus(NAME, on_local_node))
    kubelet.finish_index(ns, NAME, index_result_message("20260101-aaaa"))
    message = f"Deployment {NAME} exists and is not owned by this RagCorpus"
    obj = until_conflict(custom, ns, 1, message)
    assert obj["status"]["index"]["version"] == "20260101-aaaa"
    assert theirs() == before

    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, NAME, {"spec": {"runtime": {"replicas": 2}}}
    )
    until_conflict(custom, ns, 2, message)
    assert theirs() == before

    custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, NAME)
    wait_for(
        "garbage collection",
        lambda: (
            not core.list_namespaced_config_map(ns, label_selector=f"app.kubernetes.io/instance={NAME}").items
        ),
        60,
    )
    assert theirs() == before
