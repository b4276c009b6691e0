"""The reconcile plan, pure: from what a pass observed, the writes it makes (in order) and the
status it reports. Each row is one moment of a corpus's life; no API server is involved."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from kubernetes.client.rest import ApiException

from oozo_operator import act
from oozo_operator import conditions as C
from oozo_operator.gather import Observed, Workloads
from oozo_operator.kube import Kube
from oozo_operator.outcome import settle
from oozo_operator.plan import Apply, Create, plan
from oozo_operator.render import restore
from tests.operator_builders import (
    Modifier,
    at,
    with_auth,
    with_autoscaling,
    with_network_policy,
    with_openai,
    with_source,
    without_auth,
)
from tests.unit.plan_builders import (
    API_KEY,
    NOW,
    S3,
    SOURCE_REVISION,
    conditions,
    corpus,
    failed,
    failing,
    observed,
    published,
    rolled_out,
    running,
    stored,
    succeeded,
    waiting_pod,
    workloads,
    writes,
)

HASH = dataclasses.replace(corpus(), source_revision=SOURCE_REVISION).index_hash  # of every row's spec
JOB = f"docs-index-{HASH}"
OLD_HASH = "0ld0ld0ld0"
WITH_RESTORE = at("spec.restore", {"s3": S3, "version": "20260101-aaaa"})
RESTORE_JOB = restore.name(corpus(WITH_RESTORE))
S3_SOURCE = with_source(s3={"bucket": "documents"})
S3_JOB = f"docs-index-{dataclasses.replace(corpus(S3_SOURCE), source_revision=SOURCE_REVISION).index_hash}"
SECRET_MISSING = C.Problem("SecretNotFound", "Secret openai (spec.generation.apiKeySecretRef) not found")
CONFIGMAP_MISSING = C.Problem("ConfigMapNotFound", "ConfigMap docs-docs (spec.source.configMap) not found")
# The generated API key (auth is on by default) is created once, beside the other spec-only children.
SPEC_ONLY = ["apply PersistentVolumeClaim docs-index", "create Secret docs-api-key", "apply Service docs"]
DEFAULT_ON = ["apply NetworkPolicy docs"]  # the optional child a default spec asks for
UNWANTED = [  # the optional children a default spec does not ask for
    "delete HorizontalPodAutoscaler docs",
    "delete PodDisruptionBudget docs",
    "delete CronJob docs-refresh",
    "delete CronJob docs-backup",
    "delete CronJob docs-verify",
    "delete Ingress docs",
    "delete HTTPRoute docs",
]


@dataclass(frozen=True)
class Row:
    id: str
    observed: Observed
    writes: list[str]
    index_ready: tuple[str, str]  # IndexReady (status, reason)
    ready: tuple[str, str]  # Ready (status, reason)
    stalled: str = ""  # the Stalled reason, "" when not Stalled
    version: str | None = None  # status.index.version after the pass
    building: str | None = None  # status.building.job after the pass
    says: str = ""  # part of the IndexReady message
    mods: tuple[Modifier, ...] = ()
    full: bool = True
    workloads: Workloads = field(default_factory=workloads)


ROWS = [
    Row(
        "first build: the index Job is created and reported running in the same pass",
        observed(),
        [*SPEC_ONLY, f"create Job {JOB}", "apply ConfigMap docs-config", *DEFAULT_ON],
        index_ready=("False", "Indexing"),
        ready=("False", "Indexing"),
        building=JOB,
        says=f"Job {JOB} is building the index",
    ),
    Row(
        "spec change: a new index hash gets a new Job while the old version keeps serving",
        observed(generation=2, status=stored(generation=1, index=published("v1", OLD_HASH))),
        [
            *SPEC_ONLY,
            f"create Job {JOB}",
            "apply ConfigMap docs-config",
            "apply Deployment docs",
            *UNWANTED,
            *DEFAULT_ON,
        ],
        index_ready=("False", "Indexing"),
        ready=("False", "Indexing"),
        version="v1",
        building=JOB,
        says="version v1 keeps serving",
        workloads=workloads(rolled_out("v1")),
    ),
    Row(
        "spec change, second pass: the Job exists, nothing is created twice",
        observed(
            generation=2, status=stored(generation=2, index=published("v1", OLD_HASH)), builds=(running(JOB),)
        ),
        [*SPEC_ONLY, "apply ConfigMap docs-config", "apply Deployment docs", *DEFAULT_ON],
        index_ready=("False", "Indexing"),
        ready=("False", "Indexing"),
        version="v1",
        building=JOB,
        workloads=workloads(rolled_out("v1")),
    ),
    Row(
        "light pass: a child event re-applies nothing once the generation was applied in full",
        observed(status=stored(index=published("v1", HASH)), builds=(succeeded(JOB, "v1"),)),
        [],
        index_ready=("True", "IndexPublished"),
        ready=("True", "Serving"),
        version="v1",
        full=False,
        workloads=workloads(rolled_out("v1")),
    ),
    Row(
        "light pass that adopts a new version re-applies the server only",
        observed(
            status=stored(index=published("v1", HASH)),
            builds=(succeeded(JOB, "v1"), succeeded("docs-refresh-1", "v2")),
        ),
        ["apply ConfigMap docs-config", "apply Deployment docs"],
        index_ready=("True", "IndexPublished"),
        ready=("False", "RollingOut"),
        version="v2",
        full=False,
        workloads=workloads(rolled_out("v1")),
    ),
    Row(
        "a child event after a refused apply is a full pass: the refusal may be fixed by now",
        observed(
            status=stored(index=published("v1", HASH), stalled="ApplyRefused"), builds=(succeeded(JOB, "v1"),)
        ),
        [*SPEC_ONLY, "apply ConfigMap docs-config", "apply Deployment docs", *DEFAULT_ON],
        index_ready=("True", "IndexPublished"),
        ready=("True", "Serving"),
        version="v1",
        full=False,
        workloads=workloads(rolled_out("v1")),
    ),
    Row(
        "new version adopted: the build's result is published and the server rolls it out",
        observed(status=stored(), builds=(succeeded(JOB, "v1"),)),
        [*SPEC_ONLY, "apply ConfigMap docs-config", "apply Deployment docs", *DEFAULT_ON],
        index_ready=("True", "IndexPublished"),
        ready=("False", "RollingOut"),
        version="v1",
        says="version v1: 3 documents, 9 chunks",
    ),
    Row(
        "restore instead of build: nothing published, spec.restore set",
        observed(),
        [*SPEC_ONLY, f"create Job {RESTORE_JOB}", "apply ConfigMap docs-config", *DEFAULT_ON],
        index_ready=("False", "Indexing"),
        ready=("False", "Indexing"),
        building=RESTORE_JOB,
        says=f"Job {RESTORE_JOB} is restoring s3://oozo-backups/handbook",
        mods=(WITH_RESTORE,),
    ),
    Row(
        "restore running: said as such, not created again",
        observed(status=stored(), builds=(running(RESTORE_JOB),)),
        [*SPEC_ONLY, "apply ConfigMap docs-config", *DEFAULT_ON],
        index_ready=("False", "Indexing"),
        ready=("False", "Indexing"),
        building=RESTORE_JOB,
        says="is restoring",
        mods=(WITH_RESTORE,),
    ),
    Row(
        "restore done: its version is published like a build's",
        observed(status=stored(), builds=(succeeded(RESTORE_JOB, "20260101-aaaa", restoredFrom="s3://b/x"),)),
        [*SPEC_ONLY, "apply ConfigMap docs-config", "apply Deployment docs", *DEFAULT_ON],
        index_ready=("True", "IndexPublished"),
        ready=("True", "Serving"),
        version="20260101-aaaa",
        says="restored from s3://b/x",
        mods=(WITH_RESTORE,),
        workloads=workloads(rolled_out("20260101-aaaa")),
    ),
    Row(
        "optional child dropped by a spec change: deleted",
        observed(generation=3, status=stored(generation=2, index=published("v1", HASH))),
        [*SPEC_ONLY, "apply ConfigMap docs-config", "apply Deployment docs", *UNWANTED, *DEFAULT_ON],
        index_ready=("True", "IndexPublished"),
        ready=("True", "Serving"),
        version="v1",
        workloads=workloads(rolled_out("v1")),
    ),
    Row(
        "optional children on a resumed generation: none can have become unwanted, none deleted",
        observed(generation=3, status=stored(generation=3, index=published("v1", HASH))),
        [*SPEC_ONLY, "apply ConfigMap docs-config", "apply Deployment docs", *DEFAULT_ON],
        index_ready=("True", "IndexPublished"),
        ready=("True", "Serving"),
        version="v1",
        workloads=workloads(rolled_out("v1")),
    ),
    Row(
        "optional children wanted: applied; the unwanted ones deleted",
        observed(generation=2, status=stored(generation=1, index=published("v1", HASH))),
        [
            *SPEC_ONLY,
            "apply ConfigMap docs-config",
            "apply Deployment docs",
            "apply HorizontalPodAutoscaler docs",
            "apply PodDisruptionBudget docs",
            "delete CronJob docs-refresh",
            "delete CronJob docs-backup",
            "delete CronJob docs-verify",
            "delete Ingress docs",
            "delete HTTPRoute docs",
            *DEFAULT_ON,
        ],
        index_ready=("True", "IndexPublished"),
        ready=("True", "Serving"),
        version="v1",
        mods=(with_autoscaling(2, 5),),
        workloads=workloads(rolled_out("v1", 2)),
    ),
    Row(
        "build failing with retries left: no new Job, still in progress",
        observed(status=stored(), builds=(failing(JOB),)),
        [*SPEC_ONLY, "apply ConfigMap docs-config", *DEFAULT_ON],
        index_ready=("False", "IndexBuildRetrying"),
        ready=("False", "IndexBuildRetrying"),
        building=JOB,
        says=f"Job {JOB} attempt 1 failed: boom",
    ),
    Row(
        "build failed with retries spent: Stalled, no new Job",
        observed(status=stored(), builds=(failed(JOB),)),
        [*SPEC_ONLY, "apply ConfigMap docs-config", *DEFAULT_ON],
        index_ready=("False", "IndexBuildFailed"),
        ready=("False", "IndexBuildFailed"),
        stalled="IndexBuildFailed",
        says=f"Job {JOB} failed: boom",
    ),
    Row(
        "build failed after a spec change: Stalled, the old version keeps serving",
        observed(
            generation=2, status=stored(generation=2, index=published("v1", OLD_HASH)), builds=(failed(JOB),)
        ),
        [*SPEC_ONLY, "apply ConfigMap docs-config", "apply Deployment docs", *DEFAULT_ON],
        index_ready=("False", "IndexBuildFailed"),
        ready=("False", "IndexBuildFailed"),
        stalled="IndexBuildFailed",
        version="v1",
        says="version v1 keeps serving",
        workloads=workloads(rolled_out("v1")),
    ),
    Row(
        "missing Secret: a problem, no Job created",
        observed(missing=(SECRET_MISSING,)),
        [*SPEC_ONLY, "apply ConfigMap docs-config", *DEFAULT_ON],
        index_ready=("False", "IndexPending"),
        ready=("False", "SecretNotFound"),
        stalled="SecretNotFound",
        mods=(with_openai(),),
    ),
    Row(
        "missing Secret after publishing: the server is not re-applied",
        observed(status=stored(index=published("v1", HASH)), missing=(SECRET_MISSING,)),
        [*SPEC_ONLY, "apply ConfigMap docs-config", *DEFAULT_ON],
        index_ready=("True", "IndexPublished"),
        ready=("False", "SecretNotFound"),
        stalled="SecretNotFound",
        version="v1",
        mods=(with_openai(),),
        workloads=workloads(rolled_out("v1")),
    ),
    Row(
        "missing source ConfigMap: a problem, no Job created",
        observed(missing=(CONFIGMAP_MISSING,)),
        [*SPEC_ONLY, "apply ConfigMap docs-config", *DEFAULT_ON],
        index_ready=("False", "IndexPending"),
        ready=("False", "ConfigMapNotFound"),
        stalled="ConfigMapNotFound",
    ),
    Row(
        "an s3 source: its index Job is created like any other (it fetches first)",
        observed(),
        [*SPEC_ONLY, f"create Job {S3_JOB}", "apply ConfigMap docs-config", *DEFAULT_ON],
        index_ready=("False", "Indexing"),
        ready=("False", "Indexing"),
        building=S3_JOB,
        mods=(S3_SOURCE,),
    ),
    Row(
        "a build whose fetch failed: Stalled with the fetch's reason, the old version serving",
        observed(
            status=stored(index=published("v1", OLD_HASH)),
            builds=(failed(JOB, reason="SourceAuthFailed"),),
        ),
        [*SPEC_ONLY, "apply ConfigMap docs-config", "apply Deployment docs", *DEFAULT_ON],
        index_ready=("False", "SourceAuthFailed"),
        ready=("False", "SourceAuthFailed"),
        stalled="SourceAuthFailed",
        version="v1",
        says="keeps serving",
        workloads=workloads(rolled_out("v1")),
    ),
    Row(
        "a server pod that cannot start: Stalled, with the pod named",
        observed(status=stored(index=published("v1", HASH)), builds=(succeeded(JOB, "v1"),)),
        [*SPEC_ONLY, "apply ConfigMap docs-config", "apply Deployment docs", *DEFAULT_ON],
        index_ready=("True", "IndexPublished"),
        ready=("False", "PodCannotStart"),
        stalled="PodCannotStart",
        version="v1",
        workloads=workloads(
            rolled_out("v1"), (waiting_pod("docs-1", "CreateContainerConfigError", "secret gone"),)
        ),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_plan(row: Row) -> None:
    planned = plan(row.observed, corpus(*row.mods), full=row.full, new_api_key=API_KEY)
    assert writes(planned) == row.writes
    outcome = settle(planned, row.workloads, (), NOW)
    conds = conditions(outcome)
    assert conds[C.INDEX_READY][:2] == row.index_ready
    assert conds[C.READY][:2] == row.ready
    assert conds[C.STALLED][:2] == (("True", row.stalled) if row.stalled else ("False", "AsExpected"))
    assert conds[C.RECONCILING][0] == ("False" if row.stalled or row.ready[0] == "True" else "True")
    assert row.says in conds[C.INDEX_READY][2]
    assert (outcome.status.get("index") or {}).get("version") == row.version
    assert (outcome.status.get("building") or {}).get("job") == row.building
    assert outcome.status["observedGeneration"] == row.observed.generation


def test_a_created_build_is_pinned_to_the_current_spec() -> None:
    planned = plan(observed(), corpus(), full=True, new_api_key=API_KEY)
    created = [w.obj for w in planned.writes if isinstance(w, Create) and w.obj["kind"] == "Job"]
    assert [j["metadata"]["labels"]["rag.oozo.dev/index-hash"] for j in created] == [HASH]
    assert planned.corpus.source_revision == SOURCE_REVISION


def test_an_adopted_version_records_the_spec_it_was_built_for() -> None:
    build = succeeded(JOB, "v1")
    planned = plan(observed(status=stored(), builds=(build,)), corpus(), full=True, new_api_key="k")
    assert build.result is not None and planned.published == {**build.result, "specHash": HASH}
    server = next(w.obj for w in planned.writes if isinstance(w, Apply) and w.obj["kind"] == "Deployment")
    assert server["spec"]["template"]["metadata"]["annotations"]["rag.oozo.dev/index-version"] == "v1"


def test_a_generated_api_key_secret_is_created_with_the_key_given() -> None:
    planned = plan(observed(), corpus(with_auth()), full=True, new_api_key=API_KEY)
    assert writes(planned)[:3] == [
        "apply PersistentVolumeClaim docs-index",
        "create Secret docs-api-key",
        "apply Service docs",
    ]
    secret = next(w.obj for w in planned.writes if isinstance(w, Create) and w.obj["kind"] == "Secret")
    assert secret["stringData"] == {"api-key": API_KEY}
    light = plan(observed(status=stored()), corpus(with_auth()), full=False, new_api_key=API_KEY)
    assert "create Secret docs-api-key" not in writes(light)


def test_a_stuck_backup_pod_is_a_backup_problem_not_a_serving_one() -> None:
    planned = plan(observed(status=stored(index=published("v1", HASH))), corpus(), full=True, new_api_key="k")
    pod = waiting_pod(
        "docs-backup-1-x", "CreateContainerConfigError", 'secret "s3-creds" not found', "backup"
    )
    conds = conditions(settle(planned, workloads(rolled_out("v1"), (pod,)), (), NOW))
    assert conds[C.READY][:2] == ("True", "Serving")
    assert (
        conds[C.BACKUP_SUCCEEDED][:2] == ("False", "BackupPodCannotStart")
        and "s3-creds" in conds[C.BACKUP_SUCCEEDED][2]
    )


def test_a_pass_that_changes_nothing_writes_no_status() -> None:
    row = next(r for r in ROWS if r.id.startswith("light pass: "))  # a serving corpus
    first = settle(plan(row.observed, corpus(), full=False, new_api_key="k"), row.workloads, (), NOW)
    again = dataclasses.replace(row.observed, status=first.status)
    second = settle(
        plan(again, corpus(), full=False, new_api_key="k"), row.workloads, (), "2026-02-02T00:00:00Z"
    )
    assert first.changed and not second.changed and second.transitions == []


class RefusingKube:
    """Refuses the apply of one kind with `status`; records every write."""

    def __init__(self, kind: str, status: int) -> None:
        self.kind, self.status = kind, status
        self.calls: list[str] = []

    def metadata(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """Every child exists already, owned by the corpus (uid-1)."""
        return {"uid": f"{kind}-uid", "ownerReferences": [{"uid": "uid-1", "controller": True}]}

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(f"apply {obj['kind']}")
        if obj["kind"] == self.kind:
            err = ApiException(status=self.status, reason="Unprocessable Entity")
            err.body = json.dumps(
                {"message": "spec.resources.requests.storage: field can not be less than previous value"}
            )
            raise err
        return obj

    def create(self, obj: dict[str, Any]) -> bool:
        self.calls.append(f"create {obj['kind']}")
        return True

    def delete(self, api_version: str, kind: str, namespace: str, name: str, uid: str) -> bool:
        self.calls.append(f"delete {kind}")
        return True


def test_an_apply_refused_is_a_problem_and_the_other_writes_go_ahead() -> None:
    planned = plan(observed(status=stored(index=published("v1", HASH))), corpus(), full=True, new_api_key="k")
    kube = RefusingKube("PersistentVolumeClaim", 422)
    refused = act.apply_writes(cast(Kube, kube), planned.writes, "uid-1")
    assert kube.calls == [" ".join(w.split()[:2]) for w in writes(planned)]
    assert [p.reason for p in refused] == ["ApplyRefused"]
    assert refused[0].message.startswith("PersistentVolumeClaim docs-index refused by the API server: ")
    conds = conditions(settle(planned, workloads(rolled_out("v1")), refused, NOW))
    assert (
        conds[C.STALLED][:2] == ("True", "ApplyRefused") and "less than previous value" in conds[C.STALLED][2]
    )
    assert conds[C.READY][:2] == ("False", "ApplyRefused")


def test_a_server_error_on_apply_propagates_for_kopf_to_retry() -> None:
    planned = plan(observed(), corpus(), full=True, new_api_key="k")
    kube = RefusingKube("Service", 500)
    with pytest.raises(ApiException):
        act.apply_writes(cast(Kube, kube), planned.writes, "uid-1")
    assert kube.calls == ["apply PersistentVolumeClaim", "create Secret", "apply Service"]  # nothing after


def test_auth_is_on_by_default_with_a_generated_key_and_off_only_when_asked() -> None:
    default = plan(observed(), corpus(), full=True, new_api_key=API_KEY)
    assert "create Secret docs-api-key" in writes(default)
    opted_out = plan(observed(), corpus(without_auth()), full=True, new_api_key=API_KEY)
    assert not any("Secret" in w for w in writes(opted_out))


def test_network_policy_is_applied_by_default_and_deleted_once_disabled() -> None:
    assert "apply NetworkPolicy docs" in writes(plan(observed(), corpus(), full=True, new_api_key="k"))
    disabled = corpus(with_network_policy(False))
    first = plan(observed(), disabled, full=True, new_api_key="k")
    assert not any("NetworkPolicy" in w for w in writes(first))  # a new corpus never had one
    changed = observed(generation=2, status=stored(generation=1, index=published("v1", HASH)))
    assert "delete NetworkPolicy docs" in writes(plan(changed, disabled, full=True, new_api_key="k"))


def test_a_light_pass_adopting_a_new_source_revision_updates_the_refresh_cronjob_with_it() -> None:
    from tests.operator_builders import with_refresh

    fetched = corpus(with_source(s3=S3), with_refresh("@hourly"))
    old = {**published("v1", fetched.index_hash), "sourceRevision": "sha256:old"}
    build = succeeded("docs-refresh-2", "v2", sourceRevision="sha256:new")
    planned = plan(
        observed(status=stored(index=old), builds=(succeeded(old["job"], "v1"), build)),
        fetched,
        full=False,
        new_api_key=API_KEY,
    )
    refresh = next(w.obj for w in planned.writes if isinstance(w, Apply) and w.obj["kind"] == "CronJob")
    fetch_env = refresh["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"][0]["env"]
    assert {"name": "OOZO_UNLESS_REVISION", "value": "sha256:new"} in fetch_env
    # The index Job a later spec change creates carries no revision.
    assert all(w.obj["kind"] != "Job" for w in planned.writes if isinstance(w, Create))

    unchanged = plan(
        observed(status=stored(index=old), builds=(succeeded(old["job"], "v1"),)),
        fetched,
        full=False,
        new_api_key=API_KEY,
    )
    assert "apply CronJob docs-refresh" not in writes(unchanged)


def test_a_refresh_never_skips_for_a_version_built_for_another_spec() -> None:
    from tests.operator_builders import with_refresh

    fetched = corpus(with_source(s3=S3), with_refresh("@hourly"))
    stale = {**published("v1", "0ld5pech45"), "sourceRevision": "sha256:old"}
    planned = plan(observed(status=stored(index=stale)), fetched, full=True, new_api_key=API_KEY)
    refresh = next(w.obj for w in planned.writes if isinstance(w, Apply) and w.obj["kind"] == "CronJob")
    fetch_env = refresh["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"][0]["env"]
    assert all(e["name"] != "OOZO_UNLESS_REVISION" for e in fetch_env)
