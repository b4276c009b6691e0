"""The operator image, started from the chart's own Deployment as a real container with in-cluster
configuration (a ServiceAccount token of the chart's RBAC and the API server's CA, mounted where
Kubernetes mounts them), reconciles a RagCorpus on a real kube-apiserver: the chart's RBAC and
the operator image, exercised together."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client

from devcluster.containers.pod import PodObjects, prepare
from devcluster.containers.podman import Podman
from devcluster.ports import free_ports
from devcluster.ragcorpus import docs_configmap, install_crd
from tests.containers.conftest import OPERATOR_IMAGE

pytestmark = pytest.mark.timeout(1800)

REPO = Path(__file__).resolve().parents[2]
RELEASE = "oozo-containers"  # its own names: nothing another test installed is touched
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# helm built from the module proxy assumes Kubernetes 1.20; render for the version we run.
KUBE_VERSION = next(
    line.split("=", 1)[1].strip()
    for line in (REPO / "hack/controlplane/versions.env").read_text().splitlines()
    if line.startswith("K8S_VERSION=")
)


def chart(namespace: str, watched: str) -> list[dict[str, Any]]:
    helm = subprocess.run(
        ["bash", str(REPO / "hack/tools/helm.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    values = {
        "watchNamespaces": f"{{{watched}}}",
        "corpusPolicy.admission": "false",  # the shared API server's admission tests own the policy
        "image.repository": "oozo-operator",
        "image.tag": "dev",
    }
    sets = [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]
    where = ["--kube-version", KUBE_VERSION, "--namespace", namespace]
    out = subprocess.run(
        [helm, "template", RELEASE, str(REPO / "charts/oozo"), *where, *sets],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def kubectl(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["kubectl", *args], env=env, input=stdin, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_operator_image_reconciles_in_cluster_with_the_charts_rbac(
    podman: Podman, control_plane: Any, tmp_path: Path
) -> None:
    env = control_plane.env()
    install_crd(env)
    system, team = f"oozo-sys-{uuid.uuid4().hex[:6]}", f"team-{uuid.uuid4().hex[:6]}"
    docs = chart(system, team)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    rest = [d for d in docs if d["kind"] != "Deployment"]
    with control_plane.api_client() as api:
        core = client.CoreV1Api(api)
        for name in (system, team):
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        try:
            kubectl(env, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(rest))
            account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
            token = kubectl(env, "create", "token", account, "-n", system, "--duration=1h").strip()
            secrets = tmp_path / "serviceaccount"
            secrets.mkdir()
            (secrets / "token").write_text(token)
            (secrets / "ca.crt").write_bytes((control_plane.pki / "ca.crt").read_bytes())
            (secrets / "namespace").write_text(system)
            for path in [secrets, *secrets.iterdir()]:
                path.chmod(0o755 if path.is_dir() else 0o644)

            template = deployment["spec"]["template"]
            container = template["spec"]["containers"][0]
            # Host network: the chart's fixed ports become free ones, as a pod's own would be.
            liveness, metrics = free_ports(2)
            container["args"] = [
                f"--liveness-port={liveness}" if a.startswith("--liveness-port") else a
                for a in container["args"]
            ]
            container["args"] = [
                f"--metrics-port={metrics}" if a.startswith("--metrics-port") else a
                for a in container["args"]
            ]
            objects = PodObjects()
            for doc in rest:
                if doc["kind"] == "ConfigMap":
                    objects.add(doc)
            host, port = control_plane.server.removeprefix("https://").rsplit(":", 1)
            pod = prepare(
                podman,
                template,
                name=f"{RELEASE}-{uuid.uuid4().hex[:6]}",
                image=OPERATOR_IMAGE,
                objects=objects,
                claims={},
                folder=tmp_path / "pod",
                pod_ip="127.0.0.1",
                provided={"kube-api-access": (secrets, SERVICE_ACCOUNT_DIR)},
                service_env={"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port},
            )
            podman.start(pod.plan)
            try:
                wait_live(podman, pod.plan.name, f"http://127.0.0.1:{liveness}/healthz")
                docs_configmap(core, team, "handbook-docs")
                custom = client.CustomObjectsApi(api)
                body = {
                    "apiVersion": "rag.oozo.dev/v1alpha1",
                    "kind": "RagCorpus",
                    "metadata": {"name": "handbook"},
                    "spec": {"source": {"configMap": {"name": "handbook-docs"}}},
                }
                custom.create_namespaced_custom_object("rag.oozo.dev", "v1alpha1", team, "ragcorpora", body)
                batch = client.BatchV1Api(api)
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    jobs = batch.list_namespaced_job(team).items
                    corpus: dict[str, Any] = custom.get_namespaced_custom_object(  # type: ignore[assignment]
                        "rag.oozo.dev", "v1alpha1", team, "ragcorpora", "handbook"
                    )
                    if jobs and (corpus.get("status") or {}).get("conditions"):
                        break
                    time.sleep(1)
                else:
                    log = podman.logs(pod.plan.name)[-4000:]
                    pytest.fail(f"no index Job or status in 120 s; operator log:\n{log}")
                assert core.read_namespaced_persistent_volume_claim("handbook-index", team)
                assert core.read_namespaced_service("handbook", team)
                logs = podman.logs(pod.plan.name)
                assert "Forbidden" not in logs and token not in logs
            finally:
                podman.remove(pod.plan.name)
        finally:
            kubectl(
                env, "delete", "--ignore-not-found", "--wait=false", "-f", "-", stdin=yaml.safe_dump_all(rest)
            )
            for name in (team, system):
                core.delete_namespace(name)


def wait_live(podman: Podman, name: str, url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _ = podman.state(name)
        if status != "running":
            pytest.fail(f"operator container {status}; logs:\n{podman.logs(name)[-4000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"operator not live in {timeout:.0f} s; logs:\n{podman.logs(name)[-4000:]}")
