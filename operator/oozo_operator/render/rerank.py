"""The reranking settings of the serving pods (spec.retrieval.rerank): endpoint, api, model, top N
and timeout in the ConfigMap NAME-config, the API key as a secretKeyRef env of the Deployment.
Nothing is rendered without spec.retrieval.rerank, so such a corpus renders as before."""

from __future__ import annotations

from typing import Any

from oozo_contract.serve_settings import ServeSettings
from oozo_contract.settings import env_name
from oozo_operator.api.rerank_spec import Rerank


def settings_values(rerank: Rerank | None) -> dict[str, Any]:
    """Keyword values for `env_for(ServeSettings, ...)`."""
    if rerank is None:
        return {}
    values: dict[str, Any] = {
        "rerank_endpoint": rerank.endpoint,
        "rerank_api": rerank.api,
        "rerank_top_n": rerank.top_n,
    }
    if rerank.model is not None:
        values["rerank_model"] = rerank.model
    if rerank.timeout_seconds is not None:
        values["rerank_timeout_seconds"] = rerank.timeout_seconds
    return values


def api_key_env(rerank: Rerank | None) -> list[dict[str, Any]]:
    """OOZO_RERANK_API_KEY from the Secret the spec names, by reference."""
    if rerank is None or rerank.api_key_secret_ref is None:
        return []
    ref = rerank.api_key_secret_ref
    return [
        {
            "name": env_name(ServeSettings, "rerank_api_key"),
            "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
        }
    ]
