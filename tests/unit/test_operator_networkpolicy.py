"""spec.runtime.networkPolicy renders a NetworkPolicy NAME that lets only the named peers and the
monitoring namespace reach the server's HTTP port."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from oozo_operator.config import OperatorSettings
from oozo_operator.render import networkpolicy
from oozo_operator.render.corpus import Corpus
from tests.operator_builders import make_corpus, with_network_policy

FRONTEND = {"podSelector": {"matchLabels": {"app": "chat-frontend"}}}
SUPPORT_NS = {
    "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["support"]}]}
}


def corpus_of(*mods: Any) -> Corpus:
    body = make_corpus("docs", *mods, namespace="ns")
    body["metadata"]["uid"] = "uid-1"
    return Corpus.from_body(body, OperatorSettings())


def test_by_default_only_the_corpus_namespace_and_monitoring_reach_the_server_port() -> None:
    c = corpus_of()
    assert networkpolicy.wanted(c)
    policy = networkpolicy.render(c)
    assert policy["metadata"]["name"] == "docs" and policy["metadata"]["namespace"] == "ns"
    assert policy["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "docs"
    [rule] = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": "http"}]
    assert rule["from"] == [
        {"podSelector": {}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
    ]


def test_named_peers_replace_the_namespace_default_and_monitoring_is_configurable() -> None:
    c = corpus_of(with_network_policy(peers=[FRONTEND, SUPPORT_NS], monitoring="observability"))
    assert networkpolicy.render(c)["spec"]["ingress"][0]["from"] == [
        FRONTEND,
        SUPPORT_NS,
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}},
    ]


def test_no_monitoring_namespace_leaves_only_the_named_peers() -> None:
    c = corpus_of(with_network_policy(peers=[FRONTEND], monitoring=""))
    assert networkpolicy.render(c)["spec"]["ingress"][0]["from"] == [FRONTEND]


def test_disabled_is_not_wanted() -> None:
    assert not networkpolicy.wanted(corpus_of(with_network_policy(False)))


@pytest.mark.parametrize(
    "policy",
    [
        {"peers": [{}]},  # a peer that selects nothing in particular is refused, not "everyone"
        {"monitoring": "Not_A_Namespace"},
        {"peers": [{"podSelector": {"matchExpressions": [{"key": "a", "operator": "Matches"}]}}]},
    ],
)
def test_bad_network_policies_are_refused(policy: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        corpus_of(with_network_policy(**policy))
