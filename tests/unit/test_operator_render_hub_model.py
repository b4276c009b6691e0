"""spec.embedding.model as a Hugging Face Hub id: only the index Job goes online (HF_HUB_OFFLINE=0),
with the hub endpoint (the spec's, else the operator's) and the token Secret by reference as
HF_TOKEN; both download into and serve from the model cache on the corpus volume; the server
gets neither the endpoint nor the token; admission's rules are also the operator's."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from oozo_contract.index_settings import IndexSettings
from oozo_contract.serve_settings import ServeSettings
from oozo_operator.api.embedding_spec import Embedding
from oozo_operator.config import OperatorSettings
from oozo_operator.policy import references
from oozo_operator.render import configmap, deployment
from tests.unit.render_helpers import corpus_of, documented_spec, env_of, index_container

MODEL = "intfloat/multilingual-e5-large"
HUB_MODEL: dict[str, Any] = {
    "model": MODEL,
    "revision": "main",
    "hub": {"endpoint": "http://hf-mirror.models:8090", "tokenSecret": {"name": "hf", "key": "token"}},
}
CACHE = "/var/lib/oozo/index/models"


def test_the_index_job_downloads_through_the_endpoint_with_the_token_by_reference() -> None:
    env = env_of(index_container(corpus_of(HUB_MODEL)))
    assert env["OOZO_HUB_ENDPOINT"] == "http://hf-mirror.models:8090"
    assert env["OOZO_HUB_REVISION"] == "main"
    assert env["OOZO_MODEL_CACHE_DIR"] == CACHE
    assert env["HF_HUB_OFFLINE"] == "0"
    assert env["HF_HUB_DOWNLOAD_TIMEOUT"] == "60"  # a slow mirror does not fail a large download
    assert env["HF_TOKEN"] == {"secretKeyRef": {"name": "hf", "key": "token"}}
    settings = IndexSettings.model_validate(
        {
            k.removeprefix("OOZO_").lower(): v
            for k, v in env.items()
            if k.startswith("OOZO_") and isinstance(v, str)
        }
    )
    assert (settings.model, settings.hub_revision, str(settings.model_cache_dir)) == (MODEL, "main", CACHE)


def test_the_server_loads_from_the_cache_offline_without_endpoint_or_token() -> None:
    corpus = corpus_of(HUB_MODEL)
    data = configmap.render(corpus, MODEL)["data"]
    assert data["OOZO_MODEL_CACHE_DIR"] == CACHE
    assert not {"OOZO_HUB_ENDPOINT", "OOZO_HUB_REVISION"} & set(data)
    ServeSettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in data.items()})
    [container] = deployment.render(corpus, "v1", MODEL)["spec"]["template"]["spec"]["containers"]
    names = {e["name"] for e in container["env"]}
    assert not {"HF_TOKEN", "HF_HUB_OFFLINE", "HF_ENDPOINT", "OOZO_HUB_ENDPOINT"} & names
    assert "hf-mirror" not in str(container)


def test_the_operators_hub_endpoint_applies_when_the_spec_names_none() -> None:
    settings = OperatorSettings(hub_endpoint="http://olah.mirrors:8090")
    env = env_of(index_container(corpus_of({"model": MODEL}, settings)))
    assert env["OOZO_HUB_ENDPOINT"] == "http://olah.mirrors:8090" and "HF_TOKEN" not in env
    spec_wins = env_of(index_container(corpus_of(HUB_MODEL, settings)))
    assert spec_wins["OOZO_HUB_ENDPOINT"] == "http://hf-mirror.models:8090"


def test_other_models_render_no_hub_settings() -> None:
    for embedding in (
        {},
        {"model": "s3://models/minilm"},
        {"provider": "openai", "model": "text-embedding-3-small"},
    ):
        env = env_of(index_container(corpus_of(embedding, OperatorSettings(hub_endpoint="http://m:1"))))
        assert not {"HF_HUB_OFFLINE", "HF_TOKEN", "OOZO_HUB_ENDPOINT", "OOZO_MODEL_CACHE_DIR"} & set(env)


def test_the_token_secret_is_a_reference_the_policy_checks() -> None:
    refs = references(corpus_of(HUB_MODEL).spec)
    assert ("Secret", "hf", "spec.embedding.hub.tokenSecret") in [(r.kind, r.name, r.field) for r in refs]


@pytest.mark.parametrize(
    "bad",
    [
        {"revision": "v1"},  # the bundled default is not downloaded
        {"model": "s3://models/minilm", "revision": "v1"},
        {"model": "/models/minilm", "modelVolume": {"claimName": "m"}, "hub": {"endpoint": "http://m:1"}},
        {"provider": "openai", "model": "text-embedding-3-small", "revision": "v1"},
        {"model": MODEL, "revision": "../main"},
        {"model": MODEL, "hub": {"endpoint": "ftp://mirror"}},
    ],
)
def test_revision_and_hub_are_refused_where_nothing_is_downloaded(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Embedding.model_validate(bad)


def test_the_documented_hub_model_spec_renders_as_described() -> None:
    spec = documented_spec("docs/operator.md", after="### Any Hugging Face model")
    env = env_of(index_container(corpus_of(spec.embedding.wire())))
    assert (
        env["OOZO_MODEL"] == spec.embedding.model and env["HF_TOKEN"]["secretKeyRef"]["name"] == "huggingface"
    )
    assert env["OOZO_HUB_ENDPOINT"] == "http://hf-mirror.models.svc:8090"
