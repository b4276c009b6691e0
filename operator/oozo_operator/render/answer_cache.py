"""The answer cache's settings of the serving pods (spec.runtime.cache): size, TTL and Redis URL
in the ConfigMap NAME-config, the Redis password as a secretKeyRef env of the Deployment. Only
what the spec sets is rendered, so a corpus without spec.runtime.cache renders as before."""

from __future__ import annotations

from typing import Any

from oozo_contract.serve_settings import ServeSettings
from oozo_contract.settings import env_name
from oozo_operator.api.cache_spec import AnswerCache


def settings_values(cache: AnswerCache | None) -> dict[str, Any]:
    """Keyword values for `env_for(ServeSettings, ...)`."""
    if cache is None:
        return {}
    values: dict[str, Any] = {}
    if cache.size is not None:
        values["answer_cache_size"] = cache.size
    if cache.ttl_seconds is not None:
        values["answer_cache_ttl_seconds"] = cache.ttl_seconds
    if cache.redis is not None:
        values["answer_cache_redis_url"] = cache.redis.url
    return values


def password_env(cache: AnswerCache | None) -> list[dict[str, Any]]:
    """OOZO_ANSWER_CACHE_REDIS_PASSWORD from the Secret the spec names, by reference."""
    if cache is None or cache.redis is None:
        return []
    ref = cache.redis.password_secret_ref
    return [
        {
            "name": env_name(ServeSettings, "answer_cache_redis_password"),
            "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
        }
    ]
