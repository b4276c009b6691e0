"""Ingress NAME and HTTPRoute NAME: the corpus's Service (port 80, render/service.py) reached from
outside the cluster, when spec.runtime.ingress or spec.runtime.httpRoute asks for it.

TLS on the Ingress names a Secret (NAME-tls unless given); with a cert-manager issuer the
Ingress carries cert-manager's annotation and cert-manager writes that Secret. The HTTPRoute has
no TLS of its own: the Gateway's listener terminates it."""

from __future__ import annotations

from typing import Any

from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus

SERVICE_PORT = 80  # render/service.py
CERT_MANAGER_ISSUER = "cert-manager.io/issuer"
CERT_MANAGER_CLUSTER_ISSUER = "cert-manager.io/cluster-issuer"


def tls_secret_name(corpus: Corpus) -> str | None:
    """The Secret the Ingress serves its certificate from, or None without TLS."""
    ingress = corpus.spec.runtime.ingress
    if ingress is None or ingress.tls is None:
        return None
    return ingress.tls.secret_name or f"{corpus.name}-tls"


def ingress_wanted(corpus: Corpus) -> bool:
    return corpus.spec.runtime.ingress is not None


def render_ingress(corpus: Corpus) -> dict[str, Any]:
    ingress = corpus.spec.runtime.ingress
    assert ingress is not None
    annotations = dict(ingress.annotations or {})
    if ingress.tls and ingress.tls.issuer:
        annotations[CERT_MANAGER_ISSUER] = ingress.tls.issuer
    if ingress.tls and ingress.tls.cluster_issuer:
        annotations[CERT_MANAGER_CLUSTER_ISSUER] = ingress.tls.cluster_issuer
    metadata = L.metadata(corpus, corpus.name, L.SERVER)
    if annotations:
        metadata["annotations"] = annotations
    backend = {"service": {"name": corpus.name, "port": {"number": SERVICE_PORT}}}
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": ingress.host,
                "http": {"paths": [{"path": ingress.path, "pathType": "Prefix", "backend": backend}]},
            }
        ]
    }
    if ingress.class_name:
        spec["ingressClassName"] = ingress.class_name
    secret = tls_secret_name(corpus)
    if secret:
        spec["tls"] = [{"hosts": [ingress.host], "secretName": secret}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}


def http_route_wanted(corpus: Corpus) -> bool:
    return corpus.spec.runtime.http_route is not None


def render_http_route(corpus: Corpus) -> dict[str, Any]:
    route = corpus.spec.runtime.http_route
    assert route is not None
    spec: dict[str, Any] = {
        "parentRefs": [ref.wire() for ref in route.parent_refs],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": route.path}}],
                "backendRefs": [{"name": corpus.name, "port": SERVICE_PORT}],
            }
        ],
    }
    if route.hostnames:
        spec["hostnames"] = list(route.hostnames)
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": L.metadata(corpus, corpus.name, L.SERVER),
        "spec": spec,
    }
