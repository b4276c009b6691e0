"""HorizontalPodAutoscaler NAME (autoscaling/v2), only when spec.runtime.autoscaling is set.

With a ReadWriteOnce index volume every replica is pinned to one node (render/pod.py), so the
HPA can only add replicas that fit there; it never causes a multi-attach error."""

from __future__ import annotations

from typing import Any

from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus


def wanted(corpus: Corpus) -> bool:
    return corpus.spec.runtime.autoscaling is not None


def render(corpus: Corpus) -> dict[str, Any]:
    auto = corpus.spec.runtime.autoscaling
    assert auto is not None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": L.metadata(corpus, corpus.name, L.SERVER),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": corpus.name},
            "minReplicas": auto.min_replicas,
            "maxReplicas": auto.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": auto.target_cpu_utilization_percentage,
                        },
                    },
                }
            ],
        },
    }
