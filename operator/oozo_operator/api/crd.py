"""Render the RagCorpus CustomResourceDefinition from the pydantic models.

`hack/gen_crd.py` writes the result to crds/ragcorpus.yaml and a unit test fails when the
committed file differs, so the schema the API server enforces and the models the operator parses
with cannot drift. The conversion turns pydantic's JSON Schema into a *structural* schema:
refs inlined, Optional collapsed, titles dropped. Object defaults are the model's full default
(the API server checks CEL rules against a default as written, so `{}` would fail
`overlap < size`); leaves carry their own defaults too, for partly written objects.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import to_jsonable_python

from oozo_operator.api.base import cel
from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.api.status import RagCorpusStatus

GROUP = "rag.oozo.dev"
VERSION = "v1alpha1"
KIND = "RagCorpus"
PLURAL = "ragcorpora"
SINGULAR = "ragcorpus"
SHORT_NAMES = ["ragc", "rag"]  # not "rc": kubectl already knows it as replicationcontrollers
# Children are named NAME-index-<10 hex>, NAME-refresh (CronJob names stop at 52) and pods
# carry job-name labels (63): 40 characters leaves room for all of them.
MAX_NAME = 40

_KEEP = {
    "type",
    "description",
    "default",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "x-kubernetes-validations",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
}


class _WithFactoryDefaults(GenerateJsonSchema):
    """pydantic leaves `default_factory` values out of JSON Schema; the CRD needs them so an
    absent `chunking:` reads back as the defaults."""

    def default_schema(self, schema: Any) -> JsonSchemaValue:
        if "default_factory" not in schema:
            return super().default_schema(schema)
        json_schema = self.generate_inner(schema["schema"])
        json_schema["default"] = to_jsonable_python(
            schema["default_factory"](), by_alias=True, exclude_none=True
        )
        return json_schema


def structural(model: type) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of a pydantic model."""
    schema = model.model_json_schema(  # type: ignore[attr-defined]
        by_alias=True, mode="validation", schema_generator=_WithFactoryDefaults
    )
    defs = schema.pop("$defs", {})
    return _convert(schema, defs)


def _convert(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    node = copy.deepcopy(node)
    if "$ref" in node:  # field-level keys (description, default) win over the model's own
        target = copy.deepcopy(defs[node.pop("$ref").split("/")[-1]])
        target.update(node)
        node = target
    if "anyOf" in node:
        branches = [b for b in node.pop("anyOf") if b.get("type") != "null"]
        types = sorted(b.get("type", "") for b in branches)
        if types == ["integer", "string"]:
            node["x-kubernetes-int-or-string"] = True
        elif len(branches) == 1:
            merged = _convert(branches[0], defs)
            merged.update({k: v for k, v in node.items() if k != "default" or v is not None})
            node = merged
        else:
            raise ValueError(f"cannot express {branches} structurally")
        if node.get("default", 0) is None:
            node.pop("default")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _KEEP:
            continue
        if key == "properties":
            out[key] = {name: _convert(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out[key] = _convert(value, defs)
        elif key == "additionalProperties":
            if value is True or value == {}:
                out["x-kubernetes-preserve-unknown-fields"] = True
            else:
                out[key] = _convert(value, defs)
        else:
            out[key] = value
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
    if out.get("type") == "number":
        out.pop("format", None)
    first = ("type", "description")  # readable YAML: what it is, then what it means
    return {**{k: out[k] for k in first if k in out}, **{k: v for k, v in out.items() if k not in first}}


def openapi_schema() -> dict[str, Any]:
    spec = structural(RagCorpusSpec)
    spec["description"] = "The desired state of one RAG deployment."
    status = structural(RagCorpusStatus)
    status["description"] = "The observed state, written only by the operator."
    # Defaults apply only to objects that exist: `status: {}` by default makes the API server
    # fill observedGeneration=-1 on every read of a brand-new object, which kstatus reads as
    # InProgress (observedGeneration != generation) before the operator has acted.
    status["default"] = {}
    conditions = status["properties"]["conditions"]
    conditions["x-kubernetes-list-type"] = "map"
    conditions["x-kubernetes-list-map-keys"] = ["type"]
    return {
        "type": "object",
        "description": "RagCorpus turns a set of documents into a running retrieval-augmented-generation "
        "service.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "APIVersion of this object: rag.oozo.dev/v1alpha1.",
            },
            "kind": {"type": "string", "description": "Kind of this object: RagCorpus."},
            "metadata": {"type": "object"},  # the API server forbids describing metadata
            "spec": spec,
            "status": status,
        },
        "x-kubernetes-validations": [
            cel(
                f"size(self.metadata.name) <= {MAX_NAME}",
                f"metadata.name must be at most {MAX_NAME} characters (children append suffixes)",
            )
        ],
    }


def _condition_column(name: str, field: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "string",
        "jsonPath": f'.status.conditions[?(@.type=="Ready")].{field}',
        "description": description,
    }


def crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "oozo", "app.kubernetes.io/part-of": "oozo"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
                "categories": ["oozo", "all"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        _condition_column("Ready", "status", "Whether the endpoint serves the current spec."),
                        _condition_column("Reason", "reason", "Why it is (not) ready."),
                        {
                            "name": "Documents",
                            "type": "integer",
                            "jsonPath": ".status.index.documents",
                            "description": "Documents in the served index.",
                        },
                        {
                            "name": "Chunks",
                            "type": "integer",
                            "jsonPath": ".status.index.chunks",
                            "description": "Chunks in the served index.",
                        },
                        {
                            "name": "Version",
                            "type": "string",
                            "jsonPath": ".status.index.version",
                            "description": "Served index version.",
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {"openAPIV3Schema": openapi_schema()},
                }
            ],
        },
    }
