"""The embedder's settings, shared by the index Job and the server (ConfigMap + Deployment): both
must embed with the same provider, server and model, or the server refuses the index.

Only what the spec sets is rendered, so a corpus with the local model renders exactly as before
remote embeddings existed. The API key reaches the pods as a secretKeyRef env; the operator never
reads it."""

from __future__ import annotations

from typing import Any

from oozo_contract.defaults import MODEL_CACHE_FOLDER
from oozo_contract.settings import EmbeddingSettings, env_name
from oozo_operator.api.spec import Embedding
from oozo_operator.render.backup import OPTIONAL_SECRET_KEYS, SECRET_KEYS
from oozo_operator.render.corpus import INDEX_DIR

# Where the index Job copies an s3:// model and the server loads it: on the corpus volume. Named
# explicitly because the runtime image sets OOZO_MODEL_CACHE_DIR to /var/cache/oozo/models, which
# is on the read-only root filesystem of the pods (the copy would fail) and is not shared by them.
MODEL_CACHE_DIR = f"{INDEX_DIR}/{MODEL_CACHE_FOLDER}"


def settings_values(embedding: Embedding) -> dict[str, Any]:
    """Keyword values for `env_for(IndexSettings | ServeSettings, ...)`, beyond model/batch_size."""
    if embedding.s3 is not None:  # where an s3:// model is copied from
        s3 = embedding.s3
        endpoint = {"model_s3_endpoint": s3.endpoint} if s3.endpoint else {}
        region = {"model_s3_region": s3.region} if s3.region else {}
        path_style = {"model_s3_path_style": True} if s3.path_style else {}
        return {"model_cache_dir": MODEL_CACHE_DIR, **endpoint, **region, **path_style}
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


MODEL_VOLUME = "model"


def model_volume(embedding: Embedding) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, mounts) of spec.embedding.modelVolume: the claim, read-only, at the model path,
    in the index Job and in the server (both load the model from it)."""
    source = embedding.model_volume
    if source is None:
        return [], []
    mount: dict[str, Any] = {"name": MODEL_VOLUME, "mountPath": embedding.model, "readOnly": True}
    if source.sub_path.strip("/"):
        mount["subPath"] = source.sub_path.strip("/")
    claim = {"claimName": source.claim_name, "readOnly": True}
    return [{"name": MODEL_VOLUME, "persistentVolumeClaim": claim}], [mount]


def model_s3_credentials_env(embedding: Embedding) -> list[dict[str, Any]]:
    """The AWS variables of an s3:// model from its Secret, by reference, for the index Job only
    (the server reads the copy on the corpus volume and never talks to S3)."""
    secret = embedding.s3.credentials_secret if embedding.s3 else None
    if not secret:
        return []
    keys = [(key, False) for key in SECRET_KEYS] + [(key, True) for key in OPTIONAL_SECRET_KEYS]
    return [
        {
            "name": key,
            "valueFrom": {
                "secretKeyRef": {"name": secret, "key": key, **({"optional": True} if opt else {})}
            },
        }
        for key, opt in keys
    ]


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
