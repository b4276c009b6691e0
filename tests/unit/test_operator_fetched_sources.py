"""s3, git and http sources through a RagCorpus: the index Job's `fetch` init container (what it
runs, with which settings and credentials, all by reference), the index container reading the
fetched folder, the reindex annotation in the index hash, and the build's status read back from
the fetch's termination message (a FetchResult, or a failure with its reason)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import ValidationError

from oozo_contract.fetch import FetchResult
from oozo_contract.index_settings import IndexSettings
from oozo_contract.settings import FetchSettings
from oozo_operator import conditions as C
from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.config import OperatorSettings
from oozo_operator.observe import build_of
from oozo_operator.render import cronjob, fetch, job, pod
from oozo_operator.render.corpus import INDEX_DIR, REINDEX_ANNOTATION, Corpus
from tests.operator_builders import at, make_corpus, with_refresh, with_source

S3 = {
    "bucket": "team-docs",
    "prefix": "handbook/",
    "endpoint": "http://minio.storage:9000",
    "region": "eu-west-1",
    "pathStyle": True,
    "credentialsSecret": "s3-credentials",
}
GIT = {
    "url": "https://git.example.com/team/handbook.git",
    "ref": "v2",
    "path": "docs/",
    "credentialsSecret": "git-token",
}
HTTP = {
    "urls": ["https://docs.example.com/a.pdf", "http://intranet/b.md"],
    "headersSecret": {"name": "docs-headers", "key": "headers"},
}


def corpus_of(*mods: Any, annotations: dict[str, str] | None = None, **settings: Any) -> Corpus:
    obj = make_corpus("docs", *mods, namespace="ns")
    obj["metadata"]["uid"] = "uid-1"
    if annotations:
        obj["metadata"]["annotations"] = annotations
    return Corpus.from_body(obj, OperatorSettings(**settings))


def pod_spec(c: Corpus) -> dict[str, Any]:
    return job.render(c)["spec"]["template"]["spec"]


def fetch_container(c: Corpus) -> dict[str, Any]:
    inits = pod_spec(c)["initContainers"]
    assert [i["name"] for i in inits] == ["fetch"]
    return inits[0]


def plain_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def secret_refs(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}


def test_an_s3_source_is_fetched_into_the_source_cache_and_indexed_from_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = corpus_of(with_source(s3=S3))
    spec = pod_spec(c)
    fetcher, index = fetch_container(c), spec["containers"][0]
    assert fetcher["image"] == index["image"] and fetcher["command"] == ["oozo"]
    files = "/var/lib/oozo/index/source-cache/files"
    assert fetcher["args"] == [
        "fetch", "s3://team-docs/handbook/", "--into", files,
        "--state-dir", "/var/lib/oozo/index/source-cache/state",
    ]  # fmt: skip
    # The environment is FetchSettings' own: the runtime reads back exactly what was rendered.
    for name, value in plain_env(fetcher).items():
        monkeypatch.setenv(name, value)
    settings = FetchSettings()
    assert settings.source == "s3://team-docs/handbook/" and str(settings.into) == files
    assert settings.s3_endpoint == "http://minio.storage:9000" and settings.s3_region == "eu-west-1"
    assert settings.s3_path_style is True
    assert str(settings.termination_message_path) == "/dev/fetch-termination-log"
    # The index container indexes the fetched folder; no source volume is mounted.
    assert index["args"] == ["index", files, "--out", "/var/lib/oozo/index"]
    assert plain_env(index)["OOZO_SOURCE"] == files
    assert [v["name"] for v in spec["volumes"]] == ["index", "tmp"]


def test_s3_credentials_come_from_the_secret_by_reference_never_as_values() -> None:
    fetcher = fetch_container(corpus_of(with_source(s3=S3)))
    assert secret_refs(fetcher) == {
        "AWS_ACCESS_KEY_ID": {"name": "s3-credentials", "key": "AWS_ACCESS_KEY_ID"},
        "AWS_SECRET_ACCESS_KEY": {"name": "s3-credentials", "key": "AWS_SECRET_ACCESS_KEY"},
        "AWS_SESSION_TOKEN": {"name": "s3-credentials", "key": "AWS_SESSION_TOKEN", "optional": True},
    }
    assert not any(k.startswith("AWS_") for k in plain_env(fetcher))


def test_s3_workload_identity_runs_the_pod_as_the_named_service_account() -> None:
    c = corpus_of(with_source(s3={"bucket": "team-docs", "serviceAccountName": "docs-reader"}))
    spec = pod_spec(c)
    assert spec["serviceAccountName"] == "docs-reader"
    assert spec["automountServiceAccountToken"] is False  # identity webhooks project their own token
    assert secret_refs(fetch_container(c)) == {}
    assert "serviceAccountName" not in pod_spec(corpus_of(with_source(s3=S3)))


def test_git_credentials_come_from_the_secret_by_reference() -> None:
    fetcher = fetch_container(corpus_of(with_source(git=GIT)))
    assert fetcher["args"][1] == "git+https://git.example.com/team/handbook.git@v2#docs"
    assert secret_refs(fetcher) == {
        "OOZO_GIT_USERNAME": {"name": "git-token", "key": "username", "optional": True},
        "OOZO_GIT_PASSWORD": {"name": "git-token", "key": "password"},
    }
    public = fetch_container(corpus_of(with_source(git={"url": "https://x.org/r.git"})))
    assert public["args"][1] == "git+https://x.org/r.git@main" and secret_refs(public) == {}


GIT_SSH = {
    "url": "ssh://git@git.example.com:2222/team/handbook.git",
    "ref": "v2",
    "credentialsSecret": "deploy-key",
}


@pytest.mark.parametrize("refresh", [False, True], ids=["index-job", "refresh-cronjob"])
def test_git_ssh_key_and_known_hosts_are_read_only_secret_files_seen_only_by_the_fetch(refresh: bool) -> None:
    c = corpus_of(with_source(git=GIT_SSH), *([with_refresh("@hourly")] if refresh else []))
    template = (
        cronjob.render(c)["spec"]["jobTemplate"]["spec"]["template"]
        if refresh
        else job.render(c)["spec"]["template"]
    )
    spec = template["spec"]
    fetcher = next(i for i in spec["initContainers"] if i["name"] == "fetch")
    assert fetcher["args"][1] == "git+ssh://git@git.example.com:2222/team/handbook.git@v2"
    assert secret_refs(fetcher) == {}  # the key is never an environment variable
    env = plain_env(fetcher)
    assert env["OOZO_GIT_SSH_KEY_FILE"] == "/var/run/oozo/git-ssh/ssh-privatekey"
    assert env["OOZO_GIT_KNOWN_HOSTS_FILE"] == "/var/run/oozo/git-ssh/known_hosts"
    volume = next(v for v in spec["volumes"] if v["name"] == "git-ssh")
    assert volume["secret"] == {
        "secretName": "deploy-key",
        "items": [
            {"key": "ssh-privatekey", "path": "ssh-privatekey"},
            {"key": "known_hosts", "path": "known_hosts"},
        ],
        "defaultMode": 0o400,
    }
    assert {"name": "git-ssh", "mountPath": "/var/run/oozo/git-ssh", "readOnly": True} in fetcher[
        "volumeMounts"
    ]
    assert all(m["name"] != "git-ssh" for m in spec["containers"][0]["volumeMounts"])


def test_http_headers_are_a_mounted_secret_file_seen_only_by_the_fetch() -> None:
    c = corpus_of(with_source(http=HTTP), http_source_refuse_private=True)
    spec, fetcher = pod_spec(c), fetch_container(c)
    assert fetcher["args"][1:3] == HTTP["urls"]
    env = plain_env(fetcher)
    assert env["OOZO_SOURCE"] == " ".join(HTTP["urls"])
    assert env["OOZO_HTTP_HEADERS_FILE"] == "/var/run/oozo/http-headers/headers"
    assert env["OOZO_HTTP_REFUSE_PRIVATE"] in ("true", "True", "1")
    volume = next(v for v in spec["volumes"] if v["name"] == "http-headers")
    assert volume["secret"] == {
        "secretName": "docs-headers",
        "items": [{"key": "headers", "path": "headers"}],
        "defaultMode": 0o440,
    }
    assert {"name": "http-headers", "mountPath": "/var/run/oozo/http-headers", "readOnly": True} in fetcher[
        "volumeMounts"
    ]
    assert all(m["name"] != "http-headers" for m in spec["containers"][0]["volumeMounts"])


def test_the_fetch_is_hardened_like_the_index_and_reports_on_its_own_path() -> None:
    c = corpus_of(with_source(s3=S3), at("spec.index.resources", {"limits": {"memory": "2Gi"}}))
    spec = pod_spec(c)
    fetcher, index = fetch_container(c), spec["containers"][0]
    assert fetcher["securityContext"] == pod.CONTAINER_SECURITY == index["securityContext"]
    assert fetcher["resources"] == index["resources"] == {"limits": {"memory": "2Gi"}}
    assert fetcher["terminationMessagePath"] != index["terminationMessagePath"]
    assert fetcher["terminationMessagePolicy"] == "FallbackToLogsOnError"
    mounts = {m["mountPath"]: m for m in fetcher["volumeMounts"]}
    assert mounts["/var/lib/oozo/index"]["readOnly"] is False and "/tmp" in mounts


def test_mounted_sources_have_no_fetch_step() -> None:
    spec = pod_spec(corpus_of())
    assert "initContainers" not in spec
    assert spec["containers"][0]["args"][1] == "/src"


@pytest.mark.parametrize("source", [{"s3": S3}, {"git": GIT}, {"http": HTTP}])
def test_a_refresh_of_a_fetched_source_fetches_then_builds(source: dict[str, Any]) -> None:
    c = corpus_of(at("spec.source", source), with_refresh("@hourly"))
    assert cronjob.wanted(c)
    template = cronjob.render(c)["spec"]["jobTemplate"]["spec"]["template"]
    assert template == job.render(c)["spec"]["template"]
    assert [i["name"] for i in template["spec"]["initContainers"]] == ["fetch"]


def test_the_reindex_annotation_is_part_of_the_index_hash() -> None:
    plain = corpus_of(with_source(s3=S3))
    asked = corpus_of(with_source(s3=S3), annotations={REINDEX_ANNOTATION: "2026-05-01T10:00:00Z"})
    again = corpus_of(with_source(s3=S3), annotations={REINDEX_ANNOTATION: "2026-05-01T10:00:00Z"})
    later = corpus_of(with_source(s3=S3), annotations={REINDEX_ANNOTATION: "2026-05-02T10:00:00Z"})
    assert len({plain.index_hash, asked.index_hash, later.index_hash}) == 3
    assert asked.index_hash == again.index_hash  # the same request builds once
    assert corpus_of(annotations={"other": "x"}).index_hash == corpus_of().index_hash


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ({"git": {"url": "https://user:token@git.example.com/r.git"}}, "url"),
        ({"git": {"url": "ssh://git:hunter2@git.example.com/r.git", "credentialsSecret": "k"}}, "url"),
        ({"git": {"url": "ssh://git@git.example.com/r.git"}}, "credentialsSecret"),
        ({"git": {"url": "https://git.example.com/r.git", "ref": "main#x"}}, "ref"),
        ({"http": {"urls": ["https://user:pw@docs.example.com/a.md"]}}, "credentials"),
        ({"s3": {"bucket": "b", "serviceAccountName": "Not_A_Name"}}, "serviceAccountName"),
    ],
)
def test_bad_source_fields_are_refused_with_the_field_named(source: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError) as err:
        RagCorpusSpec.model_validate({"source": source})
    assert says in str(err.value)


# -- status from the fetch's termination message ---------------------------------------------

INDEXED = {
    "version": "20260101-ab", "documents": 2, "chunks": 7, "skippedDocuments": 1,
    "skipped": [{"document": "bad.docx", "reason": "not a zip"}], "embeddingModel": "m",
    "dimensions": 384, "sizeBytes": 10, "builtAt": "2026-01-01T00:00:00Z", "buildSeconds": 1.5,
    "reusedEmbeddings": 0,
}  # fmt: skip
FETCHED = FetchResult(
    kind="s3",
    revision="sha256:" + "ab" * 32,
    fetched=2,
    unchanged=0,
    removed=0,
    skipped_objects=1,
    skipped=[{"name": "s3://team-docs/handbook/huge.pdf", "reason": "over the 256 MiB cap"}],
).model_dump_json(by_alias=True)


def _job(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "j", "creationTimestamp": "2026-01-01T00:00:00Z"}, "status": status}


def _term(code: int, message: str, finished: str) -> dict[str, Any]:
    return {"terminated": {"exitCode": code, "message": message, "finishedAt": finished}}


def _pod(fetch_state: dict[str, Any], index_state: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"initContainerStatuses": [{"name": "fetch", "state": fetch_state}]}
    if index_state:
        status["containerStatuses"] = [{"name": "index", "state": index_state}]
    return {"metadata": {"name": "p"}, "status": status}


def test_a_build_reports_the_revision_and_the_skipped_objects_its_fetch_found() -> None:
    pods = [_pod(_term(0, FETCHED, "t1"), _term(0, json.dumps(INDEXED), "t2"))]
    b = build_of(_job(succeeded=1), pods)
    assert b.state == "succeeded" and b.result is not None
    assert b.result["sourceRevision"] == "sha256:" + "ab" * 32
    assert b.result["skippedDocuments"] == 2
    assert [s["document"] for s in b.result["skipped"]] == ["s3://team-docs/handbook/huge.pdf", "bad.docx"]


@pytest.mark.parametrize("message", ["", "not json", '{"kind": "s3"}'])
def test_an_unreadable_fetch_message_costs_only_the_revision(message: str) -> None:
    b = build_of(_job(succeeded=1), [_pod(_term(0, message, "t1"), _term(0, json.dumps(INDEXED), "t2"))])
    assert b.state == "succeeded" and b.result is not None and "sourceRevision" not in b.result


FAILED_FETCH = json.dumps({"error": "s3://team-docs/handbook/: access denied", "reason": "SourceAuthFailed"})


def test_a_failed_fetch_is_the_build_failure_with_its_reason_and_message() -> None:
    pods = [_pod(_term(1, FAILED_FETCH, f"2026-01-01T00:0{i}:00Z")) for i in range(3)]
    failed = build_of(_job(failed=3, conditions=[{"type": "Failed", "status": "True",
                                                   "reason": "BackoffLimitExceeded"}]), pods)  # fmt: skip
    assert failed.state == "failed" and failed.reason == "SourceAuthFailed"
    assert "access denied (SourceAuthFailed)" in failed.message
    wanted = C.desired(C.Inputs(generation=1, index_hash="h", endpoint="e", build=failed))
    assert wanted[C.STALLED][:2] == ("True", "SourceAuthFailed")
    assert wanted[C.INDEX_READY][1] == "SourceAuthFailed" and "access denied" in wanted[C.READY][2]

    retrying = build_of(_job(failed=1, active=1), pods[:1])
    assert retrying.state == "failing" and "access denied (SourceAuthFailed)" in retrying.message


def test_an_index_failure_after_a_good_fetch_stays_an_index_failure() -> None:
    error = json.dumps({"error": "no usable document", "reason": "NoDocuments"})
    pods = [_pod(_term(0, FETCHED, "2026-01-01T00:00:00Z"), _term(1, error, "2026-01-01T00:01:00Z"))]
    failed = build_of(_job(failed=1, conditions=[{"type": "Failed", "status": "True",
                                                  "reason": "BackoffLimitExceeded"}]), pods)  # fmt: skip
    assert failed.reason == "BackoffLimitExceeded" and "no usable document" in failed.message
    wanted = C.desired(C.Inputs(generation=1, index_hash="h", endpoint="e", build=failed))
    assert wanted[C.STALLED][1] == "IndexBuildFailed"


def test_a_running_fetch_says_so() -> None:
    b = build_of(_job(active=1), [_pod({"running": {"startedAt": "t"}})])
    assert b.state == "running" and "fetching" in b.message


def test_index_settings_and_fetch_settings_agree_on_the_folder() -> None:
    c = corpus_of(with_source(git=GIT))
    assert fetch.files_dir(c) == job.index_env(c)[IndexSettings.model_config.get("env_prefix", "") + "SOURCE"]


@pytest.mark.parametrize("source", [{"s3": S3}, {"git": GIT}, {"http": HTTP}])
def test_only_the_refresh_asks_the_source_unless_it_is_still_at_the_published_revision(
    source: dict[str, Any],
) -> None:
    c = corpus_of(at("spec.source", source), with_refresh("@hourly"))
    published = dataclasses.replace(c, published_source_revision="0123abcd" * 5)
    refresh = cronjob.render(published)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert plain_env(refresh["initContainers"][0])["OOZO_UNLESS_REVISION"] == "0123abcd" * 5
    # The index Job's pod never depends on the revision: not its template, not its name.
    assert job.render(published) == job.render(c)
    assert "OOZO_UNLESS_REVISION" not in plain_env(fetch_container(published))


def test_the_fetch_hands_its_result_to_the_index_container_on_the_index_volume() -> None:
    c = corpus_of(with_source(s3=S3))
    result_file = plain_env(fetch_container(c))["OOZO_RESULT_FILE"]
    index_env = plain_env(pod_spec(c)["containers"][0])
    assert index_env["OOZO_FETCH_RESULT_FILE"] == result_file == fetch.result_file(c)
    assert result_file.startswith(INDEX_DIR + "/")  # the volume both containers mount
    assert FetchSettings.model_validate({"source": "s3://b/p", "into": "/x", "result_file": result_file})
    assert IndexSettings.model_validate({"fetch_result_file": result_file}).fetch_result_file
