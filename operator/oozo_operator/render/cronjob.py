"""CronJob NAME-refresh: re-runs the index build on a schedule, for sources that change outside
Kubernetes. Its Jobs carry the same labels and index hash as the index Job, so the operator
reads their results the same way; unchanged documents reuse cached embeddings, so a refresh
that finds nothing new is cheap. concurrencyPolicy Forbid: two builds never race."""

from __future__ import annotations

from typing import Any

from oozo_operator.render import job
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus


def wanted(corpus: Corpus) -> bool:
    return corpus.spec.refresh is not None and job.unsupported_source(corpus) is None


def name(corpus: Corpus) -> str:
    return f"{corpus.name}-refresh"


def render(corpus: Corpus) -> dict[str, Any]:
    assert corpus.spec.refresh is not None
    extra = {L.INDEX_HASH: corpus.index_hash}
    job_labels = {**L.labels(corpus, L.INDEX), **extra}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": L.metadata(corpus, name(corpus), L.REFRESH),
        "spec": {
            "schedule": corpus.spec.refresh.schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 300,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {"labels": job_labels}, "spec": job.job_spec(corpus, job_labels)},
        },
    }
