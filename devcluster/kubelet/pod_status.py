"""How the local kubelet reports: container states, the pod phase, conditions and termination
messages, as a kubelet writes them. Pure, and unit tested (tests/devcluster/test_kubelet_status.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_TERMINATION_MESSAGE = 4096  # bytes, as the kubelet truncates it
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048


def termination_message(file_text: str, log_text: str, policy: str | None, exit_code: int) -> str:
    """The message the kubelet reports: the termination-message file, else (with
    FallbackToLogsOnError and a failure) the tail of the log."""
    raw = file_text.encode()[:MAX_TERMINATION_MESSAGE].decode(errors="ignore")
    if raw.strip() or policy != "FallbackToLogsOnError" or exit_code == 0:
        return raw
    tail = "\n".join(log_text.splitlines()[-FALLBACK_LOG_LINES:])
    return tail.encode()[-FALLBACK_LOG_BYTES:].decode(errors="ignore")


@dataclass
class ContainerState:
    name: str
    image: str
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"
    message: str = ""
    exit_code: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    last_terminated: dict | None = None
    pid: int | None = None
    runtime_id: str = ""  # containerID of the current run ("" for a host process: by pid)

    def terminated_dict(self) -> dict:
        out: dict[str, Any] = {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "containerID": self.container_id(),
        }
        if self.message:
            out["message"] = self.message
        return out

    def container_id(self) -> str:
        if self.runtime_id:
            return self.runtime_id
        return f"oozo-local://{self.pid}" if self.pid else ""

    def to_status(self) -> dict:
        """containerStatuses[] entry. Absent states are explicit nulls so a strategic-merge
        patch replaces `running` by `terminated` instead of keeping both."""
        state: dict[str, Any] = {"waiting": None, "running": None, "terminated": None}
        if self.state == "waiting":
            state["waiting"] = {"reason": self.reason, **({"message": self.message} if self.message else {})}
        elif self.state == "running":
            state["running"] = {"startedAt": self.started_at}
        else:
            state["terminated"] = self.terminated_dict()
        out = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": self.ready,
            "started": self.state == "running" and self.started,
            "restartCount": self.restart_count,
            "state": state,
            "lastState": {"terminated": self.last_terminated}
            if self.last_terminated
            else {"terminated": None},
        }
        if self.pid:
            out["containerID"] = self.container_id()
        return out


def restarts(restart_policy: str, init: bool, exit_code: int) -> bool:
    """Whether the kubelet starts a container again after it exited. An init container that
    succeeded is done whatever the policy; one that failed is retried unless Never."""
    if init:
        return exit_code != 0 and restart_policy != "Never"
    return restart_policy == "Always" or (restart_policy == "OnFailure" and exit_code != 0)


def pod_phase(restart_policy: str, init: list[ContainerState], main: list[ContainerState]) -> str:
    """The kubelet's phase rules, for the states this kubelet produces."""
    for c in init:
        if c.state == "terminated" and c.exit_code != 0 and restart_policy == "Never":
            return "Failed"
    if any(not (c.state == "terminated" and c.exit_code == 0) for c in init):
        return "Pending"
    if any(c.state == "running" for c in main):
        return "Running"
    if main and all(c.state == "terminated" for c in main):
        if restart_policy == "Always":
            return "Running"  # about to be restarted
        if all(c.exit_code == 0 for c in main):
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"  # OnFailure: the failed ones restart
    if any(c.restart_count > 0 for c in main):
        return "Running"
    return "Pending"


def _condition(kind: str, ok: bool, now: str, previous: dict[str, dict], reason: str = "") -> dict:
    status = "True" if ok else "False"
    before = previous.get(kind)
    since = before["lastTransitionTime"] if before and before.get("status") == status else now
    out = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": since}
    if not ok and reason:
        out["reason"] = reason
    return out


def pod_status(
    pod: dict,
    init: list[ContainerState],
    main: list[ContainerState],
    pod_ip: str,
    host_ip: str,
    start_time: str,
    now: str,
) -> dict:
    """The `status` a kubelet would write for this pod now."""
    restart_policy = pod["spec"].get("restartPolicy", "Always")
    phase = pod_phase(restart_policy, init, main)
    previous = {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}
    initialized = all(c.state == "terminated" and c.exit_code == 0 for c in init)
    running = [c for c in main if c.state == "running"]
    containers_ready = bool(main) and all(c.ready for c in main) and len(running) == len(main)
    done = phase in ("Succeeded", "Failed")
    not_ready_reason = "PodCompleted" if done else "ContainersNotReady"
    conditions = [
        _condition("PodReadyToStartContainers", True, now, previous),
        _condition("Initialized", initialized or done, now, previous, "ContainersNotInitialized"),
        _condition("ContainersReady", containers_ready, now, previous, not_ready_reason),
        _condition("Ready", containers_ready, now, previous, not_ready_reason),
    ]
    if "PodScheduled" in previous:
        conditions.insert(0, previous["PodScheduled"])
    status: dict[str, Any] = {
        "phase": phase,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": start_time,
        "qosClass": (pod.get("status") or {}).get("qosClass", "BestEffort"),
        "conditions": conditions,
        "containerStatuses": [c.to_status() for c in main],
    }
    if init:
        status["initContainerStatuses"] = [c.to_status() for c in init]
    return status
