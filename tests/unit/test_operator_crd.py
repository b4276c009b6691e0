"""The committed CRD is exactly what the operator's models generate, and it is a schema a
careful reviewer would accept: structural, every field described, every number and string bounded."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from oozo_operator.api.crd import crd
from oozo_operator.api.spec import RagCorpusSpec

REPO = Path(__file__).resolve().parents[2]


def _walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)]
    for name, sub in node.get("properties", {}).items():
        found += _walk(sub, f"{path}.{name}")
    if "items" in node:
        found += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += _walk(node["additionalProperties"], f"{path}{{}}")
    return found


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_committed_crd_matches_the_models() -> None:
    sys.path.insert(0, str(REPO / "hack"))
    import gen_crd

    committed = (REPO / "crds" / "ragcorpus.yaml").read_text()
    assert committed == gen_crd.render(), "crds/ragcorpus.yaml is stale: run .venv/bin/python hack/gen_crd.py"
    assert yaml.safe_load(committed)["spec"]["names"]["shortNames"]
    assert (REPO / "docs" / "api.md").read_text() == gen_crd.render_api_doc(), "docs/api.md is stale"


def test_every_field_has_a_description(schema: dict[str, Any]) -> None:
    missing = [p for p, node in _walk(schema["properties"]["spec"], "spec") if not node.get("description")]
    missing += [
        p for p, node in _walk(schema["properties"]["status"], "status") if not node.get("description")
    ]
    # list items and map values are described by their parent field
    missing = [p for p in missing if not p.endswith(("[]", "{}"))]
    assert not missing


def test_every_string_list_and_map_is_bounded(schema: dict[str, Any]) -> None:
    unbounded = []
    for path, node in _walk(schema["properties"]["spec"], "spec"):
        kind = node.get("type")
        if kind == "string" and "enum" not in node and "maxLength" not in node:
            unbounded.append(path)
        if kind == "array" and "maxItems" not in node:
            unbounded.append(path)
        if kind == "integer" and "maximum" not in node:
            unbounded.append(path)
        if kind == "object" and "additionalProperties" in node and "maxProperties" not in node:
            unbounded.append(path)
    assert not unbounded


def test_structural_no_types_missing(schema: dict[str, Any]) -> None:
    for path, node in _walk(schema):
        assert "type" in node or node.get("x-kubernetes-int-or-string"), path
        assert "$ref" not in node and "anyOf" not in node and "title" not in node, path


def test_cel_rules_sit_where_they_are_needed(schema: dict[str, Any]) -> None:
    spec = schema["properties"]["spec"]["properties"]
    rule_of = lambda node: " ".join(r["rule"] for r in node.get("x-kubernetes-validations", []))  # noqa: E731
    assert "size() == 1" in rule_of(spec["source"])
    assert "self.overlap < self.size" in rule_of(spec["chunking"])
    assert "minReplicas <= self.maxReplicas" in rule_of(spec["runtime"]["properties"]["autoscaling"])
    assert "matches" in rule_of(spec["refresh"]["properties"]["schedule"])
    assert "has(self.s3)" in rule_of(spec["backup"])
    for owner in ("backup", "restore"):  # a backup prefix is never the bucket's root
        assert "matches" in rule_of(spec[owner]["properties"]["s3"]["properties"]["prefix"])
    include = rule_of(spec["source"]["properties"]["include"]["items"])
    assert "startsWith('/')" in include and "'..'" in include and "split('**')" in include
    assert spec["index"]["properties"]["keepVersions"]["minimum"] == 1
    assert schema["properties"]["status"]["properties"]["observedGeneration"]["default"] == -1


def test_operator_parses_what_the_crd_defaults() -> None:
    spec = RagCorpusSpec.model_validate({"source": {"configMap": {"name": "docs"}}})
    assert spec.chunking.size == 1000 and spec.chunking.overlap == 200
    assert spec.embedding.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert spec.index.storage.size == "2Gi"
    assert spec.source.kind == "configMap"


@pytest.mark.parametrize(
    "spec",
    [
        {"source": {}},
        {"source": {"configMap": {"name": "a"}, "pvc": {"claimName": "b"}}},
        {"source": {"configMap": {"name": "a"}}, "chunking": {"size": 500, "overlap": 500}},
        {
            "source": {"configMap": {"name": "a"}},
            "runtime": {"autoscaling": {"minReplicas": 4, "maxReplicas": 2}},
        },
        {
            "source": {"configMap": {"name": "a"}},
            "backup": {"schedule": "0 3 * * *", "s3": {"bucket": "bkt", "prefix": ""}},
        },
        {"source": {"configMap": {"name": "a"}, "include": ["/etc/*.conf"]}},
        {"source": {"configMap": {"name": "a"}, "include": ["docs/../../*.md"]}},
        {"source": {"configMap": {"name": "a"}, "include": ["**/a/**/*.md"]}},
        {"source": {"configMap": {"name": "a"}}, "index": {"keepVersions": 0}},
        {"source": {"configMap": {"name": "a"}}, "index": {"pinnedVersion": "../Latest"}},
    ],
)
def test_operator_refuses_what_the_crd_refuses(spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RagCorpusSpec.model_validate(spec)
