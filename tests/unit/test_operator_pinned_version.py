"""spec.index.pinnedVersion serves an earlier index version without rebuilding (issue 17,
"Versions you can go back to"): which version serves, what the plan writes for a pin and an
unpin, what the status says, and that retention in every build keeps the pinned version."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest

from oozo_operator import conditions as C
from oozo_operator import pinning
from oozo_operator.outcome import settle
from oozo_operator.plan import Apply, Create, Plan, plan
from oozo_operator.render import cronjob, job
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import index_hash
from tests.operator_builders import at, with_refresh
from tests.unit.plan_builders import (
    NOW,
    SOURCE_REVISION,
    conditions,
    corpus,
    observed,
    published,
    rolled_out,
    stored,
    succeeded,
    workloads,
)

OLD, MIDDLE, NEWEST = "20260101t000000z-aaaa1111", "20260102t000000z-bbbb2222", "20260103t000000z-cccc3333"
HASH = dataclasses.replace(corpus(), source_revision=SOURCE_REVISION).index_hash  # as a pass sees it


def entry(version: str, model: str = "all-MiniLM-L6-v2") -> dict[str, Any]:
    return {"version": version, "builtAt": "2026-01-03T00:00:00Z", "documents": 3, "chunks": 9,
            "embeddingModel": model}  # fmt: skip


def on_volume(*names: str, **extra: Any) -> dict[str, Any]:
    """status.index of the newest build (the first name), listing `names` as available."""
    return {**published(names[0], HASH), "available": [entry(n) for n in names], **extra}


def pinned(version: str | None) -> Any:
    return at("spec.index.pinnedVersion", version)


@dataclass(frozen=True)
class Case:
    id: str
    pin: str | None
    published: dict[str, Any] | None
    before: dict[str, Any] | None
    serves: str | None
    problem: str = ""


CASES = [
    Case("nothing built yet: nothing serves", OLD, None, None, None),
    Case("no pin: the newest serves", None, on_volume(NEWEST, OLD), None, NEWEST),
    Case("a pin to an available version serves it", OLD, on_volume(NEWEST, MIDDLE, OLD), None, OLD),
    Case("a pin to the newest is no pin", NEWEST, on_volume(NEWEST, OLD), None, NEWEST),
    Case(
        "a pin to a version not on the volume keeps what serves",
        "20250101t000000z-dead0000",
        on_volume(NEWEST, MIDDLE),
        on_volume(NEWEST, MIDDLE, servingVersion=MIDDLE),
        MIDDLE,
        pinning.PINNED_VERSION_NOT_FOUND,
    ),
    Case(
        "a build from a runtime older than pins lists nothing: only its version is known",
        OLD,
        published(NEWEST, HASH),
        published(NEWEST, HASH),
        NEWEST,
        pinning.PINNED_VERSION_NOT_FOUND,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_which_version_serves(case: Case) -> None:
    chosen = pinning.serving(case.pin, case.published, case.before)
    assert chosen.version == case.serves
    assert (chosen.problem.reason if chosen.problem else "") == case.problem


def test_a_pinned_version_serves_with_the_model_it_was_built_with() -> None:
    index = {**published(NEWEST, HASH), "available": [entry(NEWEST, "new-model"), entry(OLD, "old-model")]}
    index["embeddingModel"] = "new-model"
    assert pinning.serving(OLD, index, None).model == "old-model"
    assert pinning.serving(None, index, None).model == "new-model"


def test_an_unknown_pin_names_the_field_the_available_versions_and_what_keeps_serving() -> None:
    chosen = pinning.serving("20250101t000000z-dead0000", on_volume(NEWEST, OLD), None)
    assert chosen.problem is not None
    message = chosen.problem.message
    assert "spec.index.pinnedVersion 20250101t000000z-dead0000" in message
    assert f"available: {NEWEST}, {OLD}" in message and f"version {NEWEST} keeps serving" in message


def test_a_pin_never_changes_the_index_hash() -> None:
    assert len({index_hash(corpus(pinned(v)).spec) for v in (None, OLD, NEWEST)}) == 1


# --- the plan ------------------------------------------------------------------------------


def pass_with(pin: str | None, index: dict[str, Any]) -> Plan:
    """A full pass after the user edited the pin (generation 2), the index built for this spec."""
    return plan(
        observed(generation=2, status=stored(index=index)), corpus(pinned(pin)), full=True, new_api_key="k"
    )


def deployed_version(p: Plan) -> str | None:
    for w in p.writes:
        if isinstance(w, Apply) and w.obj["kind"] == "Deployment":
            return str(w.obj["spec"]["template"]["metadata"]["annotations"][L.INDEX_VERSION])
    return None


def test_pinning_rolls_the_server_back_and_builds_nothing() -> None:
    p = pass_with(OLD, on_volume(NEWEST, MIDDLE, OLD))
    assert deployed_version(p) == OLD
    assert not [w for w in p.writes if isinstance(w, Create) and w.obj["kind"] == "Job"]
    assert p.published is not None
    assert (p.published["version"], p.published["servingVersion"]) == (NEWEST, OLD)
    assert p.problems == ()


def test_unpinning_returns_to_the_newest_and_clears_serving_version() -> None:
    p = pass_with(None, on_volume(NEWEST, OLD, servingVersion=OLD))
    assert deployed_version(p) == NEWEST
    assert p.published is not None
    assert p.published["servingVersion"] is None  # a merge patch removes it from the status
    assert not [w for w in p.writes if isinstance(w, Create) and w.obj["kind"] == "Job"]


def test_a_pin_to_an_unknown_version_stalls_and_keeps_serving() -> None:
    p = pass_with("20250101t000000z-dead0000", on_volume(NEWEST, OLD, servingVersion=OLD))
    assert deployed_version(p) == OLD
    conds = conditions(settle(p, workloads(rolled_out(OLD)), (), NOW))
    assert conds[C.STALLED][:2] == ("True", pinning.PINNED_VERSION_NOT_FOUND)
    assert conds[C.READY][:2] == ("False", pinning.PINNED_VERSION_NOT_FOUND)
    assert conds[C.INDEX_READY][0] == "True"  # the index itself is fine


def test_a_pinned_corpus_is_ready_once_the_pinned_version_rolled_out() -> None:
    p = pass_with(OLD, on_volume(NEWEST, OLD))
    rolling = conditions(settle(p, workloads(rolled_out(NEWEST)), (), NOW))
    assert rolling[C.READY][:2] == ("False", "RollingOut") and OLD in rolling[C.READY][2]
    ready = conditions(settle(p, workloads(rolled_out(OLD)), (), NOW))
    assert ready[C.READY][:2] == ("True", "Serving")
    assert f"serving index version {OLD} (pinned; the newest is {NEWEST})" in ready[C.READY][2]


def test_a_new_build_while_pinned_is_adopted_but_the_pin_keeps_serving() -> None:
    build = succeeded(f"docs-index-{HASH}", NEWEST, available=[entry(NEWEST), entry(OLD)])
    before = stored(index={**published(OLD, "0ld0ld0ld0"), "available": [entry(OLD)]})
    p = plan(
        observed(generation=2, status=before, builds=(build,)),
        corpus(pinned(OLD)),
        full=True,
        new_api_key="k",
    )
    assert p.published is not None and p.published["version"] == NEWEST
    assert deployed_version(p) == OLD


def env_of(pod_spec: dict[str, Any]) -> dict[str, str]:
    (ctr,) = pod_spec["containers"]
    return {e["name"]: e.get("value") for e in ctr["env"]}


def test_every_build_keeps_the_pinned_and_the_serving_version() -> None:
    c = corpus(pinned(OLD), with_refresh("0 * * * *"))
    built = job.render(c, NEWEST)["spec"]["template"]["spec"]
    assert json.loads(env_of(built)["OOZO_PINNED_VERSIONS"]) == [NEWEST, OLD]
    refresh = cronjob.render(c)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert json.loads(env_of(refresh)["OOZO_PINNED_VERSIONS"]) == [OLD]
    assert job.render(c, OLD)["metadata"]["name"] == job.render(corpus(), None)["metadata"]["name"]
