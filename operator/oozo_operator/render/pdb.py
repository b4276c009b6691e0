"""PodDisruptionBudget NAME when more than one replica can run: a drain keeps one serving."""

from __future__ import annotations

from typing import Any

from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus


def wanted(corpus: Corpus) -> bool:
    rt = corpus.spec.runtime
    most = rt.autoscaling.min_replicas if rt.autoscaling else rt.replicas
    return most > 1


def render(corpus: Corpus) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": L.metadata(corpus, corpus.name, L.SERVER),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": L.selector(corpus, L.SERVER)}},
    }
