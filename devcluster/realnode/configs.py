"""The real node's configuration files, as pure functions of where its state lives.

What each setting is for on these hosts (cgroup v1, no systemd, root, no registry):
- containerd's CRI `restrict_oom_score_adj`: this host refuses to lower oom_score_adj, and
  without it every sandbox fails with runc's "can't get final child's PID from pipe: EOF";
- the sandbox image is a locally built pause image (hack/realnode/build.sh), never pulled;
- netns mounts and host-local IP allocations live under the node's own state directory, so
  teardown finds everything it made in one place;
- the kubelet uses cgroupfs under its own cgroup root, does not fail on swap, reserves nothing,
  evicts nothing and collects no image (a shared test host's disk is not the kubelet's to clean).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

NODE_NAME = "oozo-real-0"
LABEL = "oozo.dev/real-kubelet"
TAINT = {"key": LABEL, "value": "true", "effect": "NoSchedule"}
# Put these on a pod spec to bind it to the real node (and only there).
NODE_SELECTOR = {LABEL: "true"}
TOLERATION = {"key": LABEL, "operator": "Equal", "value": "true", "effect": "NoSchedule"}

# The pod network: clear of podman's 10.88.0.0/16, the Service range 10.96.0.0/16 and kwok's
# 10.244.0.0/16; node.py refuses to start when the host already routes it.
POD_SUBNET = ipaddress.IPv4Network("10.217.0.0/24")
BRIDGE = "oozo-real0"  # Linux limits interface names to 15 characters
CNI_NETWORK = "oozo-real"
# Only `ctr` knows these images: the sandbox image containerd starts every pod with.
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"


@dataclass(frozen=True)
class Layout:
    """Where one real node keeps its state, and the ports its kubelet listens on."""

    workdir: Path
    bin: Path  # kubelet and pause.tar (hack/realnode/build.sh)
    cni_bin: Path
    kubelet_port: int
    healthz_port: int
    cgroup_root: str  # "/oozo-real-<id>": created and removed by host.py

    @property
    def socket(self) -> Path:
        return self.workdir / "containerd.sock"

    @property
    def containerd_root(self) -> Path:
        return self.workdir / "containerd-root"

    @property
    def containerd_state(self) -> Path:
        return self.workdir / "containerd-state"

    @property
    def cni_conf_dir(self) -> Path:
        return self.workdir / "cni"

    @property
    def ipam_dir(self) -> Path:
        return self.workdir / "ipam"

    @property
    def kubelet_root(self) -> Path:
        return self.workdir / "kubelet"

    @property
    def pod_logs(self) -> Path:
        return self.workdir / "pod-logs"

    @property
    def kubelet_config(self) -> Path:
        return self.workdir / "kubelet.yaml"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubelet.kubeconfig"

    @property
    def containerd_config(self) -> Path:
        return self.workdir / "containerd.toml"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"


def _toml_value(value: Any) -> str:
    # json's quoting is valid TOML for the strings, booleans and numbers written here
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def _toml(tables: dict[str, dict[str, Any]]) -> str:
    lines = []
    for table, keys in tables.items():
        if table:
            lines.append(f"\n[{table}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def containerd_config(at: Layout) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return _toml(
        {
            "": {
                "version": 2,
                "root": str(at.containerd_root),
                "state": str(at.containerd_state),
                # Plugins that would write outside the node's folders (/opt/containerd) or that
                # this host has no use for.
                "disabled_plugins": [
                    "io.containerd.internal.v1.opt",
                    "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.tracing.processor.v1.otlp",
                ],
            },
            "grpc": {"address": str(at.socket)},
            cri: {
                "restrict_oom_score_adj": True,
                "sandbox_image": PAUSE_IMAGE,
                "netns_mounts_under_state_dir": True,
                "disable_tcp_service": True,
                "stream_server_address": "127.0.0.1",
                "stream_server_port": "0",
                "tolerate_missing_hugetlb_controller": True,
                "disable_hugetlb_controller": True,
            },
            f"{cri}.cni": {"bin_dir": str(at.cni_bin), "conf_dir": str(at.cni_conf_dir), "max_conf_num": 1},
            f"{cri}.containerd": {"snapshotter": "overlayfs", "default_runtime_name": "runc"},
            f"{cri}.containerd.runtimes.runc": {"runtime_type": "io.containerd.runc.v2"},
            f"{cri}.containerd.runtimes.runc.options": {"SystemdCgroup": False},
        }
    )


def cni_conflist(at: Layout) -> dict[str, Any]:
    """A bridge on the host with the pods' gateway address, so the host (the kubelet's probes,
    the tests) reaches every pod IP directly; no masquerading, pods need no way out."""
    return {
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(at.ipam_dir),
                    "ranges": [[{"subnet": str(POD_SUBNET)}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "loopback"},
        ],
    }


def kubelet_config(at: Layout, client_ca: Path) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "containerRuntimeEndpoint": f"unix://{at.socket}",
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": at.cgroup_root,
        "cgroupsPerQOS": True,
        "failSwapOn": False,
        # Only holders of a certificate from the control plane's CA may call the kubelet's API.
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(client_ca)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "address": "127.0.0.1",
        "port": at.kubelet_port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": at.healthz_port,
        "podLogsDir": str(at.pod_logs),
        "registerWithTaints": [TAINT],
        "enforceNodeAllocatable": [],
        "localStorageCapacityIsolation": False,
        "evictionHard": {},
        "mergeDefaultEvictionSettings": False,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "resolvConf": "/etc/resolv.conf",
        # Frequent node status so Ready shows within seconds of the runtime being up.
        "nodeStatusUpdateFrequency": "2s",
        "syncFrequency": "5s",
    }


def kubelet_args(at: Layout, node_ip: str) -> list[str]:
    return [
        str(at.bin / "kubelet"),
        f"--config={at.kubelet_config}",
        f"--kubeconfig={at.kubeconfig}",
        f"--root-dir={at.kubelet_root}",
        f"--cert-dir={at.kubelet_root / 'pki'}",
        f"--hostname-override={NODE_NAME}",
        f"--node-ip={node_ip}",
        f"--node-labels={LABEL}=true",
        "--v=2",
    ]


def write_all(at: Layout, client_ca: Path) -> None:
    for folder in (at.workdir, at.cni_conf_dir, at.ipam_dir, at.kubelet_root, at.pod_logs, at.logs):
        folder.mkdir(parents=True, exist_ok=True)
    at.containerd_config.write_text(containerd_config(at))
    (at.cni_conf_dir / "10-oozo-real.conflist").write_text(json.dumps(cni_conflist(at), indent=2))
    at.kubelet_config.write_text(yaml.safe_dump(kubelet_config(at, client_ca), sort_keys=False))
