"""The embedder's settings, shared by the index Job and the server (ConfigMap + Deployment): both
must embed with the same provider, server and model, or the server refuses the index.

Only what the spec sets is rendered, so a corpus with the local model renders exactly as before
remote embeddings existed. The API key reaches the pods as a secretKeyRef env; the operator never
reads it."""

from __future__ import annotations

from typing import Any

from oozo_contract.settings import EmbeddingSettings, env_name
from oozo_operator.api.spec import Embedding


def settings_values(embedding: Embedding) -> dict[str, Any]:
    """Keyword values for `env_for(IndexSettings | ServeSettings, ...)`, beyond model/batch_size."""
    if embedding.provider != "openai":
        return {}
    values: dict[str, Any] = {"embedding_provider": "openai"}
    if embedding.base_url:
        values["embedding_base_url"] = embedding.base_url
    if embedding.dimensions:
        values["embedding_dimensions"] = embedding.dimensions
    if embedding.prefixes:
        values["embedding_prefixes"] = embedding.prefixes
    return values


def api_key_env(embedding: Embedding) -> list[dict[str, Any]]:
    """OOZO_EMBEDDING_API_KEY from the Secret the spec names, by reference."""
    ref = embedding.api_key_secret_ref
    if embedding.provider != "openai" or ref is None:
        return []
    return [
        {
            "name": env_name(EmbeddingSettings, "embedding_api_key"),
            "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
        }
    ]
