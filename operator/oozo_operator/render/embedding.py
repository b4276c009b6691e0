"""The embedder's settings, shared by the index Job and the server (ConfigMap + Deployment): both
must embed with the same provider, server and model, or the server refuses the index.

Only what the spec sets is rendered, so a corpus with the local model renders exactly as before
remote embeddings existed. The API key reaches the pods as a secretKeyRef env; the operator never
reads it."""

from __future__ import annotations

from typing import Any

from oozo_contract.defaults import MODEL_CACHE_FOLDER, is_hub_model_id
from oozo_contract.settings import EmbeddingSettings, env_name
from oozo_operator.api.embedding_spec import Embedding
from oozo_operator.render.backup import OPTIONAL_SECRET_KEYS, SECRET_KEYS
from oozo_operator.render.corpus import INDEX_DIR

# The model cache on the corpus volume: the index Job copies an s3:// model or downloads a hub
# model into it (writable there), the server loads it from there (read-only, offline). Named
# explicitly because the runtime image sets OOZO_MODEL_CACHE_DIR to /var/cache/oozo/models, which
# is on the read-only root filesystem of the pods (the copy would fail) and is not shared by them.
MODEL_CACHE_DIR = f"{INDEX_DIR}/{MODEL_CACHE_FOLDER}"
# Only the index Job goes online, and only for a hub model: the image's HF_HUB_OFFLINE=1 is
# lifted there, and huggingface_hub's own state (the Xet chunk cache) goes to the writable /tmp
# instead of the read-only HF_HOME of the image. huggingface_hub waits only 10 s for a read by
# default; a mirror or proxy in front of the hub that is slow to start streaming a large weights
# file would fail the build, so the Job waits a minute per read.
HUB_JOB_ENV = {"HF_HUB_OFFLINE": "0", "HF_HOME": "/tmp/huggingface", "HF_HUB_DOWNLOAD_TIMEOUT": "60"}


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


def downloads_from_hub(embedding: Embedding) -> bool:
    return (
        embedding.provider != "openai" and embedding.model_volume is None and is_hub_model_id(embedding.model)
    )


def model_cache_values(model: str, provider: str | None) -> dict[str, Any]:
    """OOZO_MODEL_CACHE_DIR on the corpus volume for a hub model (the index Job's and the
    server's, which must find the same cache); nothing otherwise, so other corpora render as
    before."""
    return {"model_cache_dir": MODEL_CACHE_DIR} if provider != "openai" and is_hub_model_id(model) else {}


def hub_index_values(embedding: Embedding, operator_endpoint: str) -> dict[str, Any]:
    """The index Job's settings for a hub model: where to download it from (spec.embedding.hub,
    else the operator's OOZO_HUB_ENDPOINT) and which revision. The server gets neither: it
    loads the commit the version records."""
    if not downloads_from_hub(embedding):
        return {}
    endpoint = (embedding.hub.endpoint if embedding.hub else None) or operator_endpoint
    return {
        **model_cache_values(embedding.model, embedding.provider),
        **({"hub_endpoint": endpoint} if endpoint else {}),
        **({"hub_revision": embedding.revision} if embedding.revision else {}),
    }


def hub_job_env(embedding: Embedding) -> dict[str, str]:
    return dict(HUB_JOB_ENV) if downloads_from_hub(embedding) else {}


def hub_token_env(embedding: Embedding) -> list[dict[str, Any]]:
    """HF_TOKEN from the Secret spec.embedding.hub.tokenSecret names, by reference, for the index
    Job only (huggingface_hub reads it from the environment; Oozo never sees it)."""
    ref = embedding.hub.token_secret if embedding.hub and downloads_from_hub(embedding) else None
    if ref is None:
        return []
    return [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}]
