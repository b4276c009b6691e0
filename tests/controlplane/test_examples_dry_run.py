"""Every shipped example manifest is accepted by the real API server (server-side dry run, CRD
installed), so no example can rot when the schema or its CEL rules change."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from devcluster.ragcorpus import install_crd
from tests.operator_support import REPO

EXAMPLES = REPO / "examples"
# Argo CD and Flux objects need those tools' CRDs; their health check has its own tests. A folder
# with a kustomization.yaml is applied with -k; its patches and configuration are not objects, and
# the quickstart's RagCorpus needs its generated ConfigMap, so it is applied only through -k too.
KUSTOMIZATIONS = sorted(p.parent for p in EXAMPLES.rglob("kustomization.yaml") if "gitops" not in p.parts)
KUSTOMIZE_ONLY = {"kustomization.yaml", "kustomizeconfig.yaml"}
MANIFESTS = sorted(
    p
    for p in EXAMPLES.rglob("*.yaml")
    if "gitops" not in p.parts
    and "quickstart" not in p.parts
    and p.name not in KUSTOMIZE_ONLY
    and not p.name.endswith("-patch.yaml")
)


@pytest.fixture(scope="module")
def env(control_plane: Any) -> dict[str, str]:
    env = control_plane.env()
    install_crd(env)
    subprocess.run(["kubectl", "create", "namespace", "examples"], env=env, capture_output=True)
    return env


def dry_run(env: dict[str, str], *source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "apply", "--server-side", "--dry-run=server", "-n", "examples", *source],
        env=env,
        capture_output=True,
        text=True,
    )


def test_every_example_folder_is_covered() -> None:
    folders = {p.name for p in EXAMPLES.iterdir() if p.is_dir()}
    assert folders >= {
        "quickstart",
        "openai",
        "backup",
        "restore",
        "autoscaling",
        "gitops",
        "s3",
        "git",
        "http",
        "remote-embeddings",
        "multilingual",
        "s3-model",
        "model-volume",
    }


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_manifest_is_accepted(env: dict[str, str], path: Path) -> None:
    result = dry_run(env, "-f", str(path))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_kustomization_is_accepted(env: dict[str, str], path: Path) -> None:
    result = dry_run(env, "-k", str(path))
    assert result.returncode == 0, result.stderr
