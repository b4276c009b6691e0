"""What the local kubelet reports: phases, container states, conditions, termination messages;
and the pure halves of the PV provisioner and Service resolution."""

from __future__ import annotations

from typing import Any

import pytest

from devcluster.kubelet.pod_status import (
    FALLBACK_LOG_BYTES,
    ContainerState,
    pod_phase,
    pod_status,
    restarts,
    termination_message,
)
from devcluster.kubelet.services import endpoint_urls
from devcluster.provisioner import pv_for_claim, wants_volume

NOW = "2026-01-01T00:00:10Z"


def state(name: str = "c", **fields: Any) -> ContainerState:
    return ContainerState(name=name, image="oozo-runtime:dev", **fields)


def running(ready: bool = True, **fields: Any) -> ContainerState:
    return state(state="running", reason="", started_at=NOW, ready=ready, started=True, pid=42, **fields)


def exited(code: int, **fields: Any) -> ContainerState:
    return state(
        state="terminated",
        reason="Completed" if code == 0 else "Error",
        exit_code=code,
        started_at=NOW,
        finished_at=NOW,
        pid=42,
        **fields,
    )


@pytest.mark.parametrize(
    ("policy", "init", "main", "phase"),
    [
        ("Never", [], [state()], "Pending"),
        ("Never", [], [running()], "Running"),
        ("Never", [], [exited(0)], "Succeeded"),
        ("Never", [], [exited(1)], "Failed"),
        ("OnFailure", [], [exited(1)], "Running"),
        ("Always", [], [state(reason="CrashLoopBackOff", restart_count=2)], "Running"),
        ("Always", [running()], [state()], "Pending"),
        ("Never", [exited(3)], [state()], "Failed"),
        ("Always", [exited(0)], [running()], "Running"),
    ],
)
def test_phase(policy: str, init: list, main: list, phase: str) -> None:
    assert pod_phase(policy, init, main) == phase


@pytest.mark.parametrize(
    ("policy", "init", "code", "again"),
    [
        ("Always", False, 0, True),
        ("Always", False, 1, True),
        ("OnFailure", False, 0, False),
        ("OnFailure", False, 2, True),
        ("Never", False, 2, False),
        ("Always", True, 0, False),  # a finished init container is done
        ("Always", True, 1, True),
        ("OnFailure", True, 1, True),
        ("Never", True, 1, False),
    ],
)
def test_restart_policy(policy: str, init: bool, code: int, again: bool) -> None:
    assert restarts(policy, init, code) is again


def pod(policy: str = "Always", conditions: list | None = None) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {"restartPolicy": policy, "containers": [{"name": "c"}]},
        "status": {
            "conditions": conditions
            or [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]
        },
    }


def test_ready_pod_status_has_ips_conditions_and_a_running_container() -> None:
    status = pod_status(pod(), [], [running()], "10.233.0.2", "127.0.0.1", NOW, NOW)
    assert status["phase"] == "Running"
    assert status["podIP"] == "10.233.0.2" and status["podIPs"] == [{"ip": "10.233.0.2"}]
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {
        "PodScheduled": "True",
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    (cs,) = status["containerStatuses"]
    assert (
        cs["ready"]
        and cs["started"]
        and cs["state"] == {"waiting": None, "running": {"startedAt": NOW}, "terminated": None}
    )
    assert cs["containerID"] == "oozo-local://42"


def test_not_ready_until_the_readiness_probe_passes_and_transition_times_are_kept() -> None:
    first = pod_status(pod(), [], [running(ready=False)], "10.233.0.2", "127.0.0.1", NOW, NOW)
    ready = {c["type"]: c for c in first["conditions"]}["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
    later = "2026-01-01T00:01:00Z"
    again = pod_status(pod(conditions=first["conditions"]), [], [running(ready=False)], "x", "y", NOW, later)
    assert {c["type"]: c for c in again["conditions"]}["Ready"]["lastTransitionTime"] == NOW
    flipped = pod_status(pod(conditions=first["conditions"]), [], [running()], "x", "y", NOW, later)
    assert {c["type"]: c for c in flipped["conditions"]}["Ready"]["lastTransitionTime"] == later


def test_finished_job_pod_reports_exit_code_and_termination_message() -> None:
    done = exited(0, message='{"version": "v1"}')
    status = pod_status(pod("Never"), [], [done], "10.233.0.3", "127.0.0.1", NOW, NOW)
    assert status["phase"] == "Succeeded"
    term = status["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed" and term["message"] == '{"version": "v1"}'
    assert status["containerStatuses"][0]["state"]["running"] is None  # replaces, not merges
    assert {c["type"]: c.get("reason") for c in status["conditions"]}["Ready"] == "PodCompleted"


def test_restarted_container_keeps_its_last_state() -> None:
    crashed = state(reason="CrashLoopBackOff", restart_count=1, last_terminated=exited(1).terminated_dict())
    cs = crashed.to_status()
    assert cs["restartCount"] == 1 and cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 1


@pytest.mark.parametrize(
    ("file_text", "log", "policy", "code", "message"),
    [
        ('{"ok": 1}', "noise", "FallbackToLogsOnError", 0, '{"ok": 1}'),
        ("", "line1\nTraceback: boom", "FallbackToLogsOnError", 1, "line1\nTraceback: boom"),
        ("", "boom", "FallbackToLogsOnError", 0, ""),
        ("", "boom", "File", 1, ""),
        ("x" * 5000, "", "File", 0, "x" * 4096),
    ],
)
def test_termination_message(file_text: str, log: str, policy: str, code: int, message: str) -> None:
    assert termination_message(file_text, log, policy, code) == message


def test_fallback_log_tail_is_bounded() -> None:
    log = "\n".join(f"line {i} " + "y" * 50 for i in range(500))
    message = termination_message("", log, "FallbackToLogsOnError", 2)
    assert len(message.encode()) <= FALLBACK_LOG_BYTES and message.endswith("line 499 " + "y" * 50)


def claim(**spec: object) -> dict:
    return {
        "metadata": {"name": "handbook-index", "namespace": "docs", "uid": "0123456789ab"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}, **spec},
        "status": {"phase": "Pending"},
    }


def test_pv_matches_and_reserves_the_claim(tmp_path: object) -> None:
    pv = pv_for_claim(claim(storageClassName="standard"), tmp_path)  # type: ignore[arg-type]
    spec = pv["spec"]
    assert pv["metadata"]["name"] == "pvc-0123456789ab"
    assert spec["capacity"] == {"storage": "2Gi"} and spec["accessModes"] == ["ReadWriteOnce"]
    assert spec["storageClassName"] == "standard"
    assert spec["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "docs",
        "name": "handbook-index",
        "uid": "0123456789ab",
    }
    assert spec["hostPath"]["path"].startswith(str(tmp_path))
    assert pv_for_claim(claim(), tmp_path)["spec"]["storageClassName"] == ""  # type: ignore[arg-type]


def test_only_unbound_filesystem_claims_get_a_volume() -> None:
    assert wants_volume(claim())
    assert not wants_volume(claim(volumeName="pv-1"))
    assert not wants_volume(claim(volumeMode="Block"))
    assert not wants_volume({**claim(), "status": {"phase": "Bound"}})


def test_service_resolution_uses_ready_endpoints_of_the_named_port() -> None:
    service = {
        "metadata": {"name": "handbook", "namespace": "docs"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    slices = [
        {
            "ports": [{"name": "http", "port": 8000}],
            "endpoints": [
                {"addresses": ["10.233.0.2"], "conditions": {"ready": True}},
                {"addresses": ["10.233.0.3"], "conditions": {"ready": False, "terminating": True}},
                {"addresses": ["10.233.0.4"], "conditions": {}},
            ],
        },
        {"ports": [{"name": "metrics", "port": 9090}], "endpoints": [{"addresses": ["10.233.0.9"]}]},
    ]
    assert endpoint_urls(service, slices, 80) == ["http://127.0.0.2:8000", "http://127.0.0.4:8000"]
    with pytest.raises(LookupError):
        endpoint_urls(service, slices, 443)
