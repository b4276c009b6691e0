"""The rerank client's pure parts (issue 15, optional reranking): where each api posts, how a
response is read (anything but one finite score per text is malformed), and that the answer
cache's key holds the rerank settings, so another reranker never meets an answer ordered by
the last one. The HTTP behaviour is tested on a real server in tests/runtime/test_rerank.py."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.rerank import Reranker, rerank_url
from oozo_runtime.server.answer_cache import key_for, rerank_identity
from oozo_runtime.server.schemas import QueryRequest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("endpoint", "api", "url"),
    [
        ("http://tei:8080", "tei", "http://tei:8080/rerank"),
        ("http://tei:8080/", "tei", "http://tei:8080/rerank"),
        ("http://vllm:8000", "cohere", "http://vllm:8000/v1/rerank"),
        ("http://vllm:8000/v1", "cohere", "http://vllm:8000/v1/rerank"),
    ],
)
def test_each_api_posts_to_its_route(endpoint: str, api: str, url: str) -> None:
    assert rerank_url(endpoint, api) == url


def reranker(api: str = "tei") -> Reranker:
    return Reranker(ServeSettings(rerank_endpoint="http://tei:8080", rerank_api=api))


def test_both_shapes_are_read_by_index() -> None:
    assert reranker("tei")._parse([{"index": 1, "score": 0.9}, {"index": 0, "score": 0.1}], 2) == [0.1, 0.9]
    cohere = {"results": [{"index": 0, "relevance_score": 0.2}, {"index": 1, "relevance_score": 0.7}]}
    assert reranker("cohere")._parse(cohere, 2) == [0.2, 0.7]


@pytest.mark.parametrize(
    "body",
    [
        {"results": []},  # the cohere shape to a tei reader
        [{"index": 0, "score": 0.5}],  # a text without a score
        [{"index": 0, "score": 0.5}, {"index": 0, "score": 0.4}],  # one text twice
        [{"index": 0, "score": 0.5}, {"index": 2, "score": 0.4}],  # no such text
        [{"index": 0, "score": "nan"}, {"index": 1, "score": 0.4}],
        [{"index": 0}, {"index": 1, "score": 0.4}],
    ],
)
def test_anything_but_one_finite_score_per_text_is_malformed(body: Any) -> None:
    with pytest.raises((ValueError, TypeError, KeyError)):
        reranker("tei")._parse(body, 2)


def test_the_answer_cache_key_holds_the_rerank_settings_never_the_key() -> None:
    body = QueryRequest(question="How many vacation days?")
    off = ServeSettings()
    tei = ServeSettings(rerank_endpoint="http://tei:8080", rerank_api_key=SecretStr("k-secret-1"))
    deeper = ServeSettings(rerank_endpoint="http://tei:8080", rerank_top_n=40)
    other = ServeSettings(rerank_endpoint="http://bge:8080")
    digests = {key_for(body, "v1", (), rerank_identity(s)).digest() for s in (off, tei, deeper, other)}
    assert len(digests) == 4
    assert rerank_identity(off) == ()
    assert "k-secret-1" not in str(rerank_identity(tei))
    rotated = ServeSettings(rerank_endpoint="http://tei:8080", rerank_api_key=SecretStr("k-secret-2"))
    assert rerank_identity(rotated) == rerank_identity(tei)  # a new key is the same reranker


@pytest.mark.parametrize(
    "env",
    [
        {"rerank_endpoint": "tei:8080"},
        {"rerank_top_n": 0},
        {"rerank_api": "openai"},
        {"rerank_timeout_seconds": 0},
    ],
)
def test_bad_rerank_settings_are_refused_naming_the_setting(env: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=next(iter(env))):
        ServeSettings(**env)
