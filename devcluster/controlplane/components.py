"""Command lines of the control-plane components: pure functions of where things are.

Flags are chosen to match a kubeadm cluster where that matters to an operator (Node,RBAC
authorization, NodeRestriction, per-controller service accounts) and differ only where a test
suite needs it (short node-monitor grace period, higher controller-manager client rate limit,
etcd without fsync, no leader election for single instances).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KWOK_NODE_LABEL = ("type", "kwok")
KWOK_CONFIG_FILE = "kwok.yaml"
KWOK_CONFIG = "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions: {}\n"
KWOK_LEASE_SECONDS = 8  # kwok renews every quarter of this: 2s
# Short enough that a test can outlive it in seconds, long enough for heartbeats every 2s.
NODE_MONITOR_GRACE_SECONDS = 20


@dataclass(frozen=True)
class Ports:
    etcd: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int


@dataclass(frozen=True)
class Layout:
    """Where one control plane keeps its binaries and state, and the ports it listens on."""

    bin: Path
    workdir: Path
    ports: Ports

    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    def exe(self, name: str) -> str:
        return str(self.bin / name)


def etcd(at: Layout) -> list[str]:
    return [
        at.exe("etcd"),
        "--name=oozo",
        f"--data-dir={at.workdir / 'etcd'}",
        f"--listen-client-urls=http://127.0.0.1:{at.ports.etcd}",
        f"--advertise-client-urls=http://127.0.0.1:{at.ports.etcd}",
        f"--listen-peer-urls=http://127.0.0.1:{at.ports.etcd_peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{at.ports.etcd_peer}",
        f"--initial-cluster=oozo=http://127.0.0.1:{at.ports.etcd_peer}",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def audit_log(at: Layout) -> Path:
    return at.workdir / "logs" / "kube-apiserver-audit.log"


def kube_apiserver(at: Layout, audit_policy: Path | None = None) -> list[str]:
    """`audit_policy`: an audit.k8s.io Policy file; the apiserver then writes JSON lines to
    audit_log(at). Off by default, as in kubeadm."""
    p = at.pki
    audit = (
        [f"--audit-policy-file={audit_policy}", f"--audit-log-path={audit_log(at)}"] if audit_policy else []
    )
    return [
        at.exe("kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{at.ports.etcd}",
        "--bind-address=127.0.0.1",
        f"--secure-port={at.ports.apiserver}",
        "--advertise-address=127.0.0.1",
        f"--cert-dir={at.workdir / 'apiserver-certs'}",
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
        *audit,
    ]


def kube_controller_manager(at: Layout) -> list[str]:
    return [
        at.exe("kube-controller-manager"),
        f"--kubeconfig={at.workdir / 'kube-controller-manager.kubeconfig'}",
        "--bind-address=127.0.0.1",
        f"--secure-port={at.ports.controller_manager}",
        f"--cert-dir={at.workdir / 'kcm-certs'}",
        "--leader-elect=false",
        # Each controller fetches its own service-account token at start; the default client
        # rate limit (20 qps) alone would stretch start-up by seconds.
        "--kube-api-qps=200",
        "--kube-api-burst=400",
        "--controllers=*",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={at.pki / 'sa.key'}",
        f"--root-ca-file={at.pki / 'ca.crt'}",
        f"--node-monitor-grace-period={NODE_MONITOR_GRACE_SECONDS}s",
        "--node-monitor-period=2s",
        "--profiling=false",
    ]


def kube_scheduler(at: Layout) -> list[str]:
    return [
        at.exe("kube-scheduler"),
        f"--kubeconfig={at.workdir / 'kube-scheduler.kubeconfig'}",
        "--bind-address=127.0.0.1",
        f"--secure-port={at.ports.scheduler}",
        f"--cert-dir={at.workdir / 'scheduler-certs'}",
        "--leader-elect=false",
        "--profiling=false",
    ]


def kwok(at: Layout) -> list[str]:
    # An explicit (empty) config file, written by the caller, keeps a developer's
    # ~/.kwok/kwok.yaml out of the picture; with no Stage in it kwok uses its default stages.
    return [
        at.exe("kwok"),
        f"--config={at.workdir / KWOK_CONFIG_FILE}",
        f"--kubeconfig={at.workdir / 'kwok.kubeconfig'}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-label-selector={'='.join(KWOK_NODE_LABEL)}",
        f"--node-lease-duration-seconds={KWOK_LEASE_SECONDS}",
        "--cidr=10.244.0.1/16",
        "--node-ip=10.0.0.1",
        f"--server-address=127.0.0.1:{at.ports.kwok}",
    ]
