"""Every example RagCorpus parses with the operator's models, and every kustomize example (the
quickstart and the examples built on its documents) wires the generated ConfigMap (with its .docx
files in binaryData) into its corpus."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from oozo_operator.api.spec import RagCorpusSpec

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def kustomize(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def corpora_in(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "RagCorpus"]


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.rglob("ragcorpus.yaml")), ids=lambda p: str(p.relative_to(EXAMPLES))
)
def test_example_parses(path: Path) -> None:
    for obj in corpora_in(path):
        RagCorpusSpec.model_validate(obj["spec"])


KUSTOMIZATIONS = sorted(
    str(p.parent.relative_to(EXAMPLES))
    for p in EXAMPLES.rglob("kustomization.yaml")
    if "gitops" not in p.parts
)


def test_the_kustomize_examples_are_found() -> None:
    assert {"quickstart", "quickstart/demo", "backup", "restore", "autoscaling"} <= set(KUSTOMIZATIONS)


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize) not installed")
@pytest.mark.parametrize("overlay", KUSTOMIZATIONS)
def test_kustomize_example_wires_the_generated_configmap(overlay: str) -> None:
    docs = kustomize(EXAMPLES / overlay)
    [cm] = [d for d in docs if d["kind"] == "ConfigMap"]
    [corpus] = [d for d in docs if d["kind"] == "RagCorpus"]
    # Each example has a name of its own (nameSuffix), so applying one never replaces another.
    suffix = corpus["metadata"]["name"].removeprefix("handbook")
    assert corpus["spec"]["source"]["configMap"]["name"] == cm["metadata"]["name"]
    assert cm["metadata"]["name"].startswith(f"handbook-docs{suffix}-")
    assert sorted(cm["binaryData"]) == [
        p.name for p in sorted((EXAMPLES / "quickstart/base/docs").glob("*.docx"))
    ]
    for blob in cm["binaryData"].values():
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(blob))) as z:
            assert "word/document.xml" in z.namelist()
    RagCorpusSpec.model_validate(corpus["spec"])
