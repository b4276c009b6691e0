"""The operator never adopts or deletes a same-named object it does not own: act checks each
child's controller ownerReference just before writing it (issue 13, item 2). The real control
plane test is tests/controlplane/test_operator_name_conflict.py; these rows pin the decision."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import pytest
from kubernetes.client.rest import ApiException

from oozo_operator import act
from oozo_operator import conditions as C
from oozo_operator.kube import Kube
from oozo_operator.outcome import settle
from oozo_operator.plan import Apply, Create, plan
from tests.operator_builders import with_autoscaling
from tests.unit.plan_builders import (
    SOURCE_REVISION,
    conditions,
    corpus,
    observed,
    published,
    rolled_out,
    stored,
    workloads,
)

OURS = {"uid": "uid-1", "controller": True}


@pytest.mark.parametrize(
    ("owner_references", "ours"),
    [
        ([OURS], True),
        ([{"uid": "uid-1", "controller": False}], False),  # a reference, but not the controller
        ([{"uid": "uid-1"}], False),
        ([{"uid": "uid-other", "controller": True}], False),  # a same-named corpus before us
        ([{"uid": "uid-other", "controller": True}, OURS], True),
        ([], False),
        (None, False),
    ],
)
def test_only_a_controller_reference_to_this_corpus_uid_makes_a_child_ours(
    owner_references: list[dict[str, Any]] | None, ours: bool
) -> None:
    assert act.owned_by({"ownerReferences": owner_references}, "uid-1") is ours


class ClusterKube:
    """Objects by (kind, name) as metadata; records every write. `create` answers 409 for an
    existing object, as the API server does."""

    def __init__(self, objects: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.objects = objects
        self.calls: list[str] = []

    def metadata(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((kind, name))

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(f"apply {obj['kind']} {obj['metadata']['name']}")
        return obj

    def create(self, obj: dict[str, Any]) -> bool:
        self.calls.append(f"create {obj['kind']} {obj['metadata']['name']}")
        return (obj["kind"], obj["metadata"]["name"]) not in self.objects

    def delete(self, api_version: str, kind: str, namespace: str, name: str, uid: str) -> bool:
        self.calls.append(f"delete {kind} {name} uid={uid}")
        return True


def foreign(uid: str = "f-1") -> dict[str, Any]:
    return {"uid": uid, "ownerReferences": [{"uid": "someone-else", "controller": True}]}


def ours(uid: str) -> dict[str, Any]:
    return {"uid": uid, "ownerReferences": [OURS]}


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("PersistentVolumeClaim", "docs-index"),
        ("Service", "docs"),
        ("ConfigMap", "docs-server"),
        ("Deployment", "docs"),
        ("HorizontalPodAutoscaler", "docs"),
    ],
)
def test_a_foreign_child_is_not_written_and_stalls_the_corpus_with_name_conflict(
    kind: str, name: str
) -> None:
    planned = plan(
        observed(status=stored(index=published("v1", _hash()))),
        corpus(with_autoscaling(1, 3)),
        full=True,
        new_api_key="k",
    )
    names = {
        (w.obj["kind"], w.obj["metadata"]["name"]) for w in planned.writes if isinstance(w, Apply | Create)
    }
    if (kind, name) not in names:
        name = next(n for k, n in names if k == kind)  # the rendered name of that kind
    kube = ClusterKube({(kind, name): foreign()})
    problems = act.apply_writes(cast(Kube, kube), planned.writes, "uid-1")
    assert f"apply {kind} {name}" not in kube.calls
    assert len(kube.calls) == len(planned.writes) - 1  # every other child still proceeds
    assert [p.reason for p in problems] == ["NameConflict"]
    assert problems[0].message.startswith(f"{kind} {name} exists and is not owned by this RagCorpus")
    conds = conditions(settle(planned, workloads(rolled_out("v1")), problems, "2026-01-01T00:00:00Z"))
    assert conds[C.STALLED][:2] == ("True", "NameConflict")


def test_an_unwanted_child_is_deleted_only_when_ours_and_only_that_uid() -> None:
    # A spec change (generation 2) that wants no optional child: each may exist, each is deleted.
    planned = plan(observed(generation=2, status=stored(generation=1)), corpus(), full=True, new_api_key="k")
    kube = ClusterKube(
        {
            ("HorizontalPodAutoscaler", "docs"): foreign(),
            ("PodDisruptionBudget", "docs"): ours("pdb-uid"),
            ("CronJob", "docs-refresh"): foreign(),
            # CronJob docs-backup does not exist: nothing to delete
        }
    )
    problems = act.apply_writes(cast(Kube, kube), planned.writes, "uid-1")
    deletes = [c for c in kube.calls if c.startswith("delete")]
    assert deletes == ["delete PodDisruptionBudget docs uid=pdb-uid"]
    assert problems == ()  # a foreign object the spec no longer wants a name for is no conflict


def test_a_foreign_job_with_the_build_job_name_is_not_taken_for_ours() -> None:
    planned = plan(observed(), corpus(), full=True, new_api_key="k")
    job_name = next(
        w.obj["metadata"]["name"] for w in planned.writes if isinstance(w, Create) and w.obj["kind"] == "Job"
    )
    kube = ClusterKube({("Job", job_name): foreign()})
    problems = act.apply_writes(cast(Kube, kube), planned.writes, "uid-1")
    assert [p.reason for p in problems] == ["NameConflict"]
    assert problems[0].message.startswith(f"Job {job_name} exists")
    # Our own Job found again (a restarted operator) is no conflict.
    kube = ClusterKube({("Job", job_name): ours("job-uid")})
    assert act.apply_writes(cast(Kube, kube), planned.writes, "uid-1") == ()


def test_a_server_error_on_the_ownership_read_propagates_for_kopf_to_retry() -> None:
    class Failing(ClusterKube):
        def metadata(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
            raise ApiException(status=500)

    planned = plan(observed(), corpus(), full=True, new_api_key="k")
    kube = Failing({})
    with pytest.raises(ApiException):
        act.apply_writes(cast(Kube, kube), planned.writes, "uid-1")
    assert kube.calls == []


def _hash() -> str:
    return dataclasses.replace(corpus(with_autoscaling(1, 3)), source_revision=SOURCE_REVISION).index_hash
