"""CronJob NAME-refresh: re-runs the index build on a schedule, for sources that change outside
Kubernetes. Its Jobs carry the same labels and index hash as the index Job, so the operator
reads their results the same way. A refresh that finds nothing new costs nothing: a fetched
source's `fetch` step runs with `--unless-revision` set to the published status.sourceRevision,
so a source still at it downloads nothing and the index step publishes nothing without reading
a document or loading the model (docs/operator.md#refreshing-a-source); a changed source is
fetched incrementally (ETags, a Git fetch). concurrencyPolicy Forbid: two refreshes never race.

The revision is in the CronJob's template, so the CronJob is re-applied when a build adopts a
new revision (plan.py): one update per new source revision, which starts no Job. The index Job
never carries it: its pod template, and its name, must not change with every revision."""

from __future__ import annotations

from typing import Any

from oozo_operator.render import job
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus


def wanted(corpus: Corpus) -> bool:
    return corpus.spec.refresh is not None


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
            "jobTemplate": {
                "metadata": {"labels": job_labels},
                "spec": job.job_spec(corpus, job_labels, unless_revision=corpus.published_source_revision),
            },
        },
    }
