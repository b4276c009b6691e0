"""ConfigMap NAME-config: the server's non-secret settings, rendered through the runtime's own
settings models (`env_for`), so a renamed runtime setting fails here, not in production."""

from __future__ import annotations

from typing import Any

from oozo_contract import defaults as d
from oozo_contract.serve_settings import ServeSettings
from oozo_contract.settings import env_for
from oozo_operator.render import answer_cache, embedding, rerank
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import INDEX_DIR, SERVER_PORT, Corpus


def serve_env(corpus: Corpus, model: str | None = None) -> dict[str, str]:
    """`model` is the embedding model of the published index: the server must embed questions
    with the model the index was built with, even while a rebuild for a new model runs."""
    spec = corpus.spec
    values: dict[str, Any] = {
        "index_dir": INDEX_DIR,
        "port": SERVER_PORT,
        "model": model or spec.embedding.model,
        "batch_size": spec.embedding.batch_size,
        "generation_provider": spec.generation.provider,
        "openai_model": spec.generation.model,
        "temperature": spec.generation.temperature,
        "max_tokens": spec.generation.max_tokens,
        "auth_enabled": spec.runtime.auth.enabled,
    }
    if spec.retrieval.mode != d.RETRIEVAL_MODE:  # the default stays unrendered, as the server's own
        values["retrieval_mode"] = spec.retrieval.mode
    if spec.runtime.workers:  # unset: the runtime picks by the pod's CPU limit
        values["server_workers"] = spec.runtime.workers
    if spec.generation.base_url:
        values["openai_base_url"] = spec.generation.base_url
    values.update(embedding.settings_values(spec.embedding))
    # the served model's cache (a hub model's downloaded commits), not the spec's next one
    values.update(embedding.model_cache_values(values["model"], spec.embedding.provider))
    values.update(answer_cache.settings_values(spec.runtime.cache))
    values.update(rerank.settings_values(spec.retrieval.rerank))
    return env_for(ServeSettings, **values)


def render(corpus: Corpus, model: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": L.metadata(corpus, corpus.config_name, L.CONFIG),
        "data": serve_env(corpus, model),
    }
