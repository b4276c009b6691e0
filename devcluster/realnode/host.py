"""What the real node changes on the host outside its own folder, made and unmade here: its
cgroup root, the pod bridge, the kubelet's /var/log/containers links; and the leftovers a stopped
node is checked for (mounts under its folder, processes naming it)."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from pathlib import Path

CGROUP_V1 = Path("/sys/fs/cgroup")
CONTAINER_LOG_LINKS = Path("/var/log/containers")  # fixed in the kubelet, not configurable


class HostError(RuntimeError):
    """The host cannot run the real node; the message says why."""


def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise HostError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def node_ip() -> str:
    """The address the host would send from: the node's InternalIP (the kubelet refuses loopback)."""
    routes = json.loads(_ip("-j", "route", "get", "192.0.2.255"))
    if not routes or "prefsrc" not in routes[0]:
        raise HostError("no route to pick the node's IP from (`ip route get` names no source)")
    return str(routes[0]["prefsrc"])


def check_subnet_free(
    subnet: ipaddress.IPv4Network, bridge: str, routes: list[dict[str, str]] | None = None
) -> None:
    """Refuse a pod subnet the host already routes through another interface. `routes`: as
    `ip -j -4 route show` prints them (read from the host when not given)."""
    for route in json.loads(_ip("-j", "-4", "route", "show")) if routes is None else routes:
        dst = route.get("dst", "")
        if dst in ("default", "") or route.get("dev") == bridge:
            continue
        if ipaddress.ip_network(dst, strict=False).overlaps(subnet):
            raise HostError(f"pod subnet {subnet} overlaps the host's route {dst} via {route.get('dev')}")


def delete_bridge(bridge: str) -> None:
    if Path(f"/sys/class/net/{bridge}").exists():
        _ip("link", "delete", bridge)


def cgroup_hierarchies() -> list[Path]:
    """The mounted cgroup v1 hierarchies (cpu, memory, pids, name=systemd, ...)."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split()[0] == "cgroup":
            found.append(Path(left.split()[4]))
    if not found:
        raise HostError("no cgroup v1 hierarchy is mounted: the real node is set up for cgroup v1 hosts")
    return found


def make_cgroup_root(name: str) -> None:
    """The kubelet wants its cgroup root to exist in every hierarchy; cpuset children start with
    no CPUs and no memory nodes, so they get their parent's."""
    for hierarchy in cgroup_hierarchies():
        folder = hierarchy / name.strip("/")
        folder.mkdir(exist_ok=True)
        for key in ("cpuset.cpus", "cpuset.mems"):
            if (hierarchy / key).exists():
                (folder / key).write_text((hierarchy / key).read_text())


def remove_cgroup_root(name: str) -> list[str]:
    """rmdir the root and everything the kubelet made under it, deepest first; what would not go
    (a process still in it) is returned."""
    stuck = []
    for hierarchy in cgroup_hierarchies():
        root = hierarchy / name.strip("/")
        if not root.is_dir():
            continue
        folders = sorted((p for p, _, _ in os.walk(root)), key=lambda p: p.count("/"), reverse=True)
        for folder in folders:
            try:
                os.rmdir(folder)
            except OSError as err:
                stuck.append(f"{folder}: {err.strerror}")
    return stuck


def mounts_under(folder: Path) -> list[str]:
    """Mount points at or below `folder`, deepest first (mountinfo escapes spaces as \\040)."""
    prefix = str(folder.resolve())
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def unmount_all(folder: Path) -> list[str]:
    """Unmount everything below `folder`; a busy mount is detached lazily. Returns what is left."""
    for _ in range(3):  # a bind mount of the kubelet's root may sit on top of mounts inside it
        for point in mounts_under(folder):
            if subprocess.run(["umount", point], capture_output=True, check=False).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        if not mounts_under(folder):
            return []
    return mounts_under(folder)


def remove_log_links(pod_logs: Path) -> None:
    """The kubelet links each container's log into /var/log/containers; drop the links into ours."""
    if not CONTAINER_LOG_LINKS.is_dir():
        return
    prefix = str(pod_logs.resolve()) + "/"
    for link in CONTAINER_LOG_LINKS.iterdir():
        if link.is_symlink() and os.readlink(link).startswith(prefix):
            link.unlink()


def processes_naming(marker: str) -> list[tuple[int, str]]:
    """Live processes whose command line names `marker` (the node's folder): containerd, the
    kubelet, and each containerd-shim (its -address is the node's socket)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append((int(entry.name), cmdline.strip()))
    return found
