"""What the operator's control-plane tests share: the operator as a real subprocess, the CRD,
volumes for the index PVCs, and a hand that plays the kubelet on oozo-local-0.

The local control plane has no storage provisioner: `volume_for()` pre-binds a hostPath
PersistentVolume to a corpus's NAME-index claim, as an administrator would for static
provisioning, so the scheduler can place the corpus's pods."""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.rest import ApiException

REPO = Path(__file__).resolve().parents[1]
GROUP, VERSION, PLURAL = "rag.oozo.dev", "v1alpha1", "ragcorpora"
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0, every: float = 0.25) -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = probe()
        except ApiException as err:
            value, last = None, err
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last})")
        time.sleep(every)


def install_crd(env: dict[str, str]) -> None:
    crd = str(REPO / "crds" / "ragcorpus.yaml")
    subprocess.run(
        ["kubectl", "apply", "--server-side", "--force-conflicts", "-f", crd],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["kubectl", "wait", "--for=condition=Established", "--timeout=60s", "crd/ragcorpora.rag.oozo.dev"],
        env=env,
        check=True,
        capture_output=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Operator:
    """`oozo operator` as a subprocess against the test control plane."""

    def __init__(self, env: dict[str, str], log_dir: Path, **settings: str) -> None:
        self.env = {
            **env,
            "OOZO_LOG_FORMAT": "json",
            "OOZO_JOB_BACKOFF_LIMIT": "1",
            "OOZO_RECHECK_SECONDS": "2",
            **settings,
        }
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.metrics_port = 0

    def start(self) -> Operator:
        self.starts += 1
        self.metrics_port = _free_port()
        self.liveness_port = _free_port()
        log = open(self.log_dir / f"operator-{self.starts}.log", "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [
                str(REPO / ".venv" / "bin" / "oozo-operator"),
                "--liveness-port",
                str(self.liveness_port),
                "--metrics-port",
                str(self.metrics_port),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        return self

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as when a node dies mid-reconcile."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def metrics(self) -> str:
        return self._get(self.metrics_port, "/metrics")

    def healthz(self) -> str:
        return self._get(self.liveness_port, "/healthz")

    @staticmethod
    def _get(port: int, path: str) -> str:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.read().decode()


def volume_for(core: client.CoreV1Api, namespace: str, corpus: str, size: str = "2Gi") -> None:
    """A hostPath PV pre-bound to the corpus's NAME-index claim (no provisioner here)."""
    core.create_persistent_volume(
        {
            "metadata": {"name": f"{namespace}-{corpus}", "labels": {"oozo-test": namespace}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "hostPath": {"path": f"/tmp/oozo-test-pv/{namespace}/{corpus}"},
                "claimRef": {"namespace": namespace, "name": f"{corpus}-index"},
            },
        }
    )


def docs_configmap(core: client.CoreV1Api, namespace: str, name: str) -> None:
    core.create_namespaced_config_map(namespace, {"metadata": {"name": name}, "data": {"a.md": "# Hello\n"}})


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def result(version: str, documents: int = 3, chunks: int = 12) -> str:
    """The JSON the runtime's `oozo index` writes to its termination message."""
    return json.dumps(
        {
            "version": version,
            "documents": documents,
            "chunks": chunks,
            "skippedDocuments": 1,
            "skipped": [{"document": "broken.docx", "reason": "not a zip file"}],
            "embeddingModel": "sentence-transformers/all-MiniLM-L6-v2",
            "dimensions": 384,
            "sizeBytes": 123456,
            "builtAt": _now(),
            "buildSeconds": 4.2,
            "reusedEmbeddings": 0,
        }
    )


class Kubelet:
    """Plays the kubelet of oozo-local-0 by writing pod status, as the real one would."""

    def __init__(self, core: client.CoreV1Api) -> None:
        self.core = core

    def pods(self, namespace: str, selector: str) -> list[client.V1Pod]:
        return self.core.list_namespaced_pod(namespace, label_selector=selector).items

    def terminate(self, namespace: str, pod: str, exit_code: int, message: str) -> None:
        p = self.core.read_namespaced_pod(pod, namespace)
        c = p.spec.containers[0]
        state = {
            "terminated": {
                "exitCode": exit_code,
                "reason": "Completed" if exit_code == 0 else "Error",
                "message": message,
                "startedAt": _now(),
                "finishedAt": _now(),
            }
        }
        self.core.patch_namespaced_pod_status(
            pod,
            namespace,
            {
                "status": {
                    "phase": "Succeeded" if exit_code == 0 else "Failed",
                    "startTime": _now(),
                    "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": _now()}],
                    "containerStatuses": [
                        {
                            "name": c.name,
                            "image": c.image,
                            "imageID": "",
                            "ready": False,
                            "restartCount": 0,
                            "state": state,
                        }
                    ],
                }
            },
        )

    def run_ready(self, namespace: str, pod: str) -> None:
        p = self.core.read_namespaced_pod(pod, namespace)
        c = p.spec.containers[0]
        conds = [
            {"type": t, "status": "True", "lastTransitionTime": _now()}
            for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ]
        self.core.patch_namespaced_pod_status(
            pod,
            namespace,
            {
                "status": {
                    "phase": "Running",
                    "startTime": _now(),
                    "conditions": conds,
                    "podIP": "10.0.0.10",
                    "containerStatuses": [
                        {
                            "name": c.name,
                            "image": c.image,
                            "imageID": "",
                            "ready": True,
                            "started": True,
                            "restartCount": 0,
                            "state": {"running": {"startedAt": _now()}},
                        }
                    ],
                }
            },
        )

    def pending_index_pods(self, namespace: str, corpus: str) -> list[str]:
        sel = f"app.kubernetes.io/instance={corpus},app.kubernetes.io/component=index"
        return [
            p.metadata.name
            for p in self.pods(namespace, sel)
            if p.spec.node_name and not p.status.container_statuses and not p.metadata.deletion_timestamp
        ]

    def finish_index(
        self, namespace: str, corpus: str, message: str, exit_code: int = 0, timeout: float = 60
    ) -> str:
        """Wait for the corpus's next index pod to be scheduled, then terminate it."""
        pod = wait_for(
            f"an index pod of {corpus}", lambda: self.pending_index_pods(namespace, corpus), timeout
        )[0]
        self.terminate(namespace, pod, exit_code, message)
        return pod

    def ready_servers(self, namespace: str, corpus: str) -> int:
        """Mark every scheduled, not yet running server pod Running and Ready; returns how many."""
        sel = f"app.kubernetes.io/instance={corpus},app.kubernetes.io/component=server"
        todo = [
            p
            for p in self.pods(namespace, sel)
            if p.spec.node_name and p.status.phase == "Pending" and not p.metadata.deletion_timestamp
        ]
        for p in todo:
            self.run_ready(namespace, p.metadata.name)
        return len(todo)


def corpus(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    return custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == kind:
            return c
    return {}


def until_condition(
    custom: client.CustomObjectsApi,
    namespace: str,
    name: str,
    kind: str,
    timeout: float,
    *,
    status: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Wait until the corpus's `kind` condition has `status` (and `reason`, when given); returns
    the corpus as it was read when it did."""

    def probe() -> dict[str, Any] | None:
        obj = corpus(custom, namespace, name)
        found = condition(obj, kind)
        if status is not None and found.get("status") != status:
            return None
        if reason is not None and found.get("reason") != reason:
            return None
        return obj

    what = " ".join(part for part in (kind, status, reason, "on", name) if part)
    return wait_for(what, probe, timeout)
