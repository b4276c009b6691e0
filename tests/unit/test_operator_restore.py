"""Restore on the operator side, pure: the restore Job renderer and its result."""

from __future__ import annotations

import json

from oozo_operator.render import labels as L
from tests.operator_builders import at, on_local_node
from tests.unit.test_operator_backup import COMPLETE, RESULT, S3, _job, _pod, corpus_of


def test_restore_job_runs_oozo_restore_into_the_index_volume() -> None:
    from oozo_contract.backup_settings import RestoreSettings
    from oozo_operator.render import restore

    c = corpus_of(on_local_node, at("spec.restore", {"s3": S3, "version": "20260101-aaaa"}))
    assert restore.wanted(c, None) and not restore.wanted(c, {"version": "v"})
    assert not restore.wanted(corpus_of(), None)
    job = restore.render(c)
    assert job["metadata"]["name"] == restore.name(c) and job["metadata"]["name"].startswith("docs-restore-")
    other = corpus_of(on_local_node, at("spec.restore", {"s3": S3, "version": "latest"}))
    assert restore.name(other) != restore.name(c)
    assert job["spec"]["backoffLimit"] >= 0 and job["spec"]["ttlSecondsAfterFinished"] > 0
    tpl = job["spec"]["template"]
    assert tpl["metadata"]["labels"][L.COMPONENT] == "restore"
    assert tpl["metadata"]["labels"][restore.RESTORE_HASH] == restore.restore_hash(c)
    (ctr,) = tpl["spec"]["containers"]
    assert ctr["command"] == ["oozo"] and ctr["args"] == ["restore"]
    env = {e["name"]: e for e in ctr["env"]}
    plain = {k: e["value"] for k, e in env.items() if "value" in e and k.startswith("OOZO_")}
    settings = RestoreSettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in plain.items()})
    assert settings.restore_uri == "s3://oozo-backups/handbook@20260101-aaaa"
    assert settings.s3_endpoint == "http://minio.storage:9000"
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "s3-creds"
    assert [m["readOnly"] for m in ctr["volumeMounts"] if m["name"] == "index"] == [False]
    assert ctr["terminationMessagePath"] == "/dev/termination-log"
    assert tpl["spec"]["affinity"]["podAffinity"]


def test_restore_result_reads_like_an_index_result() -> None:
    from oozo_operator.observe import build_of

    msg = json.dumps({**RESULT, "version": "20260101-aaaa", "downloaded": True})
    job = _job("docs-restore-x", "t", succeeded=1, conditions=COMPLETE)
    pod_ = _pod("docs-restore-x", 0, msg)
    pod_["status"]["containerStatuses"][0]["name"] = "restore"
    b = build_of(job, [pod_], "restore")
    assert b.state == "succeeded" and b.result
    assert b.result["version"] == "20260101-aaaa" and b.result["restoredFrom"] == RESULT["uri"]
    assert b.result["job"] == "docs-restore-x"


def test_restore_says_whom_it_restores_for_and_from_whom_on_purpose() -> None:
    from oozo_contract.backup_settings import RestoreSettings
    from oozo_operator.render import restore

    def settings_of(spec: dict[str, object]) -> RestoreSettings:
        env = restore.restore_env(corpus_of(on_local_node, at("spec.restore", spec)))
        return RestoreSettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in env.items()})

    own = settings_of({"s3": {"bucket": "oozo-backups"}})
    assert own.restore_uri == "s3://oozo-backups/ns/docs@latest"  # the corpus's own default prefix
    assert own.restore_owner == "uid-1" and own.restore_owner_corpus == "ns/docs"
    assert own.restore_from_owner is None
    clone = settings_of({"s3": S3, "fromCorpus": "prod/handbook"})
    assert clone.restore_from_owner == "prod/handbook"


def test_restore_job_gets_the_index_jobs_resources_for_the_model_it_loads() -> None:
    """The restore exports the version's ONNX query graph again (the backup does not hold it), so
    it loads the embedding model like the index Job: the same memory, spec.index.resources too."""
    from oozo_operator.render import job, restore

    def restore_resources(*edits: object) -> object:
        c = corpus_of(on_local_node, at("spec.restore", {"s3": S3}), *edits)
        (ctr,) = restore.render(c)["spec"]["template"]["spec"]["containers"]
        return ctr["resources"]

    assert restore_resources() == job.DEFAULT_RESOURCES
    own = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "6Gi"}}
    assert restore_resources(at("spec.index.resources", own)) == own
