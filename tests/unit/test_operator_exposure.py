"""spec.runtime.ingress and spec.runtime.httpRoute render an Ingress NAME and an HTTPRoute NAME
pointing at the corpus's Service on port 80; the API models refuse what the API server would."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.config import OperatorSettings
from oozo_operator.render import exposure
from oozo_operator.render.corpus import Corpus
from tests.operator_builders import at, make_corpus

BACKEND = {"service": {"name": "docs", "port": {"number": 80}}}


def corpus_of(*mods: Any) -> Corpus:
    body = make_corpus("docs", *mods, namespace="ns")
    body["metadata"]["uid"] = "uid-1"
    return Corpus.from_body(body, OperatorSettings())


def ingress_of(spec: dict[str, Any]) -> dict[str, Any]:
    c = corpus_of(at("spec.runtime.ingress", spec))
    assert exposure.ingress_wanted(c) and not exposure.http_route_wanted(c)
    return exposure.render_ingress(c)


def test_no_ingress_and_no_route_by_default() -> None:
    c = corpus_of()
    assert not exposure.ingress_wanted(c) and not exposure.http_route_wanted(c)
    assert exposure.tls_secret_name(c) is None


@pytest.mark.parametrize(
    ("spec", "tls", "annotations"),
    [
        ({"host": "kb.example.com"}, None, None),
        (
            {"host": "kb.example.com", "tls": {}},
            [{"hosts": ["kb.example.com"], "secretName": "docs-tls"}],
            None,
        ),
        (
            {"host": "kb.example.com", "tls": {"secretName": "kb-cert"}},
            [{"hosts": ["kb.example.com"], "secretName": "kb-cert"}],
            None,
        ),
        (
            {"host": "kb.example.com", "tls": {"issuer": "team-ca"}},
            [{"hosts": ["kb.example.com"], "secretName": "docs-tls"}],
            {"cert-manager.io/issuer": "team-ca"},
        ),
        (
            {
                "host": "kb.example.com",
                "tls": {"clusterIssuer": "letsencrypt"},
                "annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "120"},
            },
            [{"hosts": ["kb.example.com"], "secretName": "docs-tls"}],
            {
                "nginx.ingress.kubernetes.io/proxy-read-timeout": "120",
                "cert-manager.io/cluster-issuer": "letsencrypt",
            },
        ),
    ],
)
def test_ingress_tls_and_annotations(
    spec: dict[str, Any], tls: list[dict[str, Any]] | None, annotations: dict[str, str] | None
) -> None:
    rendered = ingress_of(spec)
    assert rendered["spec"].get("tls") == tls
    assert rendered["metadata"].get("annotations") == annotations
    assert rendered["spec"]["rules"] == [
        {
            "host": "kb.example.com",
            "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": BACKEND}]},
        }
    ]
    assert rendered["metadata"]["ownerReferences"][0]["uid"] == "uid-1"


def test_ingress_class_and_path() -> None:
    rendered = ingress_of({"host": "kb.example.com", "className": "nginx", "path": "/rag"})
    assert rendered["spec"]["ingressClassName"] == "nginx"
    assert rendered["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/rag"


def test_http_route_attaches_to_the_gateways_and_points_at_the_service() -> None:
    route = {"parentRefs": [{"name": "gw", "namespace": "gateways"}], "hostnames": ["kb.example.com"]}
    c = corpus_of(at("spec.runtime.httpRoute", route))
    assert exposure.http_route_wanted(c)
    rendered = exposure.render_http_route(c)
    assert rendered["apiVersion"] == "gateway.networking.k8s.io/v1" and rendered["kind"] == "HTTPRoute"
    assert rendered["spec"] == {
        "parentRefs": [{"name": "gw", "namespace": "gateways"}],
        "hostnames": ["kb.example.com"],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [{"name": "docs", "port": 80}],
            }
        ],
    }


@pytest.mark.parametrize(
    "runtime",
    [
        {"ingress": {"host": "Not A Host"}},
        {"ingress": {"host": "kb.example.com", "path": "no-slash"}},
        {"ingress": {"host": "kb.example.com", "path": "/a?b"}},
        {"ingress": {"host": "kb.example.com", "tls": {"issuer": "a", "clusterIssuer": "b"}}},
        {"httpRoute": {"parentRefs": []}},
        {"httpRoute": {"parentRefs": [{"name": "gw"}], "hostnames": ["UPPER.example.com"]}},
    ],
)
def test_bad_exposure_is_refused(runtime: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RagCorpusSpec.model_validate({"source": {"configMap": {"name": "d"}}, "runtime": runtime})
