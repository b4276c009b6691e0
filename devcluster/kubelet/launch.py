"""The pure half of the local kubelet: how a pod spec becomes local processes, and how their
state becomes pod status. No I/O here beyond what the caller hands in, so every rule is unit
tested (tests/devcluster/test_kubelet_*.py).

What "a container" is locally:
- its filesystem is the host's, with each volumeMount's mountPath mapped to a folder; any env
  value or argument naming a path under a mountPath (or the termination-message path) is
  rewritten to the local folder. Paths the image itself provides (see IMAGES) map to a
  per-pod "rootfs" folder.
- its network namespace is one loopback address (127.0.0.N) per pod: the pod IP. OOZO_HOST is
  set to it, and a literal 0.0.0.0 argument becomes it, so replicas listen on the same port.
"""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TERMINATION_LOG = "/dev/termination-log"
MAX_TERMINATION_MESSAGE = 4096  # bytes, as the kubelet truncates it
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


@dataclass(frozen=True)
class Image:
    """What the local kubelet knows of an image: its ENTRYPOINT/CMD, ENV and the image paths
    its programs expect (mapped into the pod's rootfs folder)."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    paths: tuple[str, ...] = ()


# Mirrors Dockerfile.runtime (tests/devcluster/test_kubelet_launch.py checks it stays in step).
OOZO_RUNTIME_IMAGE = Image(
    entrypoint=("oozo",),
    cmd=("serve", "--index", "/var/lib/oozo/index"),
    env=(
        ("PYTHONUNBUFFERED", "1"),
        ("HF_HUB_OFFLINE", "1"),
        ("HF_HOME", "/var/cache/oozo/models"),
        ("OOZO_MODEL_CACHE_DIR", "/var/cache/oozo/models"),
    ),
    paths=("/var/cache/oozo", "/var/lib/oozo"),
)


def image_for(ref: str) -> Image:
    """Any image whose repository name starts with `oozo` is the runtime image; others are
    unknown (their containers need an explicit command found on this machine's PATH)."""
    repo = ref.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
    return OOZO_RUNTIME_IMAGE if repo.startswith("oozo") else Image()


# -- paths ----------------------------------------------------------------------------------------


PathTable = list[tuple[str, str]]  # (container path, local path), longest container path first


def path_table(
    container: dict, volume_dirs: dict[str, str], termination_file: str, rootfs: str, image: Image
) -> PathTable:
    """The container's view of the filesystem as (container path → local path) pairs."""
    table: dict[str, str] = {}
    for p in image.paths:
        table[p.rstrip("/")] = rootfs.rstrip("/") + p
    for mount in container.get("volumeMounts") or []:
        local = volume_dirs[mount["name"]]
        if mount.get("subPath"):
            local = str(Path(local) / mount["subPath"])
        table[mount["mountPath"].rstrip("/") or "/"] = local
    table[container.get("terminationMessagePath") or TERMINATION_LOG] = termination_file
    return sorted(table.items(), key=lambda kv: len(kv[0]), reverse=True)


def rewrite_path(value: str, table: PathTable) -> str:
    """Map a value that starts with a container path to the local path; also `--flag=/path`."""
    if value.startswith("--") and "=" in value:
        flag, _, rest = value.partition("=")
        return f"{flag}={rewrite_path(rest, table)}"
    for cpath, local in table:
        if value == cpath:
            return local
        prefix = cpath if cpath.endswith("/") else cpath + "/"
        if value.startswith(prefix):
            return local.rstrip("/") + "/" + value[len(prefix) :]
    return value


SHELLS = {"sh", "bash", "ash", "dash"}


def rewrite_script(script: str, table: PathTable) -> str:
    """Rewrite every container path inside a shell script (`sh -c '… > /dev/termination-log'`),
    in one pass so a rewritten path is never rewritten again. A path counts only as a whole
    path: not preceded by a path character, followed by `/` or a non-path character."""
    if not table:
        return script
    table = [(c, loc) for c, loc in table if c != "/"]
    local = dict(table)
    alternatives = "|".join(re.escape(cpath) for cpath, _ in table)  # longest first
    pattern = re.compile(rf"(?<![\w./-])({alternatives})(?![\w.-])")
    return pattern.sub(lambda m: local[m.group(1)], script)


# -- environment ----------------------------------------------------------------------------------


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes $(VAR) expansion: defined names are replaced, `$$` escapes, others stay."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("$(", i) and (end := text.find(")", i + 2)) != -1:
            name = text[i + 2 : end]
            out.append(env[name] if name in env else text[i : end + 1])
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class ConfigError(Exception):
    """A container that cannot be created as specified (a missing ConfigMap/Secret/key, an
    unsupported field): the kubelet keeps it waiting and tries again."""


class StartError(ConfigError):
    """The container's program cannot be executed: it fails, and restartPolicy decides."""


def start_failure_reason(err: ConfigError) -> str:
    """The kubelet's reason for a container that could not start."""
    if isinstance(err, StartError):
        return "StartError"
    return "CreateContainerConfigError" if "not found" in str(err) else "CreateContainerError"


Lookup = Callable[[str, str], "dict[str, str] | None"]  # (kind, name) → decoded data or None


def field_value(pod: dict, path: str) -> str:
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIPs": ",".join(p["ip"] for p in status.get("podIPs") or []),
    }
    if path not in simple:
        raise ConfigError(f"unsupported fieldRef {path}")
    return simple[path]


def _ref_value(source: dict, lookup: Lookup, pod: dict, container: dict) -> str | None:
    for key, kind in (("configMapKeyRef", "configmap"), ("secretKeyRef", "secret")):
        if key in source:
            ref = source[key]
            data = lookup(kind, ref["name"])
            if data is None or ref["key"] not in data:
                if ref.get("optional"):
                    return None
                what = (
                    f"{kind} {ref['name']!r}"
                    if data is None
                    else f"key {ref['key']!r} in {kind} {ref['name']!r}"
                )
                raise ConfigError(f"{what} not found")
            return data[ref["key"]]
    if "fieldRef" in source:
        return field_value(pod, source["fieldRef"]["fieldPath"])
    if "resourceFieldRef" in source:
        resource = source["resourceFieldRef"]["resource"]  # e.g. limits.cpu
        group, _, name = resource.partition(".")
        value = ((container.get("resources") or {}).get(group) or {}).get(name)
        return str(value) if value is not None else {"cpu": "8", "memory": "17179869184"}.get(name, "0")
    raise ConfigError(f"unsupported valueFrom {sorted(source)}")


def container_env(pod: dict, container: dict, lookup: Lookup) -> dict[str, str]:
    """envFrom (in order) then env, with $(VAR) expansion as the kubelet does it. Raises
    ConfigError for a missing non-optional reference."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for key, kind in (("configMapRef", "configmap"), ("secretRef", "secret")):
            if key in source:
                ref = source[key]
                data = lookup(kind, ref["name"])
                if data is None:
                    if ref.get("optional"):
                        continue
                    raise ConfigError(f"{kind} {ref['name']!r} not found")
                for name, value in data.items():
                    if ENV_NAME.match(prefix + name):  # the kubelet skips invalid names too
                        env[prefix + name] = value
    for var in container.get("env") or []:
        if "valueFrom" in var:
            resolved = _ref_value(var["valueFrom"], lookup, pod, container)
            if resolved is None:
                continue
            env[var["name"]] = resolved
        else:
            env[var["name"]] = expand(var.get("value", ""), env)
    return env


def decode_data(obj: dict, secret: bool) -> dict[str, bytes]:
    """Files of a ConfigMap (data + binaryData) or Secret (base64 data + stringData)."""
    files: dict[str, bytes] = {}
    if secret:
        for k, v in (obj.get("data") or {}).items():
            files[k] = base64.b64decode(v)
        for k, v in (obj.get("stringData") or {}).items():
            files[k] = v.encode()
    else:
        for k, v in (obj.get("data") or {}).items():
            files[k] = v.encode()
        for k, v in (obj.get("binaryData") or {}).items():
            files[k] = base64.b64decode(v)
    return files


def project_items(
    files: dict[str, bytes], items: list[dict] | None, name: str, optional: bool
) -> dict[str, bytes]:
    """Apply a volume's `items` (key → path) selection; all keys when there is none."""
    if not items:
        return dict(files)
    out: dict[str, bytes] = {}
    for item in items:
        if item["key"] not in files:
            if optional:
                continue
            raise ConfigError(f"key {item['key']!r} not found in {name!r}")
        out[item["path"]] = files[item["key"]]
    return out


@dataclass
class Launch:
    """Everything needed to start one container as a process."""

    argv: list[str]
    env: dict[str, str]
    cwd: str


def launch_plan(
    pod: dict,
    container: dict,
    user_env: dict[str, str],
    table: PathTable,
    local_ip: str,
    python_bin: str,
    base_env: dict[str, str],
    rootfs: str,
) -> Launch:
    """argv, env and working directory of the container's process. Raises ConfigError when the
    command cannot be run here (unknown image entrypoint, program not on PATH)."""
    image = image_for(container.get("image", ""))
    env = dict(base_env)
    env.update({k: rewrite_path(v, table) for k, v in image.env})
    env["HOSTNAME"] = pod["metadata"]["name"]
    env.update({k: rewrite_path(v, table) for k, v in user_env.items()})
    env["OOZO_HOST"] = local_ip  # the pod's "network namespace": its own loopback address
    env["PATH"] = f"{python_bin}:{env.get('PATH', '')}"
    env.setdefault("HOME", rootfs)
    tmp = rewrite_path("/tmp", table)
    if tmp != "/tmp":
        env["TMPDIR"] = tmp  # an emptyDir at /tmp: keep the process's temp files in it

    if container.get("command"):
        argv = list(container["command"]) + list(container.get("args") or [])
    elif container.get("args"):
        argv = list(image.entrypoint) + list(container["args"])
    else:
        argv = list(image.entrypoint) + list(image.cmd)
    if not argv:
        raise ConfigError(f"image {container.get('image')!r} has no entrypoint known to the local kubelet")
    argv = [expand(a, user_env) for a in argv]
    if Path(argv[0]).name in SHELLS and "-c" in argv[1:-1]:
        script = argv.index("-c", 1) + 1
        argv[script] = rewrite_script(argv[script], table)
    argv = [rewrite_path(a, table) for a in argv]
    argv = [local_ip if a == "0.0.0.0" else a for a in argv]
    program = argv[0]
    if program == "oozo" or program.endswith("/oozo"):
        argv[0] = str(Path(python_bin) / "oozo")
    elif "/" in program:
        if not Path(program).is_file():
            raise StartError(f'exec: "{program}": no such file or directory')
    else:
        found = shutil.which(program, path=env["PATH"])
        if not found:
            raise StartError(f'exec: "{program}": executable file not found in $PATH')
        argv[0] = found
    workdir = container.get("workingDir")
    cwd = rewrite_path(workdir, table) if workdir else rootfs
    return Launch(argv=argv, env=env, cwd=cwd)


# -- status ---------------------------------------------------------------------------------------


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


# -- probes ---------------------------------------------------------------------------------------


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


# -- addresses ------------------------------------------------------------------------------------


# The API refuses loopback addresses in EndpointSlices, so a pod has two faces of one address:
# its pod IP in the API is 10.233.C.D (a range no other node uses), and its process listens on
# 127.0.C.D. resolve_service() translates, as a CNI plus kube-proxy would.
POD_NET = "10.233."


def pod_addresses(n: int) -> tuple[str, str]:
    """The n-th pod's (pod IP, local loopback IP), n ≥ 0: (10.233.0.2, 127.0.0.2), … skipping
    .0/.1/.255 last octets."""
    high, low = divmod(n, 253)
    tail = f"{high % 256}.{low + 2}"
    return POD_NET + tail, "127.0." + tail


def local_address(pod_ip: str) -> str:
    """Where this machine reaches a pod IP of the local node; other addresses are unchanged."""
    return "127.0." + pod_ip.removeprefix(POD_NET) if pod_ip.startswith(POD_NET) else pod_ip
