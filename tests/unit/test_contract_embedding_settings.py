"""The embedding provider settings and the model fingerprint in the manifest (remote embeddings)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from oozo_contract.index_settings import IndexSettings
from oozo_contract.manifest import EmbeddingFingerprint, Manifest
from oozo_contract.serve_settings import ServeSettings
from oozo_contract.settings import env_for


def test_the_local_provider_is_the_default_and_its_fingerprint_is_the_model_id() -> None:
    settings = ServeSettings()
    assert settings.embedding_provider == "local" and settings.embedding_api_key is None
    local = EmbeddingFingerprint(model=settings.model)
    assert local.cache_identity() == settings.model  # caches of earlier builds stay valid


def test_the_embedding_api_key_comes_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OOZO_EMBEDDING_API_KEY", "sk-abc-123456")
    settings = IndexSettings(embedding_provider="openai", embedding_base_url="http://tei:8080/v1")
    assert settings.embedding_api_key is not None
    assert settings.embedding_api_key.get_secret_value() == "sk-abc-123456"
    assert "sk-abc-123456" not in repr(settings)


def test_remote_settings_render_and_bad_values_are_refused() -> None:
    env = env_for(
        IndexSettings,
        embedding_provider="openai",
        embedding_base_url="http://tei.models:8080/v1",
        embedding_dimensions=256,
        embedding_prefixes="server",
    )
    assert env["OOZO_EMBEDDING_PROVIDER"] == "openai" and env["OOZO_EMBEDDING_DIMENSIONS"] == "256"
    for bad in (
        {"embedding_provider": "cohere"},
        {"embedding_base_url": "tei:8080"},
        {"embedding_dimensions": 0},
        {"embedding_prefixes": "both"},
        {"embedding_concurrency": 0},
    ):
        with pytest.raises(ValidationError):
            IndexSettings(**bad)


def test_a_remote_fingerprint_round_trips_through_the_manifest() -> None:
    data = {
        "version": "v1",
        "embedding": {
            "model": "multilingual-e5-small-q4",
            "dimension": 384,
            "provider": "openai",
            "host": "127.0.0.1:9000",
            "serverPrefixes": True,
        },
    }
    manifest = Manifest.parse(json.dumps(data))
    assert manifest.embedding is not None
    fingerprint = manifest.embedding.fingerprint()
    assert fingerprint == EmbeddingFingerprint(
        provider="openai", host="127.0.0.1:9000", model="multilingual-e5-small-q4", server_prefixes=True
    )
    assert fingerprint.cache_identity() == "openai://127.0.0.1:9000/multilingual-e5-small-q4+server-prefixes"
    assert fingerprint != EmbeddingFingerprint(
        provider="openai", host="127.0.0.1:9001", model="multilingual-e5-small-q4", server_prefixes=True
    )


def test_a_local_manifest_carries_no_provider_fields() -> None:
    manifest = Manifest.parse(json.dumps({"version": "v1", "embedding": {"model": "m", "dimension": 3}}))
    dumped = manifest.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert set(dumped["embedding"]) == {
        "model",
        "dimension",
        "normalized",
        "metric",
        "queryPrefix",
        "passagePrefix",
    }
    assert manifest.embedding is not None and manifest.embedding.fingerprint().provider == "local"
