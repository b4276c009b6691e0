"""spec.runtime.cache: the server's answer cache (docs/answer-cache.md). Rendered as the
OOZO_ANSWER_CACHE_* settings of the serving pods (render/answer_cache.py); the Redis password
reaches them only as a secretKeyRef, and its Secret goes through the opt-in label rule and the
Redis host through the allowed-hosts rule like every other reference (policy.py)."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from oozo_contract import defaults as d
from oozo_operator.api.base import ApiModel, cel, rules
from oozo_operator.api.fields import SecretKeyRef


class RedisCache(ApiModel):
    """A Redis shared by all replicas: an answer computed by one pod is a hit on every other."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                "!self.url.contains('@')",
                "url must not carry credentials: the password comes from passwordSecretRef",
                ".url",
            )
        )
    )

    url: str = Field(
        min_length=1,
        max_length=2048,
        pattern=d.ANSWER_CACHE_REDIS_URL_PATTERN,
        description="redis://HOST[:PORT][/DB], or rediss:// for TLS; no credentials in it. The host must "
        "be allowed by the corpus policy.",
    )
    password_secret_ref: SecretKeyRef = Field(
        description="Secret key holding the Redis password (OOZO_ANSWER_CACHE_REDIS_PASSWORD); the Secret "
        "must carry the opt-in label."
    )

    @model_validator(mode="after")
    def _no_credentials_in_url(self) -> RedisCache:
        d.check_redis_url(self.url)
        return self


class AnswerCache(ApiModel):
    """Identical questions against the same index version are answered once: an in-process LRU
    with a TTL on every replica (on by default), optionally backed by a shared Redis."""

    # No schema defaults: the runtime's own apply when a field is left out, and a corpus that
    # does not mention the cache renders exactly as before the cache existed.
    size: int | None = Field(
        None,
        ge=0,
        le=d.ANSWER_CACHE_SIZE_MAX,
        description=f"Answers each replica keeps in memory; 0 for none. Empty: {d.ANSWER_CACHE_SIZE}.",
    )
    ttl_seconds: int | None = Field(
        None,
        ge=1,
        le=d.ANSWER_CACHE_TTL_SECONDS_MAX,
        description=f"Seconds a cached answer is reused. Empty: {d.ANSWER_CACHE_TTL_SECONDS}.",
    )
    redis: RedisCache | None = Field(None, description="A Redis shared by all replicas; empty for none.")
