"""Child processes of the local control plane: start with a log file, probe, stop by pid.

Only pids this harness wrote down are ever signalled, and only after checking that the process
still has the state directory on its command line (so a recycled pid is never hit).
"""

from __future__ import annotations

import ctypes
import os
import signal
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the test process, children get SIGTERM if pytest itself is killed; `up` skips this."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    args: list[str], log: Path, *, detached: bool, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,  # a Ctrl-C in the terminal must not half-kill the plane
            preexec_fn=None if detached else _die_with_parent,
        )


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has already exited


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far, user + system (benchmarks account servers' work)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def owned(pid: int, marker: str) -> bool:
    """The pid is alive and still one of ours: its command line names our state directory."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return alive(pid) and marker in cmdline


def terminate(
    pids: list[int], marker: str, grace: float = 10.0, reap: Callable[[int], None] | None = None
) -> None:
    """SIGTERM each pid (in the order given), then SIGKILL whatever is left after `grace`."""
    ours = [pid for pid in pids if owned(pid, marker)]
    for pid in ours:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(pid) for pid in ours):
        if reap:
            for pid in ours:
                reap(pid)
        time.sleep(0.1)
    for pid in ours:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    for pid in ours:
        while alive(pid):
            if reap:
                reap(pid)
            time.sleep(0.05)


def http_ok(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, context=context, timeout=timeout) as resp:
            body = resp.read().decode(errors="replace")
            return resp.status == 200, body
    except Exception as err:
        return False, str(err)


def insecure_context() -> ssl.SSLContext:
    """For health probes of components that serve a self-signed certificate on loopback."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
