"""Which Secrets, ConfigMaps and PVCs the operator checks for before a build
(`gather.required_references`): every field of the RagCorpus schema that can name one is in
this table, either checked (a missing one stalls the corpus naming the field) or left out for a
stated reason. A new reference field in the CRD fails the first test until it is placed here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.gather import required_references
from tests.operator_builders import (
    Modifier,
    at,
    make_corpus,
    with_answer_cache,
    with_auth,
    with_openai,
    with_source,
)

CRD = Path(__file__).resolve().parents[2] / "crds" / "ragcorpus.yaml"
# the names the schema gives a field that names another object of the namespace
REFERENCE_FIELD = re.compile(r"(Secret|SecretRef|secretName|claimName|configMap)$")
KEY = {"name": "x", "key": "k"}
BACKUP_TO = {"bucket": "oozo-backups"}

# CRD field → (the spec naming an object there, (kind, name, the field a missing one is reported as))
CHECKED: dict[str, tuple[tuple[Modifier, ...], tuple[str, str, str]]] = {
    "spec.source.configMap": ((), ("ConfigMap", "docs-docs", "spec.source.configMap")),
    "spec.source.pvc.claimName": (
        (with_source(pvc={"claimName": "team-docs"}),),
        ("PersistentVolumeClaim", "team-docs", "spec.source.pvc"),
    ),
    "spec.source.s3.credentialsSecret": (
        (with_source(s3={"bucket": "team-docs", "credentialsSecret": "source-s3"}),),
        ("Secret", "source-s3", "spec.source.s3.credentialsSecret"),
    ),
    "spec.source.http.headersSecret": (
        (with_source(http={"urls": ["https://docs.example.com/a"], "headersSecret": KEY}),),
        ("Secret", "x", "spec.source.http.headersSecret"),
    ),
    "spec.source.git.credentialsSecret": (
        (with_source(git={"url": "https://git.example.com/r.git", "credentialsSecret": "git-creds"}),),
        ("Secret", "git-creds", "spec.source.git.credentialsSecret"),
    ),
    "spec.embedding.s3.credentialsSecret": (
        (at("spec.embedding", {"model": "s3://models/minilm", "s3": {"credentialsSecret": "model-s3"}}),),
        ("Secret", "model-s3", "spec.embedding.s3.credentialsSecret"),
    ),
    "spec.embedding.modelVolume.claimName": (
        (at("spec.embedding", {"model": "/models/minilm", "modelVolume": {"claimName": "model-store"}}),),
        ("PersistentVolumeClaim", "model-store", "spec.embedding.modelVolume"),
    ),
    "spec.embedding.hub.tokenSecret": (
        (at("spec.embedding", {"model": "org/model", "hub": {"tokenSecret": KEY}}),),
        ("Secret", "x", "spec.embedding.hub.tokenSecret"),
    ),
    "spec.embedding.apiKeySecretRef": (
        (
            at(
                "spec.embedding",
                {
                    "provider": "openai",
                    "model": "e5",
                    "baseURL": "http://tei:8080/v1",
                    "apiKeySecretRef": KEY,
                },
            ),
        ),
        ("Secret", "x", "spec.embedding.apiKeySecretRef"),
    ),
    "spec.generation.apiKeySecretRef": (
        (with_openai(secret="openai"),),
        ("Secret", "openai", "spec.generation.apiKeySecretRef"),
    ),
    "spec.runtime.auth.apiKeySecretRef": (
        (with_auth(KEY),),
        ("Secret", "x", "spec.runtime.auth.apiKeySecretRef"),
    ),
    "spec.runtime.cache.redis.passwordSecretRef": (
        (with_answer_cache("redis://cache:6379", secret="redis-cache"),),
        ("Secret", "redis-cache", "spec.runtime.cache.redis.passwordSecretRef"),
    ),
    "spec.backup.signingKeySecretRef": (
        (at("spec.backup", {"schedule": "@daily", "s3": BACKUP_TO, "signingKeySecretRef": KEY}),),
        ("Secret", "x", "spec.backup.signingKeySecretRef"),
    ),
    "spec.restore.s3.credentialsSecret": (
        (at("spec.restore", {"s3": {**BACKUP_TO, "credentialsSecret": "restore-s3"}}),),
        ("Secret", "restore-s3", "spec.restore.s3.credentialsSecret"),
    ),
    "spec.restore.signingKeySecretRef": (
        (at("spec.restore", {"s3": BACKUP_TO, "signingKeySecretRef": KEY}),),
        ("Secret", "x", "spec.restore.signingKeySecretRef"),
    ),
    "spec.retrieval.rerank.apiKeySecretRef": (
        (at("spec.retrieval.rerank", {"endpoint": "http://tei:8080", "api": "tei", "apiKeySecretRef": KEY}),),
        ("Secret", "x", "spec.retrieval.rerank.apiKeySecretRef"),
    ),
    "spec.index.build.staging.s3.credentialsSecret": (
        (
            at(
                "spec.index.build",
                {"parallelism": 2, "staging": {"s3": {**BACKUP_TO, "credentialsSecret": "stage"}}},
            ),
        ),
        ("Secret", "stage", "spec.index.build.staging.s3.credentialsSecret"),
    ),
    "spec.evaluation.questions.configMap": (
        (at("spec.evaluation", {"questions": {"configMap": "golden"}}),),
        ("ConfigMap", "golden", "spec.evaluation.questions.configMap"),
    ),
}

# CRD field → (the spec naming an object there, why a missing one does not stall the corpus)
LEFT_OUT: dict[str, tuple[tuple[Modifier, ...], str]] = {
    "spec.backup.s3.credentialsSecret": (
        (at("spec.backup", {"schedule": "@daily", "s3": {**BACKUP_TO, "credentialsSecret": "backup-s3"}}),),
        "only the backup pods read it: reported as BackupPodCannotStart, the corpus keeps serving",
    ),
    "spec.runtime.ingress.tls.secretName": (
        (at("spec.runtime.ingress", {"host": "docs.example.com", "tls": {"secretName": "docs-tls"}}),),
        "the Ingress controller reads it, no pod of the corpus",
    ),
}


def reference_fields(schema: dict[str, Any], path: str = "spec") -> set[str]:
    found = set()
    for name, child in (schema.get("properties") or {}).items():
        if REFERENCE_FIELD.search(name):
            found.add(f"{path}.{name}")
        found |= reference_fields(child, f"{path}.{name}")
    if "items" in schema:
        found |= reference_fields(schema["items"], f"{path}[]")
    return found


def spec_of(*mods: Modifier) -> RagCorpusSpec:
    return RagCorpusSpec.model_validate(make_corpus("docs", *mods)["spec"])


def test_every_reference_field_of_the_crd_is_either_checked_or_left_out_for_a_reason() -> None:
    crd = yaml.safe_load(CRD.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    fields = reference_fields(schema)
    assert fields == set(CHECKED) | set(LEFT_OUT), "place each new reference field in this table"
    assert not set(CHECKED) & set(LEFT_OUT)


@pytest.mark.parametrize("field", sorted(CHECKED))
def test_a_checked_reference_is_looked_for_under_the_field_that_names_it(field: str) -> None:
    mods, reference = CHECKED[field]
    assert reference in required_references(spec_of(*mods))


@pytest.mark.parametrize("field", sorted(LEFT_OUT))
def test_a_left_out_reference_is_not_looked_for(field: str) -> None:
    mods, _why = LEFT_OUT[field]
    assert not [
        ref for ref in required_references(spec_of(*mods)) if ref[2].startswith(field.rsplit(".", 1)[0])
    ]


def test_the_api_key_of_auth_that_is_off_is_not_looked_for() -> None:
    off = at("spec.runtime.auth", {"enabled": False, "apiKeySecretRef": KEY})
    assert not [ref for ref in required_references(spec_of(off)) if ref[2].startswith("spec.runtime.auth")]
