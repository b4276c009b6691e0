"""spec.retrieval.rerank (issue 15, optional reranking of the top N): endpoint, api, model, top N
and timeout reach the server's settings through the ConfigMap, the API key only as a secretKeyRef
env of the Deployment; a corpus without the field renders no rerank setting; the key's Secret is
a reference the corpus policy checks and the endpoint a remote host it checks; bad values are
refused naming the field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from oozo_contract.serve_settings import ServeSettings
from oozo_operator import policy as P
from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.config import OperatorSettings
from oozo_operator.render import configmap, deployment
from oozo_operator.render.corpus import Corpus
from tests.operator_builders import Modifier, at, make_corpus, with_rerank

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
TEI = "http://tei-reranker.models:8080"


def corpus_of(*mods: Modifier) -> Corpus:
    obj = make_corpus("docs", *mods, namespace="ns")
    obj["metadata"]["uid"] = "uid-1"
    return Corpus.from_body(obj, OperatorSettings())


def server_env(corpus: Corpus) -> dict[str, Any]:
    [container] = deployment.render(corpus, "v1")["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_the_server_gets_the_rerank_settings_and_the_key_by_reference() -> None:
    corpus = corpus_of(
        with_rerank(TEI + "/v1", api="cohere", secret="reranker", model="BAAI/bge-reranker-base", topN=30)
    )
    data = configmap.render(corpus)["data"]
    assert data["OOZO_RERANK_ENDPOINT"] == TEI + "/v1"
    assert data["OOZO_RERANK_API"] == "cohere"
    assert data["OOZO_RERANK_MODEL"] == "BAAI/bge-reranker-base"
    assert data["OOZO_RERANK_TOP_N"] == "30"
    assert "OOZO_RERANK_API_KEY" not in data  # a ConfigMap never holds the key
    settings = ServeSettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in data.items()})
    assert (settings.rerank_endpoint, settings.rerank_top_n) == (TEI + "/v1", 30)
    assert server_env(corpus)["OOZO_RERANK_API_KEY"] == {
        "secretKeyRef": {"name": "reranker", "key": "api-key"}
    }


def test_a_corpus_without_rerank_renders_no_rerank_setting() -> None:
    corpus = corpus_of()
    rendered = json.dumps([configmap.render(corpus), deployment.render(corpus, "v1")])
    assert "RERANK" not in rendered  # off; the goldens stay as they were


def test_top_n_defaults_to_20_and_a_timeout_is_rendered_when_set() -> None:
    data = configmap.render(corpus_of(with_rerank(timeoutSeconds=0.5)))["data"]
    assert (data["OOZO_RERANK_TOP_N"], data["OOZO_RERANK_API"]) == ("20", "tei")
    assert data["OOZO_RERANK_TIMEOUT_SECONDS"] == "0.5"
    assert "OOZO_RERANK_API_KEY" not in server_env(corpus_of(with_rerank()))


def test_a_changed_rerank_setting_restarts_the_server_pods() -> None:
    def config_hash(corpus: Corpus) -> str:
        return str(deployment.render(corpus, "v1")["spec"]["template"]["metadata"]["annotations"])

    assert config_hash(corpus_of(with_rerank(topN=10))) != config_hash(corpus_of(with_rerank(topN=40)))


def test_the_key_secret_is_a_reference_and_the_reranker_a_remote_endpoint() -> None:
    spec = RagCorpusSpec.model_validate(make_corpus("docs", with_rerank(TEI, secret="reranker"))["spec"])
    assert [(r.kind, r.name, r.field) for r in P.references(spec)] == [
        ("Secret", "reranker", "spec.retrieval.rerank.apiKeySecretRef")
    ]
    assert ("spec.retrieval.rerank.endpoint", TEI) in P.remote_endpoints(spec)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"topN": 0}, "topN"),
        ({"topN": 101}, "topN"),
        ({"api": "openai"}, "api"),
        ({"endpoint": "tei-reranker:8080"}, "endpoint"),
        ({"endpoint": "http://user:hunter2@tei:8080"}, "endpoint"),
        ({"timeoutSeconds": 0}, "timeoutSeconds"),
    ],
)
def test_a_bad_rerank_is_refused_naming_the_field(fields: dict[str, Any], named: str) -> None:
    body = make_corpus("docs", with_rerank())["spec"]
    body["retrieval"]["rerank"].update(fields)
    with pytest.raises(ValidationError) as caught:
        RagCorpusSpec.model_validate(body)
    assert named in str(caught.value)
    assert "hunter2" not in json.dumps([e["msg"] for e in caught.value.errors(include_input=False)])


def test_an_api_is_required() -> None:
    body = make_corpus("docs", with_rerank())["spec"]
    del body["retrieval"]["rerank"]["api"]
    with pytest.raises(ValidationError, match="api"):
        RagCorpusSpec.model_validate(body)


def test_the_rerank_example_in_the_docs_renders_with_and_without_its_commented_fields() -> None:
    section = (REPO / "docs" / "querying.md").read_text().split("## Reranking", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    # the commented fields are part of the example too: uncommented, they must hold as well
    uncommented = re.sub(r"^(\s*)# ", r"\1", block.group(1), flags=re.M)
    for text in (block.group(1), uncommented):
        retrieval = yaml.safe_load(text)["spec"]["retrieval"]
        corpus = corpus_of(at("spec.retrieval", retrieval))
        data = configmap.render(corpus)["data"]
        assert data["OOZO_RERANK_ENDPOINT"] == "http://tei-reranker.models:8080"
    assert server_env(corpus)["OOZO_RERANK_API_KEY"] == {
        "secretKeyRef": {"name": "reranker", "key": "api-key"}
    }
    assert data["OOZO_RERANK_MODEL"] == "BAAI/bge-reranker-base"
