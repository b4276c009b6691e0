"""A real kubelet (built by hack/realnode/build.sh) with Debian's containerd and runc, registered
as node `oozo-real-0` of a dev control plane, with CNI bridge networking.

    node = RealNode(workdir, plane); node.start(); node.load_image(podman, "oozo-server:dev")
    ... pods with configs.NODE_SELECTOR and configs.TOLERATION run there ...
    node.stop()   # pods, containers, shims, mounts, cgroups, bridge, Node object: all gone

Only one real node runs per host at a time (its bridge and subnet are fixed): start() takes a
lock and fails at once, saying so, when another holds it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

from devcluster import REPO, procs
from devcluster.controlplane import pki
from devcluster.controlplane.plane import ControlPlane
from devcluster.ports import free_ports
from devcluster.realnode import configs, host
from devcluster.realnode.images import Ctr, import_from_podman

BUILD = REPO / "hack" / "realnode" / "build.sh"
APT = REPO / "hack" / "tools" / "apt.sh"
LOCK = Path("/run/lock/oozo-realnode.lock")
START_TIMEOUT = 120.0
# Debian's packages for the runtime: containerd (with ctr and the runc shim), and the CNI plugins.
PACKAGES = [("containerd", "containerd"), ("containernetworking-plugins", "/usr/lib/cni/bridge")]
CNI_BIN = Path("/usr/lib/cni")


class RealNodeError(RuntimeError):
    """The real node could not start or stop cleanly; the message says what and where."""


def ensure_tools() -> Path:
    """Installs containerd and the CNI plugins when missing, builds the kubelet and the pause
    image (both cached); returns the bin directory."""
    for package, binary in PACKAGES:
        done = subprocess.run(
            ["bash", str(APT), package, binary], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RealNodeError(f"installing {package} failed ({done.returncode}): {done.stderr.strip()}")
    built = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, check=False)
    if built.returncode != 0:
        raise RealNodeError(f"{BUILD} failed ({built.returncode}):\n{built.stderr}")
    return Path(built.stdout.strip().splitlines()[-1])


class RealNode:
    def __init__(self, workdir: Path, plane: ControlPlane) -> None:
        self.workdir = Path(workdir).resolve()
        self.plane = plane
        self.name = configs.NODE_NAME
        self.timings: dict[str, float] = {}  # seconds from start() to each milestone
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock: TextIO | None = None
        self._layout: configs.Layout | None = None
        self._began = 0.0

    @property
    def layout(self) -> configs.Layout:
        if self._layout is None:
            raise RealNodeError("the real node is not started")
        return self._layout

    @property
    def started(self) -> bool:
        return self._layout is not None

    @property
    def ctr(self) -> Ctr:
        return Ctr(self.layout.socket)

    def start(self) -> None:
        self._began = time.monotonic()
        bin_dir = ensure_tools()
        self._mark("tools")
        self._take_lock()
        try:
            kubelet_port, healthz_port = free_ports(2)
            at = self._layout = configs.Layout(
                workdir=self.workdir,
                bin=bin_dir,
                cni_bin=CNI_BIN,
                kubelet_port=kubelet_port,
                healthz_port=healthz_port,
                cgroup_root=f"/oozo-real-{uuid.uuid4().hex[:8]}",
            )
            host.check_subnet_free(configs.POD_SUBNET, configs.BRIDGE)
            configs.write_all(at, self.plane.pki / "ca.crt")
            identity = pki.node_identity(self.name)
            pki.issue_client_certificate(self.plane.pki, identity)
            pki.write_kubeconfig(at.kubeconfig, self.plane.pki, identity, self.plane.server)
            host.make_cgroup_root(at.cgroup_root)
            self._spawn("containerd", ["containerd", "--config", str(at.containerd_config)])
            self._wait("containerd", lambda: (at.socket.exists() and self._ctr_answers(), "no socket yet"))
            self._load_pause_image(bin_dir)
            self._spawn("kubelet", configs.kubelet_args(at, host.node_ip()))
            self._wait("kubelet", lambda: procs.http_ok(f"http://127.0.0.1:{at.healthz_port}/healthz"))
            self._wait("node Ready", self._node_ready)
        except BaseException:
            self.stop()
            raise

    def load_image(self, podman: str, image: str) -> bool:
        """Import podman's `image` (e.g. "oozo-server:dev"); False when it was already there."""
        scratch = self.workdir / "image-export"
        scratch.mkdir(exist_ok=True)
        began = time.monotonic()
        imported = import_from_podman(self.ctr, podman, image, scratch)
        if imported:
            self.timings[f"import {image}"] = round(time.monotonic() - began, 2)
        return imported

    def stop(self) -> None:
        """Deletes the node's pods and its Node, stops the kubelet, removes every container,
        stops containerd and its shims, unmounts and removes the node's folders, cgroups and
        bridge. Raises, listing them, if any of these is left."""
        if self._lock is None:
            return  # never started, or refused for another node's lock: nothing here is ours
        leftovers: list[str] = []
        if self._procs.get("kubelet") and self._procs["kubelet"].poll() is None:
            self._delete_pods()
        self._terminate("kubelet")
        if self._procs.get("containerd") and self._procs["containerd"].poll() is None:
            try:
                self.ctr.remove_every_container()
            except Exception as err:  # containerd may be the thing that failed
                leftovers.append(f"containers not removed: {err}")
        self._terminate("containerd")
        self._delete_node_object()
        # Shims outlive containerd by design; any left name the node's socket on their command line.
        for pid, _ in host.processes_naming(str(self.workdir)):
            procs.terminate([pid], str(self.workdir), grace=5)
        if self._layout is not None:
            at = self._layout
            leftovers += [f"mount {point}" for point in host.unmount_all(self.workdir)]
            host.remove_log_links(at.pod_logs)
            leftovers += [f"cgroup {cgroup}" for cgroup in host.remove_cgroup_root(at.cgroup_root)]
            try:
                host.delete_bridge(configs.BRIDGE)
            except host.HostError as err:
                leftovers.append(str(err))
            if not leftovers:
                for folder in (at.containerd_root, at.containerd_state, at.kubelet_root, at.ipam_dir):
                    shutil.rmtree(folder, ignore_errors=True)
        leftovers += [f"process {pid}: {cmd}" for pid, cmd in host.processes_naming(str(self.workdir))]
        self._release_lock()
        self._layout = None
        if leftovers:
            raise RealNodeError("the real node left behind:\n" + "\n".join(leftovers))

    # -- processes ------------------------------------------------------------------------------

    def _take_lock(self) -> None:
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        lock = LOCK.open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise RealNodeError(f"another real node runs on this host (it holds {LOCK})") from None
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _spawn(self, name: str, args: list[str]) -> None:
        # The node's folder goes on every command line (containerd's via --config), so stop()
        # and procs.terminate can tell its processes from any other containerd or kubelet.
        env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "CONTAINERD_ADDRESS")}
        self._procs[name] = procs.spawn(args, self.layout.logs / f"{name}.log", detached=False, env=env)

    def _terminate(self, name: str) -> None:
        proc = self._procs.pop(name, None)
        if proc is not None:

            def reap(_pid: int) -> None:
                proc.poll()

            procs.terminate([proc.pid], str(self.workdir), grace=15, reap=reap)
            proc.poll()

    def _mark(self, milestone: str) -> None:
        self.timings[milestone] = round(time.monotonic() - self._began, 2)

    def _wait(self, milestone: str, probe: Any, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise RealNodeError(
                        f"{name} exited with {proc.returncode} waiting for {milestone}; last log lines:\n"
                        f"{procs.tail(self.layout.logs / f'{name}.log')}"
                    )
            ok, last = probe()
            if ok:
                self._mark(milestone)
                return
            time.sleep(0.2)
        logs = "\n".join(f"--- {n}:\n{procs.tail(self.layout.logs / f'{n}.log', 20)}" for n in self._procs)
        raise RealNodeError(f"{milestone} not reached after {timeout:.0f}s ({last}); last log lines:\n{logs}")

    def _ctr_answers(self) -> bool:
        try:
            self.ctr.run("version", timeout=5)
        except Exception:
            return False
        return True

    def _load_pause_image(self, bin_dir: Path) -> None:
        if not self.ctr.labels(configs.PAUSE_IMAGE):
            self.ctr.import_archive(
                bin_dir / "pause.tar",
                configs.PAUSE_IMAGE,
                archive_name=f"localhost/oozo-realnode-pause:{bin_dir.parent.name}",
            )

    # -- the API side -----------------------------------------------------------------------------

    def _node_ready(self) -> tuple[bool, str]:
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        with self.plane.api_client() as api:
            try:
                node = client.CoreV1Api(api).read_node(self.name)
            except ApiException as err:
                return False, f"Node {self.name}: {err.reason}"
        conditions = node.status.conditions if node.status else None
        ready = {c.type: c for c in conditions or []}.get("Ready")
        if ready is None:
            return False, "no Ready condition yet"
        return ready.status == "True", f"Ready={ready.status} {ready.reason}: {ready.message}"

    def _delete_pods(self, timeout: float = 60) -> None:
        """Delete every pod bound to the node and wait for the kubelet to confirm each one, so
        that it stops their containers and tears down their networks itself."""
        from kubernetes import client

        selector = f"spec.nodeName={self.name}"
        with self.plane.api_client() as api:
            core = client.CoreV1Api(api)
            for pod in core.list_pod_for_all_namespaces(field_selector=selector).items:
                meta = pod.metadata
                assert meta is not None and meta.name and meta.namespace  # every stored pod has them
                core.delete_namespaced_pod(meta.name, meta.namespace, grace_period_seconds=5)
            deadline = time.monotonic() + timeout
            while core.list_pod_for_all_namespaces(field_selector=selector).items:
                if time.monotonic() > deadline:
                    break  # remove_every_container() takes what the kubelet did not
                time.sleep(0.5)

    def _delete_node_object(self) -> None:
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        try:
            with self.plane.api_client() as api:
                client.CoreV1Api(api).delete_node(self.name)
        except ApiException as err:
            if err.status != 404:
                raise
