"""Gather: every read of a reconcile pass, through `Kube`, into plain frozen dataclasses.

A pass reads at two moments. Before it writes anything (`before_writes` → `Observed`): the
referenced objects and the build or restore Jobs, which decide what to create. After its writes
(`after_writes` → `Workloads`): the Deployment, the corpus's pods and the backup Jobs, which
decide the status. The Deployment must be read after it is applied: a spec change that rolls it
out then shows a generation its controller has not observed yet (RollingOut), not the previous
rollout's Ready.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kubernetes.client.rest import ApiException

from oozo_operator import drill, merging, observe, observe_backup, policy, shards
from oozo_operator.api.crd import GROUP, KIND, VERSION
from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.conditions import Problem
from oozo_operator.kube import Kube
from oozo_operator.render import backup, job, merge_job, restore, verify
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus

API_VERSION = f"{GROUP}/{VERSION}"


@dataclass(frozen=True)
class Observed:
    """What a pass finds before it writes: the stored corpus and the children it may create."""

    generation: int
    status: dict[str, Any]  # the corpus's status as this pass found it ({} for a new corpus)
    missing: tuple[Problem, ...]  # referenced Secrets, ConfigMaps and PVCs that do not exist
    source_revision: str  # resourceVersion of a source ConfigMap, else ""
    # The builds of the current index hash, oldest first; while spec.restore applies (nothing
    # published yet), the restore Job of the current spec.restore instead (at most one).
    builds: tuple[observe.Build, ...] = ()


@dataclass(frozen=True)
class Workloads:
    """What runs for the corpus, read after the pass's writes."""

    rollout: observe.Rollout
    pods: tuple[dict[str, Any], ...]  # every pod of the corpus: server, build and backup pods
    # The newest finished backup Job not yet in status.lastBackup; None when there is none.
    new_backup: observe_backup.BackupRun | None = None
    # The newest finished restore drill not yet in status.lastVerifiedBackup.
    new_drill: drill.Drill | None = None


def corpus_body(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    """The stored RagCorpus; None when it is gone or being deleted (GC does the rest)."""
    body = kube.get(API_VERSION, KIND, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    return body


def before_writes(kube: Kube, body: dict[str, Any], corpus: Corpus) -> Observed:
    status = body.get("status") or {}
    missing, revision = _missing_references(kube, corpus)
    corpus = dataclasses.replace(corpus, source_revision=revision)
    # spec.restore replaces the first build: only while nothing is published yet.
    restoring = restore.wanted(corpus, status.get("index"))
    return Observed(
        generation=int(body["metadata"].get("generation") or 1),
        status=status,
        missing=tuple(missing),
        source_revision=revision,
        builds=tuple(_restores(kube, corpus) if restoring else _builds(kube, corpus)),
    )


def after_writes(kube: Kube, corpus: Corpus, status: dict[str, Any]) -> Workloads:
    """`status`: the corpus's status as the pass found it (what is already reported)."""
    deployment = kube.get("apps/v1", "Deployment", corpus.namespace, corpus.name)
    pods = kube.list("v1", "Pod", corpus.namespace, {L.INSTANCE: corpus.name, L.MANAGED_BY: L.MANAGER})
    return Workloads(
        rollout=observe.rollout_of(deployment),
        pods=tuple(pods),
        new_backup=new_backup(kube, corpus, status.get("lastBackup")),
        new_drill=new_drill(kube, corpus, status.get("lastVerifiedBackup")),
    )


def new_backup(kube: Kube, corpus: Corpus, last: dict[str, Any] | None) -> observe_backup.BackupRun | None:
    """The newest finished backup Job, unless status.lastBackup already holds it."""
    return _newest_finished(
        kube, corpus, L.BACKUP, last, lambda j, pods: observe_backup.backup_of(j, pods, backup.CONTAINER)
    )


def new_drill(kube: Kube, corpus: Corpus, last: dict[str, Any] | None) -> drill.Drill | None:
    """The newest finished restore drill Job, unless status.lastVerifiedBackup already holds it."""
    return _newest_finished(
        kube, corpus, L.VERIFY, last, lambda j, pods: drill.drill_of(j, pods, verify.CONTAINER)
    )


RunT = TypeVar("RunT")


def _newest_finished(
    kube: Kube,
    corpus: Corpus,
    component: str,
    last: dict[str, Any] | None,
    read: Callable[[dict[str, Any], list[dict[str, Any]]], RunT | None],
) -> RunT | None:
    """The newest finished Job of `component`, read by `read`, unless `last` (its status) already
    names it. Pods are read only for Jobs newer than that one, newest first, until one turns out
    finished."""
    jobs = kube.list("batch/v1", "Job", corpus.namespace, {L.INSTANCE: corpus.name, L.COMPONENT: component})
    jobs.sort(key=lambda j: (j["metadata"].get("creationTimestamp", ""), j["metadata"]["name"]))
    for j in reversed(jobs):
        name = j["metadata"]["name"]
        if last and last.get("job") == name:
            return None  # the newest finished one is already in status
        pods = kube.list("v1", "Pod", corpus.namespace, {"batch.kubernetes.io/job-name": name})
        run = read(j, pods)
        if run is None:
            continue  # still running (or retrying): look at the one before
        return run
    return None


def _restores(kube: Kube, corpus: Corpus) -> list[observe.Build]:
    """The restore Job of the current spec.restore, read like a build (at most one)."""
    labels = {
        L.INSTANCE: corpus.name,
        L.COMPONENT: L.RESTORE,
        restore.RESTORE_HASH: restore.restore_hash(corpus),
    }
    out = []
    for j in kube.list("batch/v1", "Job", corpus.namespace, labels):
        pods = kube.list(
            "v1", "Pod", corpus.namespace, {"batch.kubernetes.io/job-name": j["metadata"]["name"]}
        )
        out.append(observe.build_of(j, pods, restore.CONTAINER))
    return out[-1:]


def _builds(kube: Kube, corpus: Corpus) -> list[observe.Build]:
    """Builds for the current index hash (the Job and any refresh Jobs), oldest first. Pods
    are read only for the newest Job and the finished ones: that is all status needs."""
    jobs = kube.list(
        "batch/v1",
        "Job",
        corpus.namespace,
        {L.INSTANCE: corpus.name, L.COMPONENT: L.INDEX, L.INDEX_HASH: corpus.index_hash},
    )
    jobs.sort(key=lambda j: (j["metadata"].get("creationTimestamp", ""), j["metadata"]["name"]))
    # The merge Jobs of S3-staged parallel builds, read only when there is one to pair.
    merges: dict[str, dict[str, Any]] = {}
    if any(shards.merges_apart(j) for j in jobs):
        labels = {L.INSTANCE: corpus.name, L.COMPONENT: L.MERGE, L.INDEX_HASH: corpus.index_hash}
        merges = {m["metadata"]["name"]: m for m in kube.list("batch/v1", "Job", corpus.namespace, labels)}
    builds = []
    for i, j in enumerate(jobs):
        finished = (j.get("status") or {}).get("succeeded") or (j.get("status") or {}).get("failed")
        pods = _pods_of(kube, corpus, j) if i == len(jobs) - 1 or finished else []
        build = observe.build_of(j, pods, job.CONTAINER)
        if shards.merges_apart(j):
            name = merge_job.name(corpus)
            found = merges.get(name)
            merged = observe.build_of(found, _pods_of(kube, corpus, found), job.CONTAINER) if found else None
            build = merging.after_shards(build, merged, name)
        builds.append(build)
    return builds


def _pods_of(kube: Kube, corpus: Corpus, of_job: dict[str, Any]) -> list[dict[str, Any]]:
    return kube.list(
        "v1", "Pod", corpus.namespace, {"batch.kubernetes.io/job-name": of_job["metadata"]["name"]}
    )


def required_references(spec: RagCorpusSpec) -> list[tuple[str, str, str]]:
    """(kind, name, field) of every object the spec names that a pod of the corpus (the index
    Job, the restore Job, the server) mounts or reads by reference: missing, that pod could not
    start, so the corpus stalls naming the field instead. Left out on purpose, each for its
    reason: spec.backup.s3.credentialsSecret (a backup problem, reported as BackupPodCannotStart:
    it must not stop a serving corpus), spec.runtime.ingress.tls.secretName (read by the Ingress
    controller, not a pod of ours, and written later by cert-manager when it issues it), and
    spec.runtime.auth.apiKeySecretRef while auth is off (then nothing reads it)."""
    refs: list[tuple[str, str, str]] = []
    if spec.generation.provider == "openai" and spec.generation.api_key_secret_ref:
        refs.append(("Secret", spec.generation.api_key_secret_ref.name, "spec.generation.apiKeySecretRef"))
    auth_ref = spec.runtime.auth.api_key_secret_ref
    if spec.runtime.auth.enabled and auth_ref and auth_ref.name:
        refs.append(("Secret", auth_ref.name, "spec.runtime.auth.apiKeySecretRef"))
    for part, signing in (("backup", spec.backup), ("restore", spec.restore)):
        if signing is not None and signing.signing_key_secret_ref:
            refs.append(("Secret", signing.signing_key_secret_ref.name, f"spec.{part}.signingKeySecretRef"))
    redis = spec.runtime.cache.redis if spec.runtime.cache else None
    if redis is not None:
        refs.append(("Secret", redis.password_secret_ref.name, "spec.runtime.cache.redis.passwordSecretRef"))
    rerank = spec.retrieval.rerank
    if rerank is not None and rerank.api_key_secret_ref:  # env by reference: missing, the pod cannot start
        refs.append(("Secret", rerank.api_key_secret_ref.name, "spec.retrieval.rerank.apiKeySecretRef"))
    build = spec.index.build
    staged = build.staging.s3 if build and build.staging and build.parallelism > 1 else None
    if staged is not None and staged.credentials_secret:  # every shard pod's env, by reference
        refs.append(("Secret", staged.credentials_secret, "spec.index.build.staging.s3.credentialsSecret"))
    if spec.source.config_map:
        refs.append(("ConfigMap", spec.source.config_map.name, "spec.source.configMap"))
    if spec.source.pvc:
        refs.append(("PersistentVolumeClaim", spec.source.pvc.claim_name, "spec.source.pvc"))
    if spec.evaluation:  # mounted into the index pod: missing, the pod could not start
        refs.append(
            ("ConfigMap", spec.evaluation.questions.config_map, "spec.evaluation.questions.configMap")
        )
    embedding, restore_s3 = spec.embedding, spec.restore.s3 if spec.restore else None
    credentials = (
        (spec.source.s3 and spec.source.s3.credentials_secret, "spec.source.s3.credentialsSecret"),
        (spec.source.git and spec.source.git.credentials_secret, "spec.source.git.credentialsSecret"),
        (spec.source.http and spec.source.http.headers_secret and spec.source.http.headers_secret.name,
         "spec.source.http.headersSecret"),
        # the index Job's HF_TOKEN, the embeddings server's key (Job and server), the credentials
        # an s3:// model is copied with and those a restore reads its backup with
        (embedding.hub and embedding.hub.token_secret and embedding.hub.token_secret.name,
         "spec.embedding.hub.tokenSecret"),
        (embedding.api_key_secret_ref and embedding.api_key_secret_ref.name,
         "spec.embedding.apiKeySecretRef"),
        (embedding.s3 and embedding.s3.credentials_secret, "spec.embedding.s3.credentialsSecret"),
        (restore_s3 and restore_s3.credentials_secret, "spec.restore.s3.credentialsSecret"),
    )  # fmt: skip
    refs.extend(("Secret", secret, where) for secret, where in credentials if secret)
    if embedding.model_volume:  # mounted read-only into the index Job and the server
        refs.append(
            ("PersistentVolumeClaim", embedding.model_volume.claim_name, "spec.embedding.modelVolume")
        )
    return refs


def _missing_references(kube: Kube, corpus: Corpus) -> tuple[list[Problem], str]:
    """Referenced objects that do not exist, and the resourceVersion of a source ConfigMap.
    Every read is metadata-only (PartialObjectMetadata): the operator never reads a Secret's
    data, and needs no document bytes to notice that a ConfigMap changed."""
    problems, source_revision = [], ""
    for kind, ref_name, where in required_references(corpus.spec):
        found = kube.revision("v1", kind, corpus.namespace, ref_name)
        if found == "":
            problems.append(Problem(f"{kind}NotFound", f"{kind} {ref_name} ({where}) not found"))
        elif found and where == "spec.source.configMap":
            source_revision = found
    return problems, source_revision


def unusable_references(kube: Kube, corpus: Corpus, rules: policy.CorpusPolicy) -> list[Problem]:
    """The referenced Secrets and PVCs that do not carry the policy's opt-in label, from one
    metadata-only read each (never a Secret's data). An object the operator may not read (403)
    counts as not opted in: what cannot be checked is not used."""
    if rules.opt_in_label is None:
        return []
    problems = []
    for ref in policy.references(corpus.spec):
        try:
            found = kube.metadata("v1", ref.kind, corpus.namespace, ref.name)
        except ApiException as err:
            if err.status != 403:
                raise
            found = None
        problem = policy.unusable(ref, found, rules.opt_in_label)
        if problem:
            problems.append(problem)
    return problems
