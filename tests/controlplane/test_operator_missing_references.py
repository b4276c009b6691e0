"""References of spec.embedding and spec.restore on a real control plane: a corpus naming an
embeddings API-key Secret, model S3 credentials, a model PVC or restore credentials that do not
exist stalls naming the field (instead of leaving an index pod that cannot start), and recovers
once the object exists; the key's value never reaches the corpus's status."""

from __future__ import annotations

import pytest
from kubernetes import client

from devcluster.ragcorpus import condition
from tests.controlplane.test_operator_lifecycle import apply_corpus
from tests.operator_builders import Modifier, at, make_corpus, on_local_node
from tests.operator_support import Operator, until_condition

REMOTE = {
    "provider": "openai",
    "model": "multilingual-e5-small",
    "baseURL": "http://tei.models.svc:8080/v1",
    "apiKeySecretRef": {"name": "embeddings", "key": "api-key"},
}
KEY_VALUE = "emb-key-value-for-test"


def test_a_missing_embeddings_api_key_secret_stalls_naming_the_field_then_recovers(
    operator: Operator, core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    apply_corpus(core, custom, ns, make_corpus("remote", on_local_node, at("spec.embedding", REMOTE)))
    stalled = until_condition(custom, ns, "remote", "Stalled", 20, status="True")
    found = condition(stalled, "Stalled")
    assert found["reason"] == "SecretNotFound", found
    assert "Secret embeddings (spec.embedding.apiKeySecretRef) not found" in found["message"]
    secret = {"metadata": {"name": "embeddings"}, "stringData": {"api-key": KEY_VALUE}}
    core.create_namespaced_secret(ns, client.V1Secret.model_validate(secret))
    recovered = until_condition(custom, ns, "remote", "Stalled", 30, status="False")
    assert KEY_VALUE not in str(recovered)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (
            at("spec.embedding", {"model": "s3://models/minilm", "s3": {"credentialsSecret": "model-s3"}}),
            "Secret model-s3 (spec.embedding.s3.credentialsSecret) not found",
        ),
        (
            at("spec.embedding", {"model": "/models/minilm", "modelVolume": {"claimName": "model-store"}}),
            "PersistentVolumeClaim model-store (spec.embedding.modelVolume) not found",
        ),
        (
            at("spec.restore", {"s3": {"bucket": "oozo-backups", "credentialsSecret": "restore-s3"}}),
            "Secret restore-s3 (spec.restore.s3.credentialsSecret) not found",
        ),
    ],
    ids=["model-s3-credentials", "model-volume", "restore-credentials"],
)
def test_a_missing_model_or_restore_reference_stalls_naming_the_field(
    operator: Operator,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    ns: str,
    spec: Modifier,
    says: str,
) -> None:
    apply_corpus(core, custom, ns, make_corpus("docs", on_local_node, spec))
    stalled = until_condition(custom, ns, "docs", "Stalled", 20, status="True")
    assert says in condition(stalled, "Stalled")["message"], condition(stalled, "Stalled")
