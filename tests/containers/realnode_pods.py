"""What the real-node tests read of a pod (test_real_kubelet.py, test_e2e_real_node.py): its
readiness, where its start spent its time, and the kernel's view of its container's process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devcluster.realnode.node import RealNode


def is_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def milestones(pod: Any) -> str:
    """Seconds from the pod's creation to each condition and to its container's start, as the
    API server and the kubelet recorded them (whole seconds): where a start spends its time."""
    created = pod.metadata.creation_timestamp
    marks = {c.type: c.last_transition_time for c in pod.status.conditions or []}
    marks["container started"] = pod.status.container_statuses[0].state.running.started_at
    return ", ".join(f"{name} +{(at - created).total_seconds():.0f} s" for name, at in marks.items())


def container_pid(node: RealNode, container_id: str) -> int:
    """The host pid of a container's process, from containerd's own task list."""
    runtime, _, ident = container_id.partition("://")
    assert runtime == "containerd", container_id
    for line in node.ctr.run("tasks", "list").splitlines()[1:]:
        task, pid, *_ = line.split()
        if task == ident:
            return int(pid)
    raise AssertionError(f"containerd runs no task {ident}")


def kernel_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}
