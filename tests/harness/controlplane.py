"""A real Kubernetes control plane on loopback, for tests and for `make cluster-up`.

etcd, kube-apiserver (Node,RBAC authorization), kube-controller-manager (every default
controller, each with its own service-account credentials), kube-scheduler and kwok run as local
processes built from source by hack/controlplane/build.sh. Two nodes:

- `kwok-node-0` (label type=kwok): kwok plays its kubelet, so pods scheduled there become
  Running/Ready and Job pods Succeeded, without running anything.
- `oozo-local-0` (label and NoSchedule taint oozo.dev/local-kubelet=true): kwok leaves it alone;
  a small heartbeat process (tests/harness/localnode.py) keeps it Ready. Pods that tolerate the
  taint and select it are bound there and nobody writes their status: tests (or the local
  kubelet runner) play the kubelet for them.

    plane = ControlPlane(tmpdir); plane.start(); ...; plane.stop()
    python -m tests.harness.controlplane up --dir .cluster      # detached, for humans
    python -m tests.harness.controlplane down --dir .cluster
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.harness import localnode, pki, procs

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "hack" / "controlplane" / "build.sh"

KWOK_NODE_NAME = "kwok-node-0"
KWOK_NODE_LABEL = ("type", "kwok")
LOCAL_NODE_NAME = localnode.NAME  # "oozo-local-0"
LOCAL_NODE_LABEL = (localnode.LABEL, "true")  # ("oozo.dev/local-kubelet", "true")
LOCAL_NODE_TAINT = dict(localnode.TAINT)  # oozo.dev/local-kubelet=true:NoSchedule
# Put these on a pod spec to bind it to the local node (and only there).
LOCAL_NODE_SELECTOR = {LOCAL_NODE_LABEL[0]: LOCAL_NODE_LABEL[1]}
LOCAL_NODE_TOLERATION = {"key": localnode.LABEL, "operator": "Equal", "value": "true", "effect": "NoSchedule"}

# Short enough that a test can outlive it in seconds, long enough for heartbeats every 2s.
NODE_MONITOR_GRACE_SECONDS = 20
KWOK_LEASE_SECONDS = 8  # kwok renews every quarter of this: 2s
START_TIMEOUT = 90.0

KWOK_IDENTITY = pki.Identity("kwok", "kwok-controller", "system:masters")
LOCAL_NODE_IDENTITY = pki.node_identity(LOCAL_NODE_NAME)


def build_binaries() -> Path:
    """Runs build.sh (a no-op once cached) and returns the bin directory; raises with its error."""
    run = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{BUILD} failed (exit {run.returncode}):\n{run.stderr}")
    return Path(run.stdout.strip().splitlines()[-1])


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class ControlPlane:
    """One control plane whose state (certs, etcd data, logs, kubeconfigs) lives in `workdir`."""

    def __init__(self, workdir: Path, *, detached: bool = False) -> None:
        self.workdir = Path(workdir).resolve()
        self.detached = detached  # children outlive this Python process (the `up` command)
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
        self.bin = build_binaries()
        self.workdir.mkdir(parents=True, exist_ok=True)
        etcd_port, peer_port, api_port, kcm_port, sched_port, kwok_port = _free_ports(6)
        self.server = f"https://127.0.0.1:{api_port}"
        try:
            self._make_credentials()
            self._mark("credentials")
            self._spawn("etcd", self._etcd_args(etcd_port, peer_port))
            self._wait("etcd", lambda: procs.http_ok(f"http://127.0.0.1:{etcd_port}/health"))
            self._spawn("kube-apiserver", self._apiserver_args(api_port, etcd_port))
            # These wait for the apiserver on their own, so their start-up overlaps with its.
            self._spawn("kube-controller-manager", self._controller_manager_args(kcm_port))
            self._spawn("kube-scheduler", self._scheduler_args(sched_port))
            heartbeat_kubeconfig = self.workdir / f"{LOCAL_NODE_IDENTITY.name}.kubeconfig"
            self._spawn(
                "local-node-heartbeat",
                [sys.executable, "-m", "tests.harness.localnode", "--kubeconfig", str(heartbeat_kubeconfig)],
            )
            self._wait("kube-apiserver", lambda: procs.http_ok(f"{self.server}/readyz", self._admin_tls()))
            self._register_kwok_node()
            self._spawn("kwok", self._kwok_args(kwok_port))
            insecure = procs.insecure_context()
            self._wait(
                "kube-controller-manager",
                lambda: procs.http_ok(f"https://127.0.0.1:{kcm_port}/healthz", insecure),
            )
            self._wait(
                "kube-scheduler", lambda: procs.http_ok(f"https://127.0.0.1:{sched_port}/healthz", insecure)
            )
            self._wait("kwok", lambda: procs.http_ok(f"http://127.0.0.1:{kwok_port}/healthz"))
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

    def _exe(self, name: str) -> str:
        assert self.bin is not None
        return str(self.bin / name)

    def _etcd_args(self, port: int, peer: int) -> list[str]:
        return [
            self._exe("etcd"),
            "--name=oozo",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{port}",
            f"--advertise-client-urls=http://127.0.0.1:{port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=oozo=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]

    def _apiserver_args(self, port: int, etcd_port: int) -> list[str]:
        p = self.pki
        return [
            self._exe("kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            "--advertise-address=127.0.0.1",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={p / 'apiserver.crt'}",
            f"--tls-private-key-file={p / 'apiserver.key'}",
            f"--client-ca-file={p / 'ca.crt'}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={p / 'sa.pub'}",
            f"--service-account-signing-key-file={p / 'sa.key'}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--allow-privileged=true",
            # No endpoint for the `kubernetes` Service: 127.0.0.1 is not a valid endpoint address
            # and nothing inside the cluster could reach it anyway.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
        ]

    def _controller_manager_args(self, port: int) -> list[str]:
        return [
            self._exe("kube-controller-manager"),
            f"--kubeconfig={self.workdir / 'kube-controller-manager.kubeconfig'}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'kcm-certs'}",
            "--leader-elect=false",
            # Each controller fetches its own service-account token at start; the default client
            # rate limit (20 qps) alone would stretch start-up by seconds.
            "--kube-api-qps=200",
            "--kube-api-burst=400",
            "--controllers=*",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={self.pki / 'sa.key'}",
            f"--root-ca-file={self.pki / 'ca.crt'}",
            f"--node-monitor-grace-period={NODE_MONITOR_GRACE_SECONDS}s",
            "--node-monitor-period=2s",
            "--profiling=false",
        ]

    def _scheduler_args(self, port: int) -> list[str]:
        return [
            self._exe("kube-scheduler"),
            f"--kubeconfig={self.workdir / 'kube-scheduler.kubeconfig'}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'scheduler-certs'}",
            "--leader-elect=false",
            "--profiling=false",
        ]

    def _kwok_args(self, port: int) -> list[str]:
        # An explicit (empty) config keeps a developer's ~/.kwok/kwok.yaml out of the picture;
        # with no Stage in it kwok uses its default node and pod stages.
        conf = self.workdir / "kwok.yaml"
        conf.write_text("apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions: {}\n")
        return [
            self._exe("kwok"),
            f"--config={conf}",
            f"--kubeconfig={self.workdir / 'kwok.kubeconfig'}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-label-selector={'='.join(KWOK_NODE_LABEL)}",
            f"--node-lease-duration-seconds={KWOK_LEASE_SECONDS}",
            "--cidr=10.244.0.1/16",
            "--node-ip=10.0.0.1",
            f"--server-address=127.0.0.1:{port}",
        ]

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

        node = {
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
            client.CoreV1Api(api).create_node(node)

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
        f"  stop: make cluster-down"
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
        prog="python -m tests.harness.controlplane", description=__doc__.split("\n")[0]
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
