"""The real node's configuration files and image names, its pure rules: containerd's config is
TOML with the settings this host needs and keeps all state under the node's folder, the CNI
network cannot clash with the cluster's other ranges, the kubelet is tainted and authenticates
its callers, and images get the name the kubelet looks them up by."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path

import pytest

from devcluster.realnode import configs
from devcluster.realnode.host import HostError, check_subnet_free
from devcluster.realnode.images import kubelet_reference


def layout(tmp_path: Path) -> configs.Layout:
    return configs.Layout(tmp_path, tmp_path / "bin", Path("/usr/lib/cni"), 20001, 20002, "/oozo-real-x")


def test_containerd_config_keeps_its_state_in_the_node_folder_with_the_settings_this_host_needs(
    tmp_path: Path,
) -> None:
    at = layout(tmp_path)
    parsed = tomllib.loads(configs.containerd_config(at))
    assert parsed["version"] == 2
    assert (parsed["root"], parsed["state"]) == (str(at.containerd_root), str(at.containerd_state))
    assert parsed["grpc"]["address"] == str(at.socket)
    assert "io.containerd.internal.v1.opt" in parsed["disabled_plugins"]  # it would write /opt
    cri = parsed["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True  # else runc: "can't get final child's PID from pipe"
    assert cri["sandbox_image"] == configs.PAUSE_IMAGE
    assert cri["netns_mounts_under_state_dir"] is True
    assert cri["cni"]["conf_dir"] == str(at.cni_conf_dir)
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False


def test_the_pod_network_is_a_host_bridge_clear_of_the_clusters_other_ranges(tmp_path: Path) -> None:
    at = layout(tmp_path)
    bridge, loopback = configs.cni_conflist(at)["plugins"]
    assert (bridge["type"], bridge["bridge"], bridge["isGateway"], loopback["type"]) == (
        "bridge",
        configs.BRIDGE,
        True,
        "loopback",
    )
    assert len(configs.BRIDGE) <= 15  # IFNAMSIZ
    assert bridge["ipam"]["dataDir"] == str(at.ipam_dir)
    for taken in ("10.88.0.0/16", "10.96.0.0/16", "10.244.0.0/16"):  # podman, Services, kwok
        assert not configs.POD_SUBNET.overlaps(ipaddress.IPv4Network(taken))


def test_a_pod_subnet_the_host_already_routes_is_refused() -> None:
    routes = [
        {"dst": "default", "dev": "eth0"},
        {"dst": "10.88.0.0/16", "dev": "cni-podman0"},
        {"dst": "10.217.0.0/24", "dev": configs.BRIDGE},  # the node's own bridge, from a start before
    ]
    check_subnet_free(configs.POD_SUBNET, configs.BRIDGE, routes)
    with pytest.raises(HostError, match=r"overlaps the host's route 10\.217\.0\.0/16 via eth1"):
        check_subnet_free(
            configs.POD_SUBNET, configs.BRIDGE, [*routes, {"dst": "10.217.0.0/16", "dev": "eth1"}]
        )


def test_the_kubelet_is_tainted_authenticates_by_client_certificate_and_writes_logs_in_its_folder(
    tmp_path: Path,
) -> None:
    at = layout(tmp_path)
    config = configs.kubelet_config(at, tmp_path / "ca.crt")
    assert config["registerWithTaints"] == [configs.TAINT]
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authentication"]["x509"]["clientCAFile"] == str(tmp_path / "ca.crt")
    assert (config["cgroupDriver"], config["cgroupRoot"], config["failSwapOn"]) == (
        "cgroupfs",
        "/oozo-real-x",
        False,
    )
    assert config["podLogsDir"] == str(at.pod_logs)
    args = configs.kubelet_args(at, "192.0.2.2")
    assert f"--root-dir={at.kubelet_root}" in args and f"--hostname-override={configs.NODE_NAME}" in args
    assert f"--node-labels={configs.LABEL}=true" in args


def test_an_image_is_named_as_the_kubelet_looks_it_up() -> None:
    assert kubelet_reference("oozo-server:dev") == "docker.io/library/oozo-server:dev"
    assert kubelet_reference("localhost/oozo-server:dev") == "localhost/oozo-server:dev"
    assert kubelet_reference("ghcr.io/oozo-dev/oozo-runtime:0.1.0") == "ghcr.io/oozo-dev/oozo-runtime:0.1.0"
    assert kubelet_reference("registry.k8s.io/pause") == "registry.k8s.io/pause:latest"
    assert kubelet_reference("library/busybox") == "docker.io/library/busybox:latest"
