"""spec.embedding with a remote OpenAI-compatible server: the index Job and the server get the
same provider settings, and the key as a secretKeyRef env, never as a value."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from oozo_contract.index_settings import IndexSettings
from oozo_contract.serve_settings import ServeSettings
from oozo_operator.api.embedding_spec import Embedding
from oozo_operator.render import configmap, deployment, job
from oozo_operator.render.corpus import index_hash
from tests.unit.render_helpers import corpus_of, env_of

REMOTE: dict[str, Any] = {
    "provider": "openai",
    "baseURL": "http://tei.models.svc:8080/v1",
    "model": "intfloat/multilingual-e5-large",
    "apiKeySecretRef": {"name": "embeddings", "key": "api-key"},
    "dimensions": 512,
    "prefixes": "server",
}
KEY_REF = {"secretKeyRef": {"name": "embeddings", "key": "api-key"}}


def test_the_index_job_gets_the_remote_embedder_and_the_key_by_reference() -> None:
    [container] = job.render(corpus_of(REMOTE))["spec"]["template"]["spec"]["containers"]
    env = env_of(container)
    assert env["OOZO_EMBEDDING_PROVIDER"] == "openai"
    assert env["OOZO_EMBEDDING_BASE_URL"] == REMOTE["baseURL"]
    assert env["OOZO_MODEL"] == REMOTE["model"]
    assert env["OOZO_EMBEDDING_DIMENSIONS"] == "512"
    assert env["OOZO_EMBEDDING_PREFIXES"] == "server"
    assert env["OOZO_EMBEDDING_API_KEY"] == KEY_REF
    IndexSettings.model_validate(
        {k.removeprefix("OOZO_").lower(): v for k, v in env.items() if isinstance(v, str)}
    )


def test_the_server_gets_the_same_embedder_and_the_key_by_reference() -> None:
    corpus = corpus_of(REMOTE)
    data = configmap.render(corpus, REMOTE["model"])["data"]
    assert data["OOZO_EMBEDDING_PROVIDER"] == "openai"
    assert data["OOZO_EMBEDDING_BASE_URL"] == REMOTE["baseURL"]
    assert data["OOZO_EMBEDDING_PREFIXES"] == "server"
    assert "OOZO_EMBEDDING_API_KEY" not in data  # a ConfigMap never holds the key
    ServeSettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in data.items()})
    [container] = deployment.render(corpus, "v1", REMOTE["model"])["spec"]["template"]["spec"]["containers"]
    assert env_of(container)["OOZO_EMBEDDING_API_KEY"] == KEY_REF


def test_a_local_corpus_renders_no_embedding_provider_settings() -> None:
    corpus = corpus_of()
    [container] = job.render(corpus)["spec"]["template"]["spec"]["containers"]
    assert not [name for name in env_of(container) if name.startswith("OOZO_EMBEDDING")]
    assert not [name for name in configmap.render(corpus)["data"] if name.startswith("OOZO_EMBEDDING")]


def test_switching_the_embedder_rebuilds_and_local_hashes_are_unchanged() -> None:
    local = corpus_of()
    assert index_hash(local.spec) == index_hash(corpus_of({"model": local.spec.embedding.model}).spec)
    assert index_hash(local.spec) != index_hash(corpus_of(REMOTE).spec)
    other_host = {**REMOTE, "baseURL": "http://tei-2.models.svc:8080/v1"}
    assert index_hash(corpus_of(REMOTE).spec) != index_hash(corpus_of(other_host).spec)


@pytest.mark.parametrize("field", ["baseURL", "apiKeySecretRef", "dimensions", "prefixes"])
def test_remote_fields_without_provider_openai_are_refused(field: str) -> None:
    with pytest.raises(ValidationError, match=f"{field} only used with provider openai"):
        Embedding.model_validate({field: REMOTE[field]})
    with pytest.raises(ValidationError):
        Embedding.model_validate({"provider": "local", field: REMOTE[field]})


@pytest.mark.parametrize(
    "bad",
    [
        {"provider": "cohere"},
        {"provider": "openai", "baseURL": "tei:8080"},
        {"provider": "openai", "dimensions": 0},
    ],
)
def test_bad_remote_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Embedding.model_validate(bad)


def test_the_crd_carries_the_remote_only_rules() -> None:
    from oozo_operator.api.crd import crd

    schema = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    embedding = schema["properties"]["spec"]["properties"]["embedding"]
    rules = {r["fieldPath"]: r["rule"] for r in embedding["x-kubernetes-validations"]}
    # the remote-only rules, those of an s3:// model and of a model volume (test_operator_render_model_s3)
    assert set(rules) == {
        ".baseURL",
        ".apiKeySecretRef",
        ".dimensions",
        ".prefixes",
        ".model",
        ".s3",
        ".modelVolume",
    }
    assert "default" not in embedding["properties"]["provider"]  # no default: hashes stay stable
