"""The local kubelet on the real control plane, beyond Oozo's happy path: init containers,
config and secret wiring, readiness and Services, failures, restarts, graceful deletion.
Containers here run `sh` and `python3` from this machine."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster.controlplane.plane import LOCAL_SCHEDULING
from devcluster.kube_rest import Kube
from devcluster.kubelet.local import LocalKubelet
from devcluster.kubelet.services import resolve_service, service_endpoints
from devcluster.provisioner import Provisioner
from devcluster.stack import kubectl
from devcluster.waiting import wait_for


@pytest.fixture(scope="module")
def node(control_plane: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp("kubelet-node")
    prov = Provisioner(control_plane.kubeconfig, work / "pv").start()
    kubelet = LocalKubelet(control_plane.kubeconfig, workdir=work / "kubelet").start()
    namespace = f"kubelet-{uuid.uuid4().hex[:6]}"
    kubectl(control_plane.kubeconfig, "create", "namespace", namespace)
    kube = Kube(control_plane.kubeconfig)
    try:
        yield {"kubeconfig": control_plane.kubeconfig, "ns": namespace, "kube": kube, "kubelet": kubelet}
    finally:
        kubectl(control_plane.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)
        kubelet.stop()
        prov.stop()
        kube.close()
    assert kubelet.pids() == []


def apply(node: dict, *objects: dict) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    kubectl(node["kubeconfig"], "apply", "-n", node["ns"], "-f", "-", input=body)


def pod_spec(*containers: dict, **spec: Any) -> dict:
    return {**LOCAL_SCHEDULING, "containers": list(containers), **spec}


def bare_pod(name: str, *containers: dict, **spec: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": pod_spec(*containers, **spec)}  # fmt: skip


def sh(name: str, script: str, **fields: Any) -> dict:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], **fields}


def get_pod(node: dict, name: str) -> dict | None:
    return node["kube"].get(f"/api/v1/namespaces/{node['ns']}/pods/{name}")


def phase_is(node: dict, name: str, *phases: str) -> Callable[[], dict | None]:
    def probe() -> dict | None:
        pod = get_pod(node, name)
        return pod if pod and (pod.get("status") or {}).get("phase") in phases else None

    return probe


def test_init_containers_config_secrets_readiness_and_service(node: dict) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
              "data": {"token": base64.b64encode(b"s3cret").decode()}}  # fmt: skip
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
              "data": {"GREETING": "hello", "page.txt": "from-a-configmap-volume"}}  # fmt: skip
    init = sh("prepare", 'echo "$GREETING $TOKEN $POD" > /www/index.html; cp /cfg/page.txt /www/page.txt',
              envFrom=[{"configMapRef": {"name": "settings"}}],
              env=[{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
                   {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
              volumeMounts=[{"name": "www", "mountPath": "/www"},
                            {"name": "cfg", "mountPath": "/cfg"}])  # fmt: skip
    web = {
        "name": "web", "image": "python:3.11",
        "command": ["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0", "--directory", "/www"],
        "ports": [{"name": "http", "containerPort": 8000}],
        "readinessProbe": {"httpGet": {"path": "/index.html", "port": "http"}, "periodSeconds": 1},
        "volumeMounts": [{"name": "www", "mountPath": "/www"}],
    }  # fmt: skip
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {
            "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec(
                web, initContainers=[init],
                volumes=[{"name": "www", "emptyDir": {}},
                         {"name": "cfg", "configMap": {"name": "settings"}}])},
        },
    }  # fmt: skip
    port = {"name": "http", "port": 80, "targetPort": "http"}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [port]}}  # fmt: skip
    apply(node, secret, config, deployment, service)
    kubectl(node["kubeconfig"], "rollout", "status", "deployment/web", "-n", node["ns"], "--timeout=90s")

    def two_endpoints() -> list[str]:
        urls = service_endpoints(node["kubeconfig"], node["ns"], "web", 80)
        return urls if len(urls) == 2 else []

    urls = wait_for("two ready endpoints", two_endpoints)
    bodies = {httpx.get(f"{u}/index.html", trust_env=False).text.strip() for u in urls}
    assert all(b.startswith("hello s3cret web-") for b in bodies) and len(bodies) == 2, bodies
    url = resolve_service(node["kubeconfig"], node["ns"], "web", 80)
    assert httpx.get(f"{url}/page.txt", trust_env=False).text == "from-a-configmap-volume"


def test_failed_job_pod_reports_exit_code_and_log_tail(node: dict) -> None:
    script = "echo starting; echo 'boom: disk on fire' >&2; exit 3"
    main = sh("main", script, terminationMessagePolicy="FallbackToLogsOnError")
    apply(node, bare_pod("fails", main, restartPolicy="Never"))
    pod = wait_for("Failed", phase_is(node, "fails", "Failed"))
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 3 and term["reason"] == "Error"
    assert "boom: disk on fire" in term["message"]


def test_termination_message_file_wins(node: dict) -> None:
    apply(node, bare_pod("reports", sh("main", 'echo \'{"version": "v7"}\' > /dev/termination-log'),
                         restartPolicy="Never"))  # fmt: skip
    pod = wait_for("Succeeded", phase_is(node, "reports", "Succeeded"))
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and json.loads(term["message"]) == {"version": "v7"}


def test_missing_program_fails_the_container_with_a_reason(node: dict) -> None:
    apply(node, bare_pod("noprog", {"name": "main", "image": "busybox", "command": ["no-such-program"]},
                         restartPolicy="Never"))  # fmt: skip
    pod = wait_for("Failed", phase_is(node, "noprog", "Failed"))
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["reason"] == "StartError" and "executable file not found" in term["message"]


def test_crashing_container_is_restarted_with_back_off(node: dict) -> None:
    apply(node, bare_pod("crashy", sh("main", "echo crash; exit 1")))

    def restarted() -> dict | None:
        pod = get_pod(node, "crashy")
        statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or []
        return statuses[0] if statuses and statuses[0]["restartCount"] >= 2 else None

    status = wait_for("two restarts", restarted, timeout=30)
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert (get_pod(node, "crashy") or {})["status"]["phase"] == "Running"


def test_deletion_runs_pre_stop_then_sigterm_then_removes_the_pod(node: dict, tmp_path: Path) -> None:
    marker = tmp_path / "stopped"
    script = f"trap 'echo term >> {marker}; exit 0' TERM; while true; do sleep 0.1; done"
    apply(node, bare_pod("graceful", sh("main", script, lifecycle={
        "preStop": {"exec": {"command": ["sh", "-c", f"echo prestop >> {marker}; sleep 1"]}}}),
        terminationGracePeriodSeconds=10))  # fmt: skip
    wait_for("Running", phase_is(node, "graceful", "Running"))
    began = time.monotonic()
    kubectl(node["kubeconfig"], "delete", "pod", "graceful", "-n", node["ns"], "--wait=true", "--timeout=30s")
    assert get_pod(node, "graceful") is None
    assert time.monotonic() - began >= 1.0
    assert marker.read_text().split() == ["prestop", "term"]
