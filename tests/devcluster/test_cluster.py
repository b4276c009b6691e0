"""The local control plane behaves like a cluster: real API server, real controllers, real RBAC,
a kwok node that runs pods on paper, and the local node that stays Ready on its own heartbeat."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from devcluster.controlplane.plane import (
    KWOK_NODE_NAME,
    LOCAL_NODE_NAME,
    LOCAL_NODE_SELECTOR,
    LOCAL_NODE_TOLERATION,
    NODE_MONITOR_GRACE_SECONDS,
    ControlPlane,
)
from devcluster.kstatus import kstatus
from devcluster.waiting import wait_for


def gone(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ApiException as err:
        if err.status == 404:
            return True
        raise
    return False


@pytest.fixture(scope="module")
def api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.api_client() as api_client:
        yield api_client


@pytest.fixture()
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture()
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace.model_validate({"metadata": {"name": name}}))
    yield name
    core.delete_namespace(name)


def kubectl(plane: ControlPlane, *args: str) -> str:
    return subprocess.run(
        ["kubectl", *args], env=plane.env(), check=True, capture_output=True, text=True
    ).stdout


def container(name: str = "main") -> dict[str, Any]:
    return {"name": name, "image": "registry.invalid/oozo/never-pulled:1"}


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container()]}},
        },
    }


def test_readyz_is_ok(control_plane: ControlPlane) -> None:
    assert kubectl(control_plane, "get", "--raw", "/readyz").strip() == "ok"


def test_both_nodes_are_ready(control_plane: ControlPlane) -> None:
    nodes = json.loads(kubectl(control_plane, "get", "nodes", "-o", "json"))["items"]
    ready = {
        n["metadata"]["name"]: next(c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready")
        for n in nodes
    }
    assert ready[KWOK_NODE_NAME] == "True"
    assert ready[LOCAL_NODE_NAME] == "True"


def test_rbac_is_enforced(control_plane: ControlPlane, namespace: str) -> None:
    sa = f"system:serviceaccount:{namespace}:default"
    allowed = subprocess.run(
        ["kubectl", "auth", "can-i", "list", "pods", "-n", namespace, f"--as={sa}"],
        env=control_plane.env(),
        capture_output=True,
        text=True,
    )
    assert allowed.stdout.strip() == "no"
    assert kubectl(control_plane, "auth", "can-i", "list", "pods", "-n", namespace).strip() == "yes"


def test_deployment_becomes_available_on_the_kwok_node(api: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, client.V1Deployment.model_validate(deployment("web")))

    def rolled_out() -> client.V1Deployment | None:
        dep = apps.read_namespaced_deployment("web", namespace)
        return dep if (dep.status.available_replicas or 0) == 1 else None

    dep = wait_for("deployment web 1/1 available", rolled_out)
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="app=web").items
    assert [(p.spec.node_name, p.status.phase) for p in pods] == [(KWOK_NODE_NAME, "Running")]
    # The health verdict GitOps tools would give, from the live object.
    assert kstatus(api.sanitize_for_serialization(dep))[0] == "Current"


def test_job_completes(api: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container()]}}},
    }
    batch.create_namespaced_job(namespace, client.V1Job.model_validate(job))

    def complete() -> bool:
        conditions = batch.read_namespaced_job_status("once", namespace).status.conditions or []
        return any(c.type == "Complete" and c.status == "True" for c in conditions)

    wait_for("job once Complete", complete)
    assert batch.read_namespaced_job("once", namespace).status.succeeded == 1


def test_garbage_collector_deletes_what_an_owner_owns(core: client.CoreV1Api, namespace: str) -> None:
    owner = core.create_namespaced_config_map(
        namespace, client.V1ConfigMap.model_validate({"metadata": {"name": "owner"}})
    )
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap.model_validate({"metadata": {"name": "owned", "ownerReferences": [reference]}}),
    )

    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Background")

    wait_for(
        "owned ConfigMap collected", lambda: gone(lambda: core.read_namespaced_config_map("owned", namespace))
    )


def test_cronjob_and_hpa_v2_are_accepted(api: client.ApiClient, namespace: str) -> None:
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [container()]}}}
            },
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
    }
    client.BatchV1Api(api).create_namespaced_cron_job(namespace, client.V1CronJob.model_validate(cron))
    client.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler(
        namespace, client.V2HorizontalPodAutoscaler.model_validate(hpa)
    )

    assert client.BatchV1Api(api).read_namespaced_cron_job("nightly", namespace).spec.schedule == "0 3 * * *"
    stored = client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler("web", namespace)
    assert stored.spec.metrics is not None
    assert stored.spec.metrics[0].resource.target.average_utilization == 70


def test_pods_on_the_local_node_are_left_to_whoever_plays_the_kubelet(
    core: client.CoreV1Api, namespace: str
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "local"},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": LOCAL_NODE_SELECTOR,
            "tolerations": [LOCAL_NODE_TOLERATION],
            "containers": [container()],
        },
    }
    core.create_namespaced_pod(namespace, client.V1Pod.model_validate(pod))
    wait_for(
        "pod bound to the local node", lambda: core.read_namespaced_pod("local", namespace).spec.node_name
    )
    assert core.read_namespaced_pod("local", namespace).spec.node_name == LOCAL_NODE_NAME
    time.sleep(2)  # kwok would have made it Running by now if it were watching this node
    assert core.read_namespaced_pod("local", namespace).status.phase == "Pending"

    # Play the kubelet: the container ran and exited with a termination message.
    now = dt.datetime.now(dt.UTC).isoformat()
    terminated = {"exitCode": 0, "reason": "Completed", "message": '{"chunks": 42}', "finishedAt": now}
    core.patch_namespaced_pod_status(
        "local",
        namespace,
        {
            "status": {
                "phase": "Succeeded",
                "containerStatuses": [
                    {
                        "name": "main",
                        "image": container()["image"],
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"terminated": terminated},
                    }
                ],
            }
        },
    )
    seen = core.read_namespaced_pod("local", namespace).status
    assert seen.phase == "Succeeded"
    assert seen.container_statuses is not None
    assert seen.container_statuses[0].state.terminated.message == '{"chunks": 42}'

    # Deleting it completes, as with a kubelet, instead of hanging in Terminating.
    core.delete_namespaced_pod("local", namespace)
    wait_for("local pod deleted", lambda: gone(lambda: core.read_namespaced_pod("local", namespace)), 30)


def test_local_node_outlives_the_node_monitor_grace_period(core: client.CoreV1Api) -> None:
    # A node that reports Ready once and never again: the node-lifecycle controller must give up
    # on it after the grace period, which proves the controller is watching...
    ghost = f"ghost-{uuid.uuid4().hex[:6]}"
    taint = {"key": "oozo.dev/test-ghost", "value": "true", "effect": "NoSchedule"}  # nothing lands there
    core.create_node(client.V1Node.model_validate({"metadata": {"name": ghost}, "spec": {"taints": [taint]}}))
    now = dt.datetime.now(dt.UTC).isoformat()
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now}
    core.patch_node_status(ghost, {"status": {"conditions": [ready]}})
    local_before = core.read_node(LOCAL_NODE_NAME)
    try:

        def ghost_lost() -> bool:
            node = core.read_node(ghost)
            return any(c.type == "Ready" and c.status == "Unknown" for c in node.status.conditions)

        wait_for("ghost node marked Unknown", ghost_lost, timeout=NODE_MONITOR_GRACE_SECONDS * 3)
    finally:
        core.delete_node(ghost)

    # ...while the local node, on its heartbeat, stayed Ready the whole time.
    local = core.read_node(LOCAL_NODE_NAME)
    (was,) = [c for c in local_before.status.conditions if c.type == "Ready"]
    (now_ready,) = [c for c in local.status.conditions if c.type == "Ready"]
    assert now_ready.status == "True"
    assert now_ready.last_transition_time == was.last_transition_time, "Ready flapped"
    assert not [t for t in local.spec.taints or [] if t.key.startswith("node.kubernetes.io/")]
    assert local.metadata.creation_timestamp is not None
    age = dt.datetime.now(dt.UTC) - local.metadata.creation_timestamp
    assert age.total_seconds() > NODE_MONITOR_GRACE_SECONDS
