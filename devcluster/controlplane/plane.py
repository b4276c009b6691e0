"""A real Kubernetes control plane on loopback, for tests and for `make cluster-up`.

etcd, kube-apiserver (Node,RBAC authorization), kube-controller-manager (every default
controller, each with its own service-account credentials), kube-scheduler and kwok run as local
processes built from source by hack/controlplane/build.sh. Two nodes:

- `kwok-node-0` (label type=kwok): kwok plays its kubelet, so pods scheduled there become
  Running/Ready and Job pods Succeeded, without running anything.
- `oozo-local-0` (label and NoSchedule taint oozo.dev/local-kubelet=true): kwok leaves it alone;
  a small heartbeat process (devcluster/controlplane/localnode.py) keeps it Ready. Pods that tolerate the
  taint and select it are bound there and nobody writes their status: tests (or the local
  kubelet runner) play the kubelet for them.

    plane = ControlPlane(tmpdir); plane.start(); ...; plane.stop()
    python -m devcluster.controlplane up --dir .cluster      # detached, for humans
    python -m devcluster.controlplane down --dir .cluster
"""

from __future__ import annotations

import argparse
import os
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from devcluster import REPO, procs
from devcluster.controlplane import components, localnode, pki
from devcluster.ports import free_ports

BUILD = REPO / "hack" / "controlplane" / "build.sh"

KWOK_NODE_NAME = "kwok-node-0"
KWOK_NODE_LABEL = components.KWOK_NODE_LABEL  # ("type", "kwok"): what kwok manages
LOCAL_NODE_NAME = localnode.NAME  # "oozo-local-0"
LOCAL_NODE_LABEL = (localnode.LABEL, "true")  # ("oozo.dev/local-kubelet", "true")
LOCAL_NODE_TAINT = dict(localnode.TAINT)  # oozo.dev/local-kubelet=true:NoSchedule
# Put these on a pod spec to bind it to the local node (and only there).
LOCAL_NODE_SELECTOR = {LOCAL_NODE_LABEL[0]: LOCAL_NODE_LABEL[1]}
LOCAL_NODE_TOLERATION = {"key": localnode.LABEL, "operator": "Equal", "value": "true", "effect": "NoSchedule"}
# spec.scheduling of a RagCorpus whose pods should land on the local node (and only there).
LOCAL_SCHEDULING = {"nodeSelector": LOCAL_NODE_SELECTOR, "tolerations": [LOCAL_NODE_TOLERATION]}

# The controller-manager gives up on a silent node after this many seconds.
NODE_MONITOR_GRACE_SECONDS = components.NODE_MONITOR_GRACE_SECONDS
START_TIMEOUT = 90.0

KWOK_IDENTITY = pki.Identity("kwok", "kwok-controller", "system:masters")
LOCAL_NODE_IDENTITY = pki.node_identity(LOCAL_NODE_NAME)


def build_binaries() -> Path:
    """Runs build.sh (a no-op once cached) and returns the bin directory; raises with its error."""
    run = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{BUILD} failed (exit {run.returncode}):\n{run.stderr}")
    return Path(run.stdout.strip().splitlines()[-1])


class ControlPlane:
    """One control plane whose state (certs, etcd data, logs, kubeconfigs) lives in `workdir`."""

    def __init__(self, workdir: Path, *, detached: bool = False, audit_policy: Path | None = None) -> None:
        self.workdir = Path(workdir).resolve()
        self.detached = detached  # children outlive this Python process (the `up` command)
        # An audit.k8s.io Policy file: the apiserver then logs what it selects to `audit_log`.
        self.audit_policy = Path(audit_policy).resolve() if audit_policy else None
        self.audit_log: Path | None = None
        self.kubeconfig = self.workdir / "kubeconfig"  # admin, in system:masters
        self.pki = self.workdir / "pki"
        self.logs = self.workdir / "logs"
        self.pids_file = self.workdir / "pids"
        self.server = ""
        self.bin: Path | None = None
        self.startup_seconds = 0.0
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._began = 0.0
        self.timings: dict[str, float] = {}  # seconds from start() to each milestone

    # -- public ---------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def api_client(self) -> Any:
        """A kubernetes.client.ApiClient authenticated as the admin."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def start(self) -> None:
        self._began = began = time.monotonic()
        self.bin = bin_dir = build_binaries()
        self.workdir.mkdir(parents=True, exist_ok=True)
        ports = components.Ports(*free_ports(6))
        at = components.Layout(bin_dir, self.workdir, ports)
        self.server = f"https://127.0.0.1:{ports.apiserver}"
        insecure = procs.insecure_context()  # the components' self-signed serving certificates
        try:
            self._make_credentials()
            (self.workdir / components.KWOK_CONFIG_FILE).write_text(components.KWOK_CONFIG)
            self._mark("credentials")
            self._spawn("etcd", components.etcd(at))
            self._wait("etcd", lambda: procs.http_ok(f"http://127.0.0.1:{ports.etcd}/health"))
            self._spawn("kube-apiserver", components.kube_apiserver(at, self.audit_policy))
            self.audit_log = components.audit_log(at) if self.audit_policy else None
            # These wait for the apiserver on their own, so their start-up overlaps with its.
            self._spawn("kube-controller-manager", components.kube_controller_manager(at))
            self._spawn("kube-scheduler", components.kube_scheduler(at))
            heartbeat_kubeconfig = self.workdir / f"{LOCAL_NODE_IDENTITY.name}.kubeconfig"
            self._spawn(
                "local-node-heartbeat",
                [
                    sys.executable,
                    "-m",
                    "devcluster.controlplane.localnode",
                    "--kubeconfig",
                    str(heartbeat_kubeconfig),
                ],
            )
            self._wait("kube-apiserver", lambda: procs.http_ok(f"{self.server}/readyz", self._admin_tls()))
            # kwok gives up if the apiserver is not there within seconds: start it once it is.
            self._register_kwok_node()
            self._spawn("kwok", components.kwok(at))
            for name, port in [("kube-controller-manager", ports.controller_manager),
                               ("kube-scheduler", ports.scheduler)]:  # fmt: skip
                self._wait(
                    name, lambda port=port: procs.http_ok(f"https://127.0.0.1:{port}/healthz", insecure)
                )
            self._wait("kwok", lambda: procs.http_ok(f"http://127.0.0.1:{ports.kwok}/healthz"))
            self._wait_cluster_usable()
            self._mark("nodes Ready")
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Stops exactly the processes this plane started, newest first; leaves no process behind."""
        pids = [pid for _, pid in reversed(self.recorded_pids())]

        def reap(pid: int) -> None:
            for proc in self._procs.values():
                if proc.pid == pid:
                    proc.poll()

        procs.terminate(pids, str(self.workdir), reap=reap)
        self._procs.clear()
        self.pids_file.unlink(missing_ok=True)

    def recorded_pids(self) -> list[tuple[str, int]]:
        if not self.pids_file.exists():
            return []
        rows = [line.split() for line in self.pids_file.read_text().splitlines() if line.strip()]
        return [(name, int(pid)) for name, pid in rows]

    def running(self) -> bool:
        return any(procs.owned(pid, str(self.workdir)) for _, pid in self.recorded_pids())

    # -- credentials and arguments ------------------------------------------------------------

    def _make_credentials(self) -> None:
        idents = [pki.ADMIN, pki.CONTROLLER_MANAGER, pki.SCHEDULER, KWOK_IDENTITY, LOCAL_NODE_IDENTITY]
        pki.make_pki(self.pki, idents)
        pki.write_kubeconfig(self.kubeconfig, self.pki, pki.ADMIN, self.server)
        for ident in idents[1:]:
            pki.write_kubeconfig(self.workdir / f"{ident.name}.kubeconfig", self.pki, ident, self.server)

    def _admin_tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return ctx

    # -- processes, readiness, nodes ----------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("KUBECONFIG", None)
        proc = procs.spawn(args, self.logs / f"{name}.log", detached=self.detached, cwd=REPO, env=env)
        self._procs[name] = proc
        with self.pids_file.open("a") as out:
            out.write(f"{name} {proc.pid}\n")

    def _mark(self, milestone: str) -> None:
        self.timings[milestone] = round(time.monotonic() - self._began, 2)

    def _wait(self, name: str, probe: Any, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            proc = self._procs[name]
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode}; last log lines:\n"
                    f"{procs.tail(self.logs / f'{name}.log')}"
                )
            ok, last = probe()
            if ok:
                self._mark(name)
                return
            time.sleep(0.1)
        raise TimeoutError(
            f"{name} not healthy after {timeout}s ({last}); last log lines:\n"
            f"{procs.tail(self.logs / f'{name}.log')}"
        )

    def _register_kwok_node(self) -> None:
        from kubernetes import client

        node: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": KWOK_NODE_NAME,
                "labels": {
                    KWOK_NODE_LABEL[0]: KWOK_NODE_LABEL[1],
                    "kubernetes.io/hostname": KWOK_NODE_NAME,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
                "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
            },
        }
        with self.api_client() as api:
            client.CoreV1Api(api).create_node(node)  # type: ignore[arg-type]  # dicts are accepted

    def _wait_cluster_usable(self, timeout: float = START_TIMEOUT) -> None:
        """Both nodes Ready and schedulable, and the service-account controller at work."""
        from kubernetes import client

        deadline = time.monotonic() + timeout
        with self.api_client() as api:
            core = client.CoreV1Api(api)
            while True:
                waiting = self._not_usable(core)
                if os.environ.get("OOZO_CP_DEBUG"):
                    print(round(time.monotonic() - self._began, 2), waiting or "usable", file=sys.stderr)
                if not waiting:
                    return
                for name, proc in self._procs.items():
                    if proc.poll() is not None:
                        raise RuntimeError(
                            f"{name} exited with {proc.returncode}; last log lines:\n"
                            f"{procs.tail(self.logs / f'{name}.log')}"
                        )
                if time.monotonic() > deadline:
                    raise TimeoutError(f"control plane not usable after {timeout}s: {waiting}")
                time.sleep(0.2)

    @staticmethod
    def _not_usable(core: Any) -> str:
        nodes = {n.metadata.name: n for n in core.list_node().items}
        for name in (KWOK_NODE_NAME, LOCAL_NODE_NAME):
            node = nodes.get(name)
            if node is None:
                return f"node {name} not registered"
            ready = [c for c in (node.status.conditions or []) if c.type == "Ready"]
            if not ready or ready[0].status != "True":
                return f"node {name} not Ready"
            if any(t.key.startswith("node.kubernetes.io/") for t in node.spec.taints or []):
                return f"node {name} still tainted by the node lifecycle controller"
        if not core.list_namespaced_service_account("default").items:
            return "no default service account yet"
        return ""


# -- CLI ----------------------------------------------------------------------------------------


def _up(workdir: Path) -> int:
    plane = ControlPlane(workdir, detached=True)
    if plane.running():
        print(f"already up: export KUBECONFIG={plane.kubeconfig}")
        return 0
    if workdir.exists():
        _remove_state(workdir)
    plane.start()
    print(f"timings (s): {plane.timings}")
    print(
        f"control plane up in {plane.startup_seconds:.1f}s at {plane.server}\n"
        f"  export KUBECONFIG={plane.kubeconfig}\n"
        f"  kubectl get nodes   # {KWOK_NODE_NAME} (kwok) and {LOCAL_NODE_NAME} (local heartbeat)\n"
        f"  logs: {plane.logs}/\n"
        f"  stop: python -m devcluster.controlplane down --dir {workdir}   (make cluster-down)"
    )
    return 0


def _down(workdir: Path) -> int:
    plane = ControlPlane(workdir, detached=True)
    plane.stop()
    if workdir.exists():
        _remove_state(workdir)
    print(f"control plane in {workdir} stopped")
    return 0


def _remove_state(workdir: Path) -> None:
    # Refuse to delete a directory that does not look like ours.
    if not ((workdir / "pki").is_dir() or (workdir / "kubeconfig").exists() or not any(workdir.iterdir())):
        raise SystemExit(f"{workdir} does not look like a control-plane directory; not removing it")
    shutil.rmtree(workdir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devcluster.controlplane", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument(
        "--dir", type=Path, default=Path(".cluster"), help="state directory (default .cluster)"
    )
    args = parser.parse_args(argv)
    workdir = args.dir.resolve()
    return _up(workdir) if args.command == "up" else _down(workdir)


if __name__ == "__main__":
    sys.exit(main())
