"""Probes (readiness, liveness, startup) of the local kubelet's containers: where a probe
points (pure), its timing and counts, and running it."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field

import httpx

from devcluster.kubelet.launch import ConfigError, PathTable, rewrite_path


@dataclass
class ProbeTarget:
    kind: str  # http | tcp | exec
    url: str = ""
    host: str = ""
    port: int = 0
    argv: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def _port(container: dict, port: int | str) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ConfigError(f"named port {port!r} not found in container {container['name']!r}")


def probe_target(probe: dict, container: dict, local_ip: str, table: PathTable) -> ProbeTarget:
    if "httpGet" in probe:
        get = probe["httpGet"]
        host = get.get("host") or local_ip
        path = get.get("path", "/")
        scheme = get.get("scheme", "HTTP").lower()
        headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
        url = (
            f"{scheme}://{host}:{_port(container, get['port'])}{path if path.startswith('/') else '/' + path}"
        )
        return ProbeTarget("http", url=url, headers=headers)
    if "tcpSocket" in probe:
        sock = probe["tcpSocket"]
        return ProbeTarget("tcp", host=sock.get("host") or local_ip, port=_port(container, sock["port"]))
    if "exec" in probe:
        return ProbeTarget("exec", argv=[rewrite_path(a, table) for a in probe["exec"]["command"]])
    raise ConfigError(f"unsupported probe {sorted(probe)}")


def probe_timing(probe: dict) -> dict[str, float]:
    return {
        "initial": float(probe.get("initialDelaySeconds", 0)),
        "period": float(probe.get("periodSeconds", 10)),
        "timeout": float(probe.get("timeoutSeconds", 1)),
        "success": float(probe.get("successThreshold", 1)),
        "failure": float(probe.get("failureThreshold", 3)),
    }


class Probe:
    """One probe of one running container: where it points, its timing, when it runs next and
    its current run of successes or failures."""

    def __init__(self, spec: dict, target: ProbeTarget) -> None:
        self.t = probe_timing(spec)
        self.target = target
        self.next_at = 0.0
        self.successes = 0
        self.failures = 0

    def schedule(self, started: float) -> None:
        self.next_at = started + self.t["initial"]
        self.successes = self.failures = 0

    def run(self) -> bool:
        """Probe once now (any error is a failure), count the outcome, schedule the next one."""
        self.next_at = time.monotonic() + self.t["period"]
        target = self.target
        try:
            if target.kind == "http":
                resp = httpx.get(
                    target.url, headers=target.headers, timeout=self.t["timeout"], trust_env=False
                )
                ok = 200 <= resp.status_code < 400
            elif target.kind == "tcp":
                with socket.create_connection((target.host, target.port), timeout=self.t["timeout"]):
                    ok = True
            else:
                ok = (
                    subprocess.run(target.argv, timeout=self.t["timeout"], capture_output=True).returncode
                    == 0
                )
        except Exception:
            ok = False
        if ok:
            self.successes += 1
            self.failures = 0
        else:
            self.failures += 1
            self.successes = 0
        return ok


def run_pre_stop(container: dict, table: PathTable, local_ip: str, deadline: float) -> None:
    """The container's preStop hook (sleep, exec or httpGet), cut short at `deadline`
    (time.monotonic()); raises what the hook raised."""
    hook = ((container.get("lifecycle") or {}).get("preStop")) or {}
    if "sleep" in hook:
        time.sleep(max(0.0, min(float(hook["sleep"]["seconds"]), deadline - time.monotonic())))
    elif "exec" in hook:
        argv = [rewrite_path(a, table) for a in hook["exec"]["command"]]
        subprocess.run(argv, timeout=max(0.1, deadline - time.monotonic()), capture_output=True)
    elif "httpGet" in hook:
        target = probe_target(hook, container, local_ip, [])
        httpx.get(target.url, timeout=max(0.1, deadline - time.monotonic()), trust_env=False)
