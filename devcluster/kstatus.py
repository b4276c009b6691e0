"""Health verdicts from the same library Flux and kpt use: sigs.k8s.io/cli-utils kstatus.

The Go program in devcluster/tools/kstatus is built once into ~/.cache/oozo/tools/ and rebuilt only
when its source changes (the binary name carries a hash of the source), so tests pay for a Go
build the first time only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).resolve().parent / "tools" / "kstatus"
CACHE = Path(os.environ.get("OOZO_TOOLS_CACHE", Path.home() / ".cache" / "oozo" / "tools"))

# Every verdict status.Compute can give.
STATUSES = ("InProgress", "Failed", "Current", "Terminating", "NotFound", "Unknown")


def _source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(SOURCE.iterdir()):
        if path.is_file() and path.suffix in {".go", ".mod", ".sum"}:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@cache
def binary() -> Path:
    """Path to the kstatus binary, building it when this source has not been built yet."""
    target = CACHE / f"kstatus-{_source_hash()}"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".tmp{os.getpid()}")
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": os.environ.get("GOFLAGS", "-mod=mod")}
    if shutil.which("go") is None:
        raise RuntimeError("Go >= 1.24 is required to build devcluster/tools/kstatus (https://go.dev/dl/)")
    build = subprocess.run(
        ["go", "build", "-trimpath", "-o", str(partial), "."],
        cwd=SOURCE,
        env=env,
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        raise RuntimeError(f"building {SOURCE} failed:\n{build.stdout}{build.stderr}")
    partial.replace(target)  # atomic: a concurrent build never sees half a binary
    return target


def kstatus(obj: dict[str, Any]) -> tuple[str, str]:
    """(status, message) of one object as kstatus computes it, e.g. ("Current", "Resource is current")."""
    run = subprocess.run([str(binary())], input=json.dumps(obj), capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(
            f"kstatus failed on {obj.get('kind')}/{obj.get('metadata', {}).get('name')}: {run.stderr.strip()}"
        )
    verdict = json.loads(run.stdout)
    return verdict["status"], verdict["message"]
