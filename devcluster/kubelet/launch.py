"""How the local kubelet turns a container spec into a local process: argv, environment, working
directory, with every container path mapped to a local folder. Pure: no I/O beyond what the
caller hands in, so every rule is unit tested (tests/devcluster/test_kubelet_launch.py).

What "a container" is locally:
- its filesystem is the host's, with each volumeMount's mountPath mapped to a folder; any env
  value or argument naming a path under a mountPath (or the termination-message path) is
  rewritten to the local folder. Paths the image itself provides (see Image.paths) map to a
  per-pod "rootfs" folder.
- its network namespace is one loopback address (127.0.0.N) per pod: the pod IP. OOZO_HOST is
  set to it, and a literal 0.0.0.0 argument becomes it, so replicas listen on the same port.
"""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TERMINATION_LOG = "/dev/termination-log"
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
    """Any image whose repository name starts with `oozo` is the runtime image: oozo-server (the
    serving pods), oozo-indexer (the Job pods), oozo-runtime (the indexer's older name) and the
    registries' ghcr.io/oozo-dev/... names of them. They come from one Dockerfile with the same
    ENTRYPOINT, CMD and ENV, and run locally as this machine's `oozo`. Others are unknown (their
    containers need an explicit command found on this machine's PATH)."""
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
    # A value that already names one of this pod's local folders is left alone: the operator
    # passes on what a pod reported (status.index.embeddingModel is the local path of a model
    # volume here), and under /tmp, where test folders live, a second rewrite would move it.
    if any(value == local or value.startswith(local.rstrip("/") + "/") for _, local in table):
        return value
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
