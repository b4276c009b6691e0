"""The Gateway API's HTTPRoute CRD (standard channel) for tests of spec.runtime.httpRoute: taken
from the sigs.k8s.io/gateway-api module through the Go module proxy, as the control plane itself
is, so no registry or GitHub download is needed. The module cache keeps it for later runs."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

VERSION = "v1.3.0"
MODULE = "sigs.k8s.io/gateway-api"
HTTPROUTE_CRD = "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml"


def httproute_crd() -> Path:
    """The CRD file, downloading the module first when the Go module cache lacks it."""
    with tempfile.TemporaryDirectory() as outside_any_module:
        run = subprocess.run(
            ["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"],
            cwd=outside_any_module,
            env={**os.environ, "GOFLAGS": "-mod=mod"},
            capture_output=True,
            text=True,
            timeout=300,
        )
    if run.returncode != 0:
        raise RuntimeError(f"go mod download {MODULE}@{VERSION} failed:\n{run.stdout}{run.stderr}")
    return Path(json.loads(run.stdout)["Dir"]) / HTTPROUTE_CRD


def install_httproute_crd(env: dict[str, str]) -> None:
    """Apply the HTTPRoute CRD with the kubeconfig in `env` and wait until it is Established."""
    crd = httproute_crd()
    for argv in (
        ["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(crd)],
        [
            "kubectl",
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/httproutes.gateway.networking.k8s.io",
        ],
    ):
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}:\n{done.stdout}{done.stderr}")
