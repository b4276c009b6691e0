"""Plan: what one reconcile pass writes, decided from what it observed (pure: no I/O, no clock).

The writes come out in the order the API server sees them: the spec-only children first (PVC,
generated Secret, Service), then a build or restore Job if one is due, the server's ConfigMap
and Deployment, and last the optional children, applied when wanted and deleted when they may
exist. Beside the writes, the plan carries what the status is computed from: the version
published after this pass, the newest build (including the one this pass creates) and the
problems found so far.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oozo_operator import conditions as C
from oozo_operator import pinning
from oozo_operator.gather import Observed
from oozo_operator.observe import Build
from oozo_operator.render import (
    backup,
    configmap,
    cronjob,
    deployment,
    exposure,
    hpa,
    job,
    merge_job,
    networkpolicy,
    pdb,
    pvc,
    restore,
    secret,
    service,
    verify,
)
from oozo_operator.render.corpus import Corpus


@dataclass(frozen=True)
class Apply:
    """Server-side apply of a rendered child."""

    obj: dict[str, Any]


@dataclass(frozen=True)
class Create:
    """Create once; an existing object (409) is kept as it is."""

    obj: dict[str, Any]


@dataclass(frozen=True)
class Delete:
    api_version: str
    kind: str
    namespace: str
    name: str


Write = Apply | Create | Delete


@dataclass(frozen=True)
class Plan:
    corpus: Corpus  # as rendered: the spec with the observed source revision
    observed: Observed
    writes: tuple[Write, ...]
    published: dict[str, Any] | None  # status.index after this pass
    build: Build | None  # the newest build, or the one this pass creates
    problems: tuple[C.Problem, ...]  # missing references


def plan(observed: Observed, corpus: Corpus, *, full: bool, new_api_key: str) -> Plan:
    """`full=False` (child events) gives a light pass once this generation was applied in full:
    the children that only the spec shapes (PVC, Service, Secret, HPA, PDB, CronJobs) cannot
    change between spec changes, and a burst of pod events should not cost five needless API
    calls each. `new_api_key` is the key a generated API-key Secret gets if it does not exist."""
    corpus = dataclasses.replace(corpus, source_revision=observed.source_revision)
    before = observed.status
    problems = list(observed.missing)
    published = before.get("index")
    stalled: dict[str, Any] = next(
        (c for c in before.get("conditions") or [] if c.get("type") == C.STALLED), {}
    )
    light = (
        not full
        and before.get("observedGeneration") == observed.generation
        # Problems met while writing are only seen by writing again: a full pass retries them.
        and stalled.get("reason") not in ("ApplyRefused", "NameConflict")
        # A fetched source's status.sourceRevision is what its last build fetched, not an input.
        and (corpus.spec.source.fetched or (before.get("sourceRevision") or "") == corpus.source_revision)
    )
    writes: list[Write] = []
    if not light:
        writes.append(Apply(pvc.render(corpus)))
        if secret.wanted(corpus):
            writes.append(Create(secret.render(corpus, new_api_key)))  # 409 → keep the existing key
        writes.append(Apply(service.render(corpus)))

    restoring = restore.wanted(corpus, published)
    newest = observed.builds[-1] if observed.builds else None
    if restoring and newest:
        newest = _restoring(newest, corpus)
    done = [b for b in observed.builds if b.state == "succeeded" and b.result]
    if done and (not published or done[-1].job != published.get("job")):
        # A build reported a new version: it becomes what the server is pinned to.
        published = {**done[-1].result, "specHash": corpus.index_hash}  # type: ignore[dict-item]
    if published and newest and newest.evaluation and newest.evaluation != published.get("evaluation"):
        # A build that failed the quality gate published nothing; its scores are still news.
        published = {**published, "evaluation": newest.evaluation}
    if corpus.spec.source.fetched and published and published.get("specHash") == corpus.index_hash:
        # Only a version built for this spec may let a refresh skip: after a change of include
        # globs, chunking or model whose build has not been adopted, the refresh must build.
        corpus = dataclasses.replace(corpus, published_source_revision=published.get("sourceRevision") or "")
    chosen = pinning.serving(corpus.spec.index.pinned_version, published, before.get("index"))
    if published:
        published = _with_serving(published, chosen.version, before.get("index"))
    needs_build = not published or published.get("specHash") != corpus.index_hash
    if needs_build and newest is None and not problems:
        # The Job is created in this pass: status reports it running from now on.
        if restoring:
            writes.append(Create(restore.render(corpus)))
            newest = _restoring(Build("running", restore.name(corpus)), corpus)
        else:
            # Retention in the build keeps the version being served, whatever `current` says
            # (and the pinned one: job.index_env).
            writes.append(Create(job.render(corpus, chosen.version)))
            newest = Build(
                "running",
                corpus.job_name,
                reason="Indexing",
                message=f"Job {corpus.job_name} is building the index",
            )

    elif needs_build and newest is not None and newest.merge_due and not problems and not restoring:
        # Every shard of an S3-staged build is staged: the merge Job publishes (merging.py).
        writes.append(Create(merge_job.render(corpus, chosen.version)))

    model = chosen.model
    # A light pass re-applies the server only when it adopted a new version: otherwise the
    # ConfigMap and Deployment are exactly what the last full pass applied (SSA would no-op,
    # but each no-op is still a write request the API server has to process).
    if not light or published != before.get("index"):
        writes.append(Apply(configmap.render(corpus, model)))
        if chosen.version and not problems:
            # The memory measured for the newest build holds for the version served when it is
            # that one; a pinned older version gets the resources of an unmeasured one.
            same = published is not None and published.get("version") == chosen.version
            measured = (published or {}).get("vectorIndex") or {} if same else {}
            memory = measured.get("memoryBytes")
            writes.append(Apply(deployment.render(corpus, chosen.version, model, memory)))
    # An optional child can only have become unwanted through a spec change not yet handled.
    may_exist = observed.generation > 1 and before.get("observedGeneration") != observed.generation
    if light and published != before.get("index") and cronjob.wanted(corpus) and corpus.spec.source.fetched:
        writes.append(Apply(cronjob.render(corpus)))  # its --unless-revision follows the adopted version
    if not light:
        for child in OPTIONAL_CHILDREN:
            if child.wanted(corpus):
                writes.append(Apply(child.render(corpus)))
            elif may_exist:
                writes.append(Delete(child.api_version, child.kind, corpus.namespace, child.name(corpus)))
    if chosen.problem:  # reported, but blocks nothing: the served version keeps serving
        problems.append(chosen.problem)
    return Plan(corpus, observed, tuple(writes), published, newest, tuple(problems))


def _with_serving(
    published: dict[str, Any], serving: str | None, before: dict[str, Any] | None
) -> dict[str, Any]:
    """status.index.servingVersion is there only while it differs from `version` (a pin serves an
    older version); None removes it from the status (a merge patch) once it no longer differs."""
    out = {k: v for k, v in published.items() if k != "servingVersion"}
    if serving and serving != published.get("version"):
        out["servingVersion"] = serving
    elif (before or {}).get("servingVersion"):
        out["servingVersion"] = None
    return out


def _restoring(build: Build, corpus: Corpus) -> Build:
    """A restore Job reads like a build; while it runs, say what it restores."""
    if build.state != "running":
        return build
    message = f"Job {build.job} is restoring {restore.restore_uri(corpus)}"
    return dataclasses.replace(build, reason="Restoring", message=message)


@dataclass(frozen=True)
class OptionalChild:
    """A child the spec may or may not ask for: applied when wanted, deleted when it may exist."""

    wanted: Callable[[Corpus], bool]
    render: Callable[[Corpus], dict[str, Any]]
    api_version: str
    kind: str
    name: Callable[[Corpus], str]


OPTIONAL_CHILDREN = (
    OptionalChild(hpa.wanted, hpa.render, "autoscaling/v2", "HorizontalPodAutoscaler", lambda c: c.name),
    OptionalChild(pdb.wanted, pdb.render, "policy/v1", "PodDisruptionBudget", lambda c: c.name),
    OptionalChild(cronjob.wanted, cronjob.render, "batch/v1", "CronJob", cronjob.name),
    OptionalChild(backup.wanted, backup.render, "batch/v1", "CronJob", backup.name),
    OptionalChild(verify.wanted, verify.render, "batch/v1", "CronJob", verify.name),
    OptionalChild(
        exposure.ingress_wanted, exposure.render_ingress, "networking.k8s.io/v1", "Ingress", lambda c: c.name
    ),
    OptionalChild(
        exposure.http_route_wanted,
        exposure.render_http_route,
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        lambda c: c.name,
    ),
    OptionalChild(
        networkpolicy.wanted, networkpolicy.render, "networking.k8s.io/v1", "NetworkPolicy", lambda c: c.name
    ),
)
