"""A local kubelet: runs the pods bound to `oozo-local-0` as processes on this machine.

The control plane (devcluster/controlplane/plane.py) is real: kube-apiserver, the scheduler, the
Job, ReplicaSet, Deployment, EndpointSlice and PV controllers all do their own work. What no
machine here has is a container runtime. This module plays the kubelet for one node:

- watch pods with spec.nodeName=NODE; for each, materialise its volumes into a pod folder
  (configMap/secret/downwardAPI/projected files, emptyDir folders, a PVC's bound hostPath PV);
- give the pod a loopback address 127.0.0.N to listen on; its pod IP in the API is 10.233.0.N
  (EndpointSlices refuse loopback addresses), which resolve_service maps back;
- run init containers in order, then containers, as subprocesses (launch.launch_plan says
  how a container spec becomes argv/env/cwd), logs to files;
- write pod status like a kubelet (phase, container states with exit codes and termination
  messages, conditions driven by readiness probes), restart per restartPolicy;
- on deletion run preStop, SIGTERM, wait the grace period, SIGKILL, then delete the pod.

Modules: launch (pure: spec → argv/env/paths), pod_status (pure: states → pod status), probes
(probes and preStop hooks), volumes (volume folders), worker (one pod's life), services (pod
addresses, Service resolution), this one (the watch).

It is a different job from KubeletPlayer (player.py), which runs nothing and only writes the
status a test asks for: this one runs the real `oozo index` and `oozo serve`, so the e2e tier
and `make demo` see real builds and real answers.

Not simulated as processes: image contents (launch.OOZO_RUNTIME_IMAGE), isolation, resource
limits. With OOZO_KUBELET_RUNTIME=podman (or runtime="podman") a container whose image was built
here by `make images` runs as a real container instead (in_container.py): the image's contents,
its user, the security context and limits enforced by the kernel.

The node's heartbeat process deletes terminating pods on this node at once (grace 0), which is
right when nobody runs them; while a pod's processes run this kubelet holds a finalizer on it,
so a rolling update still gets a graceful stop (preStop, SIGTERM, grace) before the pod goes.

    kubelet = LocalKubelet(kubeconfig, workdir=tmp / "kubelet"); kubelet.start(); ...; kubelet.stop()
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from devcluster.kube_rest import Kube
from devcluster.kubelet.in_container import PodmanRuntime, runtime_from_env
from devcluster.kubelet.services import pod_addresses
from devcluster.kubelet.worker import PodWorker

log = logging.getLogger("oozo.local-kubelet")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call drowns the story

NODE_NAME = "oozo-local-0"


class LocalKubelet:
    """Plays the kubelet of one node for the pods the scheduler binds to it."""

    def __init__(
        self,
        kubeconfig: Path | str,
        node_name: str = NODE_NAME,
        workdir: Path | str = ".cluster/kubelet",
        python_bin: Path | str = ".venv/bin",
        stop_grace: float = 5.0,
        runtime: str | None = None,
    ) -> None:
        """runtime: 'process' (pods as host processes) or 'podman' (pods as containers where a
        local image exists, see in_container.py); None reads OOZO_KUBELET_RUNTIME."""
        self.kubeconfig = Path(kubeconfig)
        self.node_name = node_name
        self.workdir = Path(workdir).resolve()
        self.python_bin = Path(python_bin).resolve()
        self.stop_grace = stop_grace
        self.runtime = runtime_from_env(runtime)
        self.containers: PodmanRuntime | None = None
        self.kube = Kube(self.kubeconfig)
        self.workers: dict[str, PodWorker] = {}
        self._ips = itertools.count()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self.base_env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TOKENIZERS_PARALLELISM": "false",
        }

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> LocalKubelet:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.runtime == "podman" and self.containers is None:
            self.containers = PodmanRuntime(self.kube.server)
        self._thread = threading.Thread(target=self._watch_loop, name="local-kubelet", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop every pod process (SIGTERM, then SIGKILL after stop_grace) and drop finalizers;
        pod objects stay for the control plane's own teardown."""
        self._stopping.set()
        for worker in list(self.workers.values()):
            worker.stop_now = True
            worker.wake.set()
        for worker in list(self.workers.values()):
            worker.join(timeout=self.stop_grace + 15)
        with self._lock:
            leftovers = list(self._procs)
        for popen in leftovers:  # a crashed worker must not leave processes behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()
        if self.containers is not None:  # and no container must outlive it either
            self.containers.remove_all()
        if self._thread:
            self._thread.join(timeout=40)
        self.kube.close()

    def __enter__(self) -> LocalKubelet:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def track(self, popen: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(popen)

    def untrack(self, popen: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(popen)

    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._procs if p.poll() is None]

    def read_object(self, kind: str, namespace: str, name: str) -> dict | None:
        plural = {"configmap": "configmaps", "secret": "secrets"}[kind]
        return self.kube.get(f"/api/v1/namespaces/{namespace}/{plural}/{name}")

    # -- the watch ------------------------------------------------------------------------------

    def _watch_loop(self) -> None:
        selector = {"fieldSelector": f"spec.nodeName={self.node_name}"}
        rv = ""
        while not self._stopping.is_set():
            try:
                if not rv:
                    listing = self.kube.list("/api/v1/pods", **selector)
                    seen = set()
                    for pod in listing.get("items") or []:
                        seen.add(pod["metadata"]["uid"])
                        self._dispatch("MODIFIED", pod)
                    for uid, worker in list(self.workers.items()):
                        if uid not in seen:
                            worker.update(worker.pod, deleted=True)
                    rv = listing["metadata"]["resourceVersion"]
                for event in self.kube.watch("/api/v1/pods", rv, timeout_seconds=10, **selector):
                    if self._stopping.is_set():
                        return
                    if event["type"] == "ERROR":
                        rv = ""
                        break
                    rv = event["object"]["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self._dispatch(event["type"], event["object"])
            except Exception as err:
                if self._stopping.is_set():
                    return
                log.warning("local kubelet watch: %s", err)
                rv = ""
                time.sleep(1.0)

    def _dispatch(self, kind: str, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod, deleted=kind == "DELETED")
            return
        if kind == "DELETED" or self._stopping.is_set():
            return
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return  # ran before this kubelet started (or by someone else): nothing to run
        worker = PodWorker(self, pod, pod_addresses(next(self._ips)))
        self.workers[uid] = worker
        worker.start()
