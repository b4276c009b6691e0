"""spec.index.type and its parameters through the operator: parameters reach the index Job as
OOZO_INDEX_* settings and the index hash (so a change rebuilds), parameters of another type are
refused, and the Deployment's memory request follows the measured memory of the version it
serves (status.index.vectorIndex.memoryBytes)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pydantic import ValidationError

from oozo_contract.index_settings import IndexSettings
from oozo_operator.api.spec import Index
from oozo_operator.plan import Apply, plan
from oozo_operator.render import job
from tests.operator_builders import at
from tests.unit.plan_builders import SOURCE_REVISION, corpus, observed, stored, succeeded

MI = 1024**2


def settings_of(env: dict[str, str]) -> IndexSettings:
    return IndexSettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in env.items()})


def test_index_parameters_reach_the_index_job_and_change_the_index_hash() -> None:
    plain = corpus()
    tuned = corpus(at("spec.index.type", "ivfpq"), at("spec.index.ivfpq", {"nlist": 256, "nprobe": 16}))
    assert settings_of(job.index_env(plain)).index_type == "auto"
    built = settings_of(job.index_env(tuned))
    assert (built.index_type, built.index_ivf_nlist, built.index_ivf_nprobe) == ("ivfpq", 256, 16)
    assert built.index_pq_m is None  # unset: chosen by the build for the corpus's size
    assert "OOZO_INDEX_IVF_NLIST" not in job.index_env(plain)
    assert len({plain.index_hash, tuned.index_hash, corpus(at("spec.index.type", "ivfpq")).index_hash}) == 3


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ({"type": "flat", "hnsw": {"m": 16}}, "hnsw parameters need type hnsw"),
        ({"type": "hnsw", "ivfpq": {"nlist": 16}}, "ivfpq parameters need type ivfpq"),
        ({"type": "hnswfp16", "ivfpq": {"nlist": 16}}, "ivfpq parameters need type ivfpq"),
        ({"type": "ivfpq", "ivfpq": {"nbits": 16}}, "less than or equal to 12"),
    ],
)
def test_index_parameters_of_another_type_or_out_of_bounds_are_refused(
    index: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Index.model_validate(index)


def test_hnswfp16_takes_the_hnsw_parameters_to_the_index_job() -> None:
    half = corpus(at("spec.index.type", "hnswfp16"), at("spec.index.hnsw", {"m": 16, "efSearch": 400}))
    built = settings_of(job.index_env(half))
    assert (built.index_type, built.index_hnsw_m, built.index_hnsw_ef_search) == ("hnswfp16", 16, 400)
    assert (
        half.index_hash
        != corpus(at("spec.index.type", "hnsw"), at("spec.index.hnsw", {"m": 16, "efSearch": 400})).index_hash
    )


def server_of(build_result: dict[str, Any], *mods: Any) -> dict[str, Any]:
    """The Deployment a pass applies after adopting a build that reported `build_result`."""
    spec = corpus(*mods)
    index_hash = dataclasses.replace(spec, source_revision=SOURCE_REVISION).index_hash
    build = succeeded(f"docs-index-{index_hash}", "v1", **build_result)
    planned = plan(observed(status=stored(), builds=(build,)), spec, full=True, new_api_key="k")
    return next(w.obj for w in planned.writes if isinstance(w, Apply) and w.obj["kind"] == "Deployment")


def resources(server: dict[str, Any]) -> dict[str, Any]:
    return server["spec"]["template"]["spec"]["containers"][0]["resources"]


def test_the_deployment_memory_request_follows_the_served_versions_index() -> None:
    measured = {"vectorIndex": {"type": "hnsw", "recallAt10": 0.98, "sizeBytes": 1, "memoryBytes": 1536 * MI}}
    assert resources(server_of(measured))["requests"]["memory"] == "2560Mi"
    assert resources(server_of(measured))["limits"]["memory"] == "3584Mi"
    limited = at("spec.runtime.resources", {"limits": {"memory": "2Gi"}})
    assert resources(server_of(measured, limited)) == {
        "limits": {"memory": "2Gi"},
        "requests": {"memory": "2048Mi"},
    }
    assert resources(server_of({}))["requests"]["memory"] == "1Gi"  # an unmeasured version: as before
