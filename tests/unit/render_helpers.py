"""Shared steps of the render tests of `spec.embedding` (remote embedders, Hugging Face Hub
models, models from S3): a corpus with that embedding; a rendered container's environment as
one name → value map, where a reference (`valueFrom`) stands as itself so a test can tell a
Secret reference from a literal; the index Job's container; the spec of a documented example."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.config import OperatorSettings
from oozo_operator.render import job
from oozo_operator.render.corpus import Corpus
from tests.operator_builders import at, make_corpus

REPO = Path(__file__).resolve().parents[2]


def corpus_of(embedding: dict[str, Any] | None = None, settings: OperatorSettings | None = None) -> Corpus:
    """The corpus `docs` in namespace `ns` with `embedding` as its spec.embedding (the default
    embedder when None), as the operator reads it."""
    obj = make_corpus("docs", *([at("spec.embedding", embedding)] if embedding else []), namespace="ns")
    obj["metadata"]["uid"] = "uid-1"
    return Corpus.from_body(obj, settings or OperatorSettings())


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env") or []}


def index_container(corpus: Corpus) -> dict[str, Any]:
    """The one container of the corpus's rendered index Job."""
    [container] = job.render(corpus)["spec"]["template"]["spec"]["containers"]
    return dict(container)


def documented_spec(page: str, after: str) -> RagCorpusSpec:
    """The spec of the first YAML example below the text `after` on the docs page `page`
    (e.g. "docs/operator.md"), validated as the API server's schema would: the page's examples
    are specs a user copies, so they must stay valid."""
    text = (REPO / page).read_text()
    assert after in text, f"{page} no longer says {after!r}"
    block = re.search(r"```yaml\n(.*?)```", text.split(after, 1)[1], re.S)
    assert block is not None, f"no YAML example below {after!r} in {page}"
    return RagCorpusSpec.model_validate(yaml.safe_load(block.group(1))["spec"])
