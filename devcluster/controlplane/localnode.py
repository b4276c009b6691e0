"""The heartbeat of `oozo-local-0`, the node kwok does not manage.

It does what a kubelet does to stay in the cluster: it registers its Node
(labelled and tainted so only pods that ask for it land there), reports the Node Ready, and
renews its Lease in kube-node-lease every few seconds, as the node's own identity
(system:node:oozo-local-0), so the node-lifecycle controller never marks it Unknown or evicts
from it. Pods bound to it are left alone: tests, or the local-kubelet runner, play the kubelet
for them by writing pod status. One more kubelet duty it keeps: a pod on this node that is
being deleted is removed for good (grace period 0, as a kubelet does once its containers are
gone), so deleting a namespace or an owner never leaves pods stuck in Terminating.

Run as a process: `python -m devcluster.controlplane.localnode --kubeconfig PATH` (the control plane
harness starts it and stops it by pid).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import platform
import signal
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

import yaml

NAME = "oozo-local-0"
LABEL = "oozo.dev/local-kubelet"
TAINT = {"key": LABEL, "value": "true", "effect": "NoSchedule"}
LEASE_SECONDS = 40  # what a kubelet asks for; the controller judges by its own grace period
KUBELET_VERSION = "v1.33.13"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def node_manifest(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                LABEL: "true",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "spec": {"taints": [TAINT]},
    }


def node_status(name: str) -> dict:
    stamp = _now().isoformat()
    healthy = {"status": "False", "lastHeartbeatTime": stamp}
    resources = {"cpu": "8", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "oozo local heartbeat is posting ready status",
                    "lastHeartbeatTime": stamp,
                },
                {"type": "MemoryPressure", "reason": "KubeletHasSufficientMemory", **healthy},
                {"type": "DiskPressure", "reason": "KubeletHasNoDiskPressure", **healthy},
                {"type": "PIDPressure", "reason": "KubeletHasSufficientPID", **healthy},
            ],
            "capacity": resources,
            "allocatable": resources,
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "",
                "containerRuntimeVersion": "oozo-local://0",
                "kernelVersion": platform.release(),
                "osImage": "oozo local processes",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        }
    }


class Api:
    """The few REST calls a heartbeat needs, over the standard library: no client import, so the
    node registers within a fraction of a second of the process starting."""

    def __init__(self, kubeconfig: str) -> None:
        conf = yaml.safe_load(Path(kubeconfig).read_text())
        cluster = conf["clusters"][0]["cluster"]
        user = conf["users"][0]["user"]
        self.server = cluster["server"]
        self.tls = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
        )
        self._files = tempfile.TemporaryDirectory(prefix="oozo-heartbeat-")
        cert, key = Path(self._files.name, "tls.crt"), Path(self._files.name, "tls.key")
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        self.tls.load_cert_chain(str(cert), str(key))

    def call(
        self, method: str, path: str, body: dict | None = None, content_type: str = "application/json"
    ) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.server + path,
            data=data,
            method=method,
            headers={"Content-Type": content_type, "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, context=self.tls, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def must(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        ok: tuple[int, ...] = (200, 201),
        content_type: str = "application/json",
    ) -> tuple[int, dict]:
        status, reply = self.call(method, path, body, content_type)
        if status not in ok:
            raise RuntimeError(f"{method} {path}: {status} {reply.get('message', reply)}")
        return status, reply


class Heartbeat:
    def __init__(self, api: Api, name: str = NAME) -> None:
        self.name = name
        self.api = api

    def register(self) -> None:
        self.api.must("POST", "/api/v1/nodes", node_manifest(self.name), ok=(201, 409))
        self.report_status()

    def report_status(self) -> None:
        status = node_status(self.name)
        _, node = self.api.must("GET", f"/api/v1/nodes/{self.name}")
        was = [c for c in node.get("status", {}).get("conditions", []) if c["type"] == "Ready"]
        if not was or was[0]["status"] != "True":  # a transition, as after registering or an outage
            status["status"]["conditions"][0]["lastTransitionTime"] = _now().isoformat()
        self.api.must(
            "PATCH",
            f"/api/v1/nodes/{self.name}/status",
            status,
            content_type="application/strategic-merge-patch+json",
        )

    def finish_deletions(self) -> None:
        _, pods = self.api.must("GET", f"/api/v1/pods?fieldSelector=spec.nodeName%3D{self.name}")
        for pod in pods.get("items", []):
            meta = pod["metadata"]
            if "deletionTimestamp" not in meta:
                continue
            options = {
                "kind": "DeleteOptions",
                "apiVersion": "v1",
                "gracePeriodSeconds": 0,
                "preconditions": {"uid": meta["uid"]},
            }
            self.api.must(
                "DELETE",
                f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                options,
                ok=(200, 202, 404, 409),
            )

    def renew_lease(self) -> None:
        path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": "kube-node-lease"},
            "spec": {
                "holderIdentity": self.name,
                "leaseDurationSeconds": LEASE_SECONDS,
                "renewTime": _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            },
        }
        status, _ = self.api.must(
            "PATCH", f"{path}/{self.name}", body, ok=(200, 404), content_type="application/merge-patch+json"
        )
        if status == 404:
            self.api.must("POST", path, body)


def run(kubeconfig: str, interval: float, status_every: float) -> None:
    stopping = False

    def stop(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    beat = Heartbeat(Api(kubeconfig))
    registered = False
    began = time.monotonic()
    last_status = time.monotonic()
    while not stopping:
        try:
            # Started beside a still-booting apiserver, like a kubelet: register once it answers.
            if not registered:
                beat.register()
                registered = True
            beat.renew_lease()
            beat.finish_deletions()
            # Also re-assert Ready now and then: after a suspended laptop the controller may
            # have marked the node Unknown, and a kubelet would report Ready again.
            if time.monotonic() - last_status >= status_every:
                beat.report_status()
                last_status = time.monotonic()
        except Exception as err:  # the apiserver restarting must not kill the heartbeat
            if not registered:
                # Quiet while the apiserver is still starting; loud if it never lets us in.
                if time.monotonic() - began > 15:
                    print(f"heartbeat: cannot register {beat.name}: {err}", file=sys.stderr, flush=True)
                time.sleep(0.3)
                continue
            print(f"heartbeat: {err}", file=sys.stderr, flush=True)
        deadline = time.monotonic() + interval
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between lease renewals")
    parser.add_argument("--status-every", type=float, default=10.0, help="seconds between status reports")
    args = parser.parse_args()
    run(args.kubeconfig, args.interval, args.status_every)


if __name__ == "__main__":
    main()
