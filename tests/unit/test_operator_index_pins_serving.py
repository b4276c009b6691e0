"""The index Job keeps the version being served (issue 13 item 3, the operator's half).

A build's retention keeps the newest `keepVersions`, the index's `current` and the versions in
OOZO_PINNED_VERSIONS. The version the Deployment serves is usually `current`, but not always (a
build whose result the operator could not adopt moved `current` on): the operator pins it in the
Job it creates. The pin is not an input of the index, so it never changes the Job's name: a new
serving version does not start a build."""

from __future__ import annotations

import json
from typing import Any

from oozo_operator.plan import Create, plan
from oozo_operator.render import job
from tests.unit.plan_builders import corpus, observed, published, stored

OLD_HASH = "0ld0ld0ld0"


def pinned_of(job_obj: dict[str, Any]) -> list[str] | None:
    (ctr,) = job_obj["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in ctr["env"]}
    raw = env.get("OOZO_PINNED_VERSIONS")
    return json.loads(raw) if raw is not None else None


def created_job(status: dict[str, Any]) -> dict[str, Any]:
    result = plan(observed(generation=2, status=status), corpus(), full=True, new_api_key="k")
    (obj,) = [w.obj for w in result.writes if isinstance(w, Create) and w.obj["kind"] == "Job"]
    return obj


def test_a_build_after_a_spec_change_pins_the_version_being_served() -> None:
    obj = created_job(stored(generation=1, index=published("20260101t000000z-aaaa1111", OLD_HASH)))
    assert pinned_of(obj) == ["20260101t000000z-aaaa1111"]


def test_the_first_build_pins_nothing() -> None:
    result = plan(observed(), corpus(), full=True, new_api_key="k")
    (obj,) = [w.obj for w in result.writes if isinstance(w, Create) and w.obj["kind"] == "Job"]
    assert pinned_of(obj) is None


def test_the_serving_version_never_changes_the_job_name() -> None:
    c = corpus()
    names = {job.render(c, serving)["metadata"]["name"] for serving in (None, "v-a", "v-b")}
    assert names == {c.job_name}
