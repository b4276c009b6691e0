"""The rendered children of every example RagCorpus, byte for byte.

A refactor of the operator must not change what it applies. Each example (and a few builder
corpora that reach the children no example asks for) renders into one YAML file under
`golden/`; the test compares the rendering with it. A deliberate change regenerates them:

    OOZO_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_render_golden.py

and the diff of `golden/` shows the reviewer exactly what changed in the cluster.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from oozo_operator.config import OperatorSettings
from oozo_operator.render import (
    backup,
    configmap,
    cronjob,
    deployment,
    hpa,
    job,
    networkpolicy,
    pdb,
    pvc,
    restore,
    secret,
    service,
)
from oozo_operator.render.corpus import Corpus
from tests.operator_builders import (
    at,
    make_corpus,
    with_auth,
    with_autoscaling,
    with_network_policy,
    with_openai,
    with_refresh,
    with_replicas,
    with_source,
    without_auth,
)

TEAM_TAINT = {"key": "team", "operator": "Equal", "value": "search", "effect": "NoSchedule"}
GPU_EMBEDDING = {
    "resources": {"limits": {"nvidia.com/gpu": 1}},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    "nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
}

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden")


def _example_documents() -> list[tuple[Path, list[Any]]]:
    """Each example folder with the objects it applies: a kustomization's build (the examples
    built on the quickstart's documents), or its ragcorpus.yaml."""
    examples = REPO / "examples"
    kustomized = {p.parent for p in examples.rglob("kustomization.yaml") if "quickstart" not in p.parts}
    out = []
    for folder in sorted(kustomized):
        built = subprocess.run(
            ["kubectl", "kustomize", str(folder)], check=True, capture_output=True, text=True
        )
        out.append((folder, list(yaml.safe_load_all(built.stdout))))
    for path in sorted(examples.rglob("ragcorpus.yaml")):
        out.append((path.parent, list(yaml.safe_load_all(path.read_text()))))
    return out


def _examples() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for folder, docs in _example_documents():
        for doc in docs:
            if doc and doc.get("kind") == "RagCorpus":
                where = folder.relative_to(REPO / "examples").as_posix().replace("/", "-")
                out[f"example-{where}-{doc['metadata']['name']}"] = doc
    return out


def _builders() -> dict[str, dict[str, Any]]:
    return {
        "builder-default": make_corpus("docs"),
        "builder-everything": make_corpus(
            "docs", with_auth(), with_autoscaling(2, 4), with_refresh("@hourly"), with_openai()
        ),
        "builder-replicas": make_corpus("docs", with_replicas(3)),
        # Fetched sources: the index Job's `fetch` init container, its credentials by reference.
        "builder-s3": make_corpus(
            "docs",
            with_source(
                s3={
                    "bucket": "team-docs",
                    "prefix": "handbook/",
                    "endpoint": "http://minio.storage:9000",
                    "region": "eu-west-1",
                    "pathStyle": True,
                    "credentialsSecret": "s3-credentials",
                }
            ),
            with_refresh("@hourly"),
        ),
        "builder-s3-identity": make_corpus(
            "docs", with_source(s3={"bucket": "team-docs", "serviceAccountName": "docs-reader"})
        ),
        "builder-git": make_corpus(
            "docs",
            with_source(
                git={
                    "url": "https://git.example.com/team/handbook.git",
                    "ref": "v2",
                    "path": "docs",
                    "credentialsSecret": "git-token",
                }
            ),
        ),
        "builder-http": make_corpus(
            "docs",
            with_source(
                http={
                    "urls": ["https://docs.example.com/a.pdf", "https://docs.example.com/b.md"],
                    "headersSecret": {"name": "docs-headers", "key": "headers"},
                }
            ),
        ),
        "builder-network-peers": make_corpus(
            "docs",
            with_network_policy(
                peers=[
                    {"podSelector": {"matchLabels": {"app": "chat-frontend"}}},
                    {"namespaceSelector": {"matchLabels": {"team": "support"}}},
                ],
                monitoring="observability",
            ),
        ),
        "builder-open": make_corpus("docs", without_auth(), with_network_policy(False)),
        # The model on a GPU node pool: the index and refresh pods get the GPU and the pool's
        # placement (after the corpus-wide one); the server and the fetch init container do not.
        "builder-gpu": make_corpus(
            "docs",
            with_source(s3={"bucket": "team-docs", "credentialsSecret": "s3-credentials"}),
            with_refresh("@daily"),
            at("spec.scheduling", {"nodeSelector": {"team": "search"}, "tolerations": [TEAM_TAINT]}),
            at("spec.embedding", GPU_EMBEDDING),
        ),
    }


CORPORA = {**_examples(), **_builders()}


def render_all(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every child the operator can apply for this spec, in a fixed order."""
    body = {**body, "metadata": {"namespace": "default", **body["metadata"], "uid": "uid-golden"}}
    corpus = Corpus.from_body(body, OperatorSettings(), source_revision="4242")
    model = corpus.spec.embedding.model
    children = [pvc.render(corpus), service.render(corpus), configmap.render(corpus, model)]
    if secret.wanted(corpus):
        children.append(secret.render(corpus, "golden-key"))
    children.append(deployment.render(corpus, "v-golden", model))
    children.append(job.render(corpus))
    if restore.wanted(corpus, None):
        children.append(restore.render(corpus))
    for module in (hpa, pdb, cronjob, backup, networkpolicy):
        if module.wanted(corpus):
            children.append(module.render(corpus))
    return children


def dump(children: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(children, sort_keys=True, default_flow_style=False)


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_rendered_children_match_golden(name: str) -> None:
    text = dump(render_all(CORPORA[name]))
    path = GOLDEN / f"{name}.yaml"
    if os.environ.get("OOZO_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}: run with OOZO_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"rendered children of {name} changed (see the docstring)"


def test_every_example_has_a_golden_file() -> None:
    assert {p.stem for p in GOLDEN.glob("*.yaml")} == set(CORPORA)
