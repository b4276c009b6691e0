"""Service NAME: port 80 → the server's 8000, so the endpoint is http://NAME.NS.svc/api/query."""

from __future__ import annotations

from typing import Any

from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus


def render(corpus: Corpus) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": L.metadata(corpus, corpus.name, L.SERVER),
        "spec": {
            "type": "ClusterIP",
            "selector": L.selector(corpus, L.SERVER),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
