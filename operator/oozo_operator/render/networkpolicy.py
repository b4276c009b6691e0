"""NetworkPolicy NAME: ingress to the serving pods only on their HTTP port, only from the peers
spec.runtime.networkPolicy names (default: the pods of the corpus's own namespace) and from the
monitoring namespace that scrapes /metrics. Everything else that would reach the pods is dropped
by the cluster's network plugin (a plugin without NetworkPolicy support ignores it: the API key
still guards /api/*).

Kubelet probes come from the node, which NetworkPolicy implementations allow; the index and
backup Jobs serve nothing and are not selected."""

from __future__ import annotations

from typing import Any

from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by Kubernetes on every namespace


def wanted(corpus: Corpus) -> bool:
    return corpus.spec.runtime.network_policy.enabled


def peers(corpus: Corpus) -> list[dict[str, Any]]:
    """Who may connect: the spec's peers (as NetworkPolicyPeers) or, when it names none, the
    pods of the corpus's namespace; plus the monitoring namespace."""
    policy = corpus.spec.runtime.network_policy
    named = [peer.wire() for peer in policy.from_ or []]
    out = named or [{"podSelector": {}}]
    if policy.monitoring_namespace:
        selector = {"matchLabels": {NAMESPACE_NAME_LABEL: policy.monitoring_namespace}}
        out.append({"namespaceSelector": selector})
    return out


def render(corpus: Corpus) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": L.metadata(corpus, corpus.name, L.SERVER),
        "spec": {
            "podSelector": {"matchLabels": L.selector(corpus, L.SERVER)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": peers(corpus), "ports": [{"protocol": "TCP", "port": "http"}]}],
        },
    }
