"""The commands that change something: `reindex` (an annotation the operator watches),
`backup` (a Job from the backup CronJob's template, as `kubectl create job --from=cronjob/X`)
and `rollback` (spec.index.pinnedVersion, which the operator rolls the server to)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kubernetes.client import V1Job
from kubernetes.client.rest import ApiException

from oozo_kubectl import names as N
from oozo_kubectl.kube import Cluster, PluginError, describe_api_error


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reindex(cluster: Cluster, name: str, requested_at: str | None = None) -> str:
    """Set the reindex annotation; the operator folds it into the index hash, so a new value
    means a new index Job. Returns the value written."""
    cluster.corpus(name)  # a clear "not found" before the patch
    value = requested_at or now_rfc3339()
    _patch_corpus(cluster, name, {"metadata": {"annotations": {N.REINDEX_ANNOTATION: value}}})
    return value


def _patch_corpus(cluster: Cluster, name: str, patch: dict[str, Any]) -> None:
    """A JSON merge patch of the RagCorpus (None removes a field)."""
    try:
        cluster.custom.patch_namespaced_custom_object(
            N.GROUP, N.VERSION, cluster.namespace, N.PLURAL, name, patch
        )
    except ApiException as err:
        raise PluginError(describe_api_error(err, f"patch ragcorpus {cluster.namespace}/{name}")) from None


def rollback_target(corpus: dict[str, Any], version: str | None) -> str:
    """The version `rollback` pins: the one asked for, which must be on the volume
    (status.index.available), or else the one built before the serving one."""
    name = corpus["metadata"]["name"]
    index = (corpus.get("status") or {}).get("index") or {}
    available = [a["version"] for a in index.get("available") or [] if a.get("version")]
    if not available:
        raise PluginError(
            f"ragcorpus {name} lists no index versions (status.index.available): it has no index yet, "
            "or its operator predates rollback"
        )
    listed = ", ".join(available)
    if version is not None:
        if version not in available:
            raise PluginError(f"version {version} is not on the index volume of {name}; available: {listed}")
        return version
    serving = index.get("servingVersion") or index.get("version")
    older = available[available.index(serving) + 1 :] if serving in available else []
    if not older:
        raise PluginError(
            f"no version older than the serving {serving} is on the volume; available: {listed}"
        )
    return older[0]


def rollback(cluster: Cluster, name: str, version: str | None = None) -> str:
    """Pin the corpus to `version` (default: the one before the serving one); returns it."""
    target = rollback_target(cluster.corpus(name), version)
    _patch_corpus(cluster, name, {"spec": {"index": {"pinnedVersion": target}}})
    return target


def unpin(cluster: Cluster, name: str) -> str | None:
    """Remove spec.index.pinnedVersion; returns the pin that was there (None: there was none)."""
    corpus = cluster.corpus(name)
    was = ((corpus.get("spec") or {}).get("index") or {}).get("pinnedVersion")
    if was:
        _patch_corpus(cluster, name, {"spec": {"index": {"pinnedVersion": None}}})
    return was


def manual_job(cronjob: dict[str, Any], job_name: str) -> dict[str, Any]:
    """The Job `kubectl create job --from=cronjob/X` creates: the jobTemplate's metadata and spec,
    the instantiate=manual annotation, and a controller ownerReference to the CronJob, so the
    Job goes when the CronJob goes and the operator reads its result like a scheduled one."""
    template = copy.deepcopy(cronjob["spec"]["jobTemplate"])
    meta = template.get("metadata") or {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name,
            "namespace": cronjob["metadata"]["namespace"],
            "labels": meta.get("labels") or {},
            "annotations": {**(meta.get("annotations") or {}), N.MANUAL_ANNOTATION: "manual"},
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": cronjob["metadata"]["name"],
                    "uid": cronjob["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": template["spec"],
    }


def manual_job_name(corpus: str, at: dt.datetime | None = None, cronjob: str | None = None) -> str:
    stamp = (at or dt.datetime.now(dt.UTC)).strftime("%Y%m%d%H%M%S")
    return f"{cronjob or N.backup_cronjob_name(corpus)}-manual-{stamp}"[:63]


def backup(cluster: Cluster, name: str, job_name: str | None = None) -> str:
    """Create an on-demand backup Job; returns its name."""
    corpus = cluster.corpus(name)
    if not (corpus.get("spec") or {}).get("backup"):
        raise PluginError(f"ragcorpus {cluster.namespace}/{name} has no spec.backup: nothing to back up to")
    return _job_from_cronjob(cluster, name, N.backup_cronjob_name(name), job_name)


def verify(cluster: Cluster, name: str, job_name: str | None = None) -> str:
    """Create an on-demand restore drill Job; returns its name."""
    corpus = cluster.corpus(name)
    if not ((corpus.get("spec") or {}).get("backup") or {}).get("verify"):
        raise PluginError(
            f"ragcorpus {cluster.namespace}/{name} has no spec.backup.verify: no restore drill to run "
            "(docs/backup.md#restore-drills)"
        )
    return _job_from_cronjob(cluster, name, N.verify_cronjob_name(name), job_name)


def _job_from_cronjob(cluster: Cluster, name: str, cron_name: str, job_name: str | None) -> str:
    try:
        cronjob = cluster.plain(cluster.batch.read_namespaced_cron_job(cron_name, cluster.namespace))
    except ApiException as err:
        if err.status == 404:
            raise PluginError(
                f"CronJob {cluster.namespace}/{cron_name} does not exist yet: the operator creates it "
                f"once the corpus has an index (see `kubectl oozo status {name}`)"
            ) from None
        raise PluginError(describe_api_error(err, f"get cronjob {cluster.namespace}/{cron_name}")) from None
    job = manual_job(cronjob, job_name or manual_job_name(name, cronjob=cron_name))
    try:
        cluster.batch.create_namespaced_job(cluster.namespace, V1Job.model_validate(job))
    except ApiException as err:
        raise PluginError(
            describe_api_error(err, f"create job {cluster.namespace}/{job['metadata']['name']}")
        ) from None
    return str(job["metadata"]["name"])
