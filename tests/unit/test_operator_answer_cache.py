"""spec.runtime.cache (issue 15, Answer cache): size, TTL and the Redis URL reach the server's
settings through the ConfigMap, the Redis password only as a secretKeyRef env of the Deployment;
a corpus without the field renders no cache setting at all; the password Secret is a reference
the corpus policy checks; a URL with credentials in it is refused naming the fix."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from oozo_contract.serve_settings import ServeSettings
from oozo_operator import policy as P
from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.config import OperatorSettings
from oozo_operator.render import configmap, deployment
from oozo_operator.render.corpus import Corpus
from tests.operator_builders import Modifier, make_corpus, with_answer_cache

pytestmark = pytest.mark.unit

REDIS = "redis://redis.cache.svc:6379/2"
PASSWORD_REF = {"secretKeyRef": {"name": "redis-cache", "key": "password"}}


def corpus_of(*mods: Modifier) -> Corpus:
    obj = make_corpus("docs", *mods, namespace="ns")
    obj["metadata"]["uid"] = "uid-1"
    return Corpus.from_body(obj, OperatorSettings())


def server_env(corpus: Corpus) -> dict[str, Any]:
    [container] = deployment.render(corpus, "v1")["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_the_server_gets_the_cache_settings_and_the_password_by_reference() -> None:
    corpus = corpus_of(with_answer_cache(REDIS, size=5000, ttlSeconds=600))
    data = configmap.render(corpus)["data"]
    assert data["OOZO_ANSWER_CACHE_SIZE"] == "5000"
    assert data["OOZO_ANSWER_CACHE_TTL_SECONDS"] == "600"
    assert data["OOZO_ANSWER_CACHE_REDIS_URL"] == REDIS
    assert "OOZO_ANSWER_CACHE_REDIS_PASSWORD" not in data  # a ConfigMap never holds the password
    ServeSettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in data.items()})
    env = server_env(corpus)
    assert env["OOZO_ANSWER_CACHE_REDIS_PASSWORD"] == PASSWORD_REF


def test_a_corpus_without_a_cache_renders_no_cache_setting() -> None:
    corpus = corpus_of()
    rendered = json.dumps([configmap.render(corpus), deployment.render(corpus, "v1")])
    assert "ANSWER_CACHE" not in rendered  # the runtime's defaults apply; goldens stay as they were


def test_size_zero_and_ttl_alone_render_without_redis() -> None:
    corpus = corpus_of(with_answer_cache(size=0, ttlSeconds=30))
    data = configmap.render(corpus)["data"]
    assert (data["OOZO_ANSWER_CACHE_SIZE"], data["OOZO_ANSWER_CACHE_TTL_SECONDS"]) == ("0", "30")
    assert "OOZO_ANSWER_CACHE_REDIS_URL" not in data
    assert "OOZO_ANSWER_CACHE_REDIS_PASSWORD" not in server_env(corpus)


def test_a_changed_cache_setting_restarts_the_server_pods() -> None:
    def config_hash(corpus: Corpus) -> str:
        return str(deployment.render(corpus, "v1")["spec"]["template"]["metadata"]["annotations"])

    assert config_hash(corpus_of(with_answer_cache(ttlSeconds=60))) != config_hash(
        corpus_of(with_answer_cache(ttlSeconds=120))
    )


def test_the_password_secret_is_a_reference_and_the_redis_host_an_endpoint() -> None:
    spec = RagCorpusSpec.model_validate(
        make_corpus("docs", with_answer_cache(REDIS, secret="team-redis"))["spec"]
    )
    assert [(r.kind, r.name, r.field) for r in P.references(spec)] == [
        ("Secret", "team-redis", "spec.runtime.cache.redis.passwordSecretRef")
    ]
    assert ("spec.runtime.cache.redis.url", REDIS) in P.remote_endpoints(spec)


@pytest.mark.parametrize(
    "url", ["redis://:hunter2@redis:6379", "redis://default:hunter2@redis", "http://redis:6379"]
)
def test_a_redis_url_with_credentials_or_another_scheme_is_refused(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RagCorpusSpec.model_validate(make_corpus("docs", with_answer_cache(url))["spec"])
    assert "runtime.cache.redis.url" in str(caught.value)
    assert "hunter2" not in json.dumps([e["msg"] for e in caught.value.errors(include_input=False)])


def test_a_redis_without_a_password_secret_is_refused() -> None:
    body = make_corpus("docs", with_answer_cache(REDIS))["spec"]
    del body["runtime"]["cache"]["redis"]["passwordSecretRef"]
    with pytest.raises(ValidationError, match="passwordSecretRef"):
        RagCorpusSpec.model_validate(body)
