"""The kubectl plugin's pure parts: the status summary and its screen (table-tested from status
dicts), the manual backup Job, the report's ownership closure and Secret listing, and the names
it shares with the operator as data."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from oozo_kubectl import actions, logs, report, screen, summary
from oozo_kubectl import names as N
from oozo_kubectl.kube import PluginError
from oozo_kubectl.query import api_key_ref
from oozo_operator.config import OperatorSettings
from oozo_operator.render import labels as L
from oozo_operator.render import secret as S
from oozo_operator.render import service, verify
from oozo_operator.render.corpus import REINDEX_ANNOTATION, Corpus
from tests.operator_builders import at, make_corpus

READY = {"type": "Ready", "status": "True", "reason": "Serving", "message": "version v1 serves"}
STALLED = {"type": "Stalled", "status": "True", "reason": "SecretMissing", "message": "Secret s3 is missing"}


def corpus(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    meta = {"name": "docs", "namespace": "team", "generation": 2, "uid": "u-corpus"}
    return {"metadata": meta, "spec": spec, "status": status or {}}


def text_of(renderable: Any) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(renderable)
    return console.export_text()


INDEX = {
    "version": "v20240101-abc",
    "documents": 3,
    "chunks": 12,
    "job": "docs-index-1",
    "builtAt": "2024-01-01T00:00:00Z",
}
SKIPPED = {**INDEX, "skippedDocuments": 1, "skipped": [{"document": "a.pdf", "reason": "encrypted"}]}
BACKED_UP = {"lastBackup": {"time": "2024-01-02T03:00:00Z", "uri": "s3://b/p/v1.tar.zst"}}
WARNING = {
    "metadata": {},
    "lastTimestamp": "t1",
    "type": "Warning",
    "reason": "BuildFailed",
    "message": "boom",
}
CASES: list[tuple[str, summary.Observed, list[str], list[str]]] = [
    ("a new corpus has no status yet", summary.Observed(corpus()),
     ["Not ready", "none yet", "no backup configured", "no events"], ["Serving version  v"]),
    ("a ready corpus shows its version and counts",
     summary.Observed(corpus({"conditions": [READY], "index": INDEX, "observedGeneration": 2})),
     ["Ready", "Serving", "version v1 serves", "v20240101-abc", "3 / 12", "observed 2"], ["Not ready"]),
    ("a stalled corpus shows the reason and message",
     summary.Observed(corpus({"conditions": [STALLED]})), ["SecretMissing", "Secret s3 is missing"], []),
    ("skipped documents are listed with reasons",
     summary.Observed(
         corpus({"index": SKIPPED}),
         index_jobs=[{"metadata": {"name": "docs-index-1", "creationTimestamp": "t"},
                      "status": {"conditions": [{"type": "Complete", "status": "True"}]}}]),
     ["Succeeded", "a.pdf: encrypted"], []),
    ("backup, autoscaling and events",
     summary.Observed(
         corpus(BACKED_UP, backup={"schedule": "x"}),
         backup_cronjob={"spec": {"schedule": "0 3 * * *"}},
         hpa={"spec": {"minReplicas": 2, "maxReplicas": 5, "metrics": [
             {"type": "Resource", "resource": {"name": "cpu", "target": {"averageUtilization": 70}}}]},
              "status": {"currentReplicas": 2, "desiredReplicas": 3}},
         events=[WARNING]),
     ["0 3 * * *", "s3://b/p/v1.tar.zst", "2..5 replicas", "target CPU 70%", "BuildFailed", "boom"], []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("observed", "shown", "not_shown"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_status_screen_shows_what_the_status_says(
    observed: summary.Observed, shown: list[str], not_shown: list[str]
) -> None:
    text = text_of(screen.status_screen(summary.status_summary(observed)))
    for expected in shown:
        assert expected in text, text
    for unexpected in not_shown:
        assert unexpected not in text, text


@pytest.mark.parametrize(
    ("ctype", "status", "style"),
    [("Ready", "True", "green"), ("Ready", "False", "red"), ("Stalled", "True", "red"),
     ("Stalled", "False", "green"), ("Reconciling", "True", "yellow"), ("IndexReady", "Unknown", "yellow")],
)  # fmt: skip
def test_conditions_are_coloured_by_whether_they_are_good(ctype: str, status: str, style: str) -> None:
    assert screen.condition_style(ctype, status) == style


def test_versions_say_what_status_does_not_list() -> None:
    data = summary.versions_summary(corpus({"index": INDEX, "building": {"job": "docs-index-2"}}))
    assert [r["role"] for r in data["versions"]] == ["serving", "building"]
    assert "are not listed in status" in " ".join(text_of(screen.versions_screen(data)).split())


def test_a_manual_backup_job_is_the_cronjob_template_owned_by_the_cronjob() -> None:
    cron = {
        "metadata": {"name": "docs-backup", "namespace": "team", "uid": "u-cron"},
        "spec": {"jobTemplate": {"metadata": {"labels": {N.COMPONENT: N.BACKUP}}, "spec": {"template": {}}}},
    }
    job = actions.manual_job(cron, "docs-backup-manual-1")
    assert job["metadata"]["labels"] == {N.COMPONENT: N.BACKUP}
    assert job["metadata"]["annotations"] == {N.MANUAL_ANNOTATION: "manual"}
    assert (
        job["metadata"]["ownerReferences"][0] | {"uid": "u-cron", "kind": "CronJob", "controller": True}
        == (job["metadata"]["ownerReferences"][0])
    )
    assert job["spec"] == {"template": {}}


def test_report_takes_what_the_corpus_owns_through_jobs_and_replicasets() -> None:
    def obj(kind: str, uid: str, owner: str | None) -> dict[str, Any]:
        refs = [{"uid": owner}] if owner else []
        return {"kind": kind, "metadata": {"name": uid, "uid": uid, "ownerReferences": refs}}

    objects = [
        *(obj("Deployment", "d", "u-corpus"), obj("ReplicaSet", "rs", "d"), obj("Pod", "p", "rs")),
        *(obj("Job", "j", "u-corpus"), obj("Pod", "jp", "j"), obj("ConfigMap", "other", "someone")),
    ]
    names = [o["metadata"]["name"] for o in report.owned_closure("u-corpus", objects)]
    assert sorted(names) == ["d", "j", "jp", "p", "rs"]


def test_secrets_are_listed_by_name_and_type_only() -> None:
    listed = report.secret_listing(
        [{"metadata": {"name": "k"}, "type": "Opaque", "data": {"api-key": "c2VjcmV0"}}]
    )
    assert listed == [{"name": "k", "type": "Opaque"}]


@pytest.mark.parametrize(
    ("auth", "ref"),
    [({}, ("docs-api-key", "api-key")),
     ({"enabled": False}, None), ({"enabled": True}, ("docs-api-key", "api-key")),
     ({"enabled": True, "apiKeySecretRef": {"name": "mine", "key": "k"}}, ("mine", "k"))],
)  # fmt: skip
def test_the_api_key_secret_is_the_one_the_server_reads(auth: dict[str, Any], ref: Any) -> None:
    assert api_key_ref(corpus(runtime={"auth": auth})) == ref


def test_the_plugin_names_are_the_operators() -> None:
    assert (N.INSTANCE, N.COMPONENT, N.MANAGED_BY, N.MANAGER) == (
        L.INSTANCE,
        L.COMPONENT,
        L.MANAGED_BY,
        L.MANAGER,
    )
    assert (N.SERVER, N.INDEX, N.BACKUP, N.MERGE) == (L.SERVER, L.INDEX, L.BACKUP, L.MERGE)
    assert N.INDEX_HASH == L.INDEX_HASH
    assert N.REINDEX_ANNOTATION == REINDEX_ANNOTATION
    assert N.GENERATED_KEY == S.GENERATED_KEY
    assert N.generated_secret_name("x") == "x-api-key"
    from tests.unit.plan_builders import corpus as operator_corpus

    assert service.render(operator_corpus())["spec"]["ports"][0]["name"] == N.SERVICE_PORT_NAME


NEW, MID, OLD = "20260103t000000z-cc", "20260102t000000z-bb", "20260101t000000z-aa"
ON_VOLUME = {
    **INDEX,
    "version": NEW,
    "available": [{"version": v, "builtAt": "t", "documents": 3, "chunks": 9} for v in (NEW, MID, OLD)],
}


def test_versions_list_what_is_on_the_volume_and_mark_serving_newest_and_pinned() -> None:
    pinned = corpus({"index": {**ON_VOLUME, "servingVersion": MID}}, index={"pinnedVersion": MID})
    data = summary.versions_summary(pinned)
    assert [(r["version"], r["role"]) for r in data["versions"]] == [
        (NEW, "newest"), (MID, "serving, pinned"), (OLD, "")
    ]  # fmt: skip
    assert (data["servingVersion"], data["newestVersion"], data["pinnedVersion"]) == (MID, NEW, MID)
    text = " ".join(text_of(screen.versions_screen(data)).split())
    assert "serving, pinned" in text and "kubectl oozo rollback NAME --latest" in text


def test_a_pin_not_on_the_volume_is_listed_as_such() -> None:
    data = summary.versions_summary(corpus({"index": ON_VOLUME}, index={"pinnedVersion": "gone"}))
    assert data["versions"][-1] == {"role": "pinned (not on the volume)", "version": "gone"}


def test_status_screen_shows_the_pin_and_the_available_versions() -> None:
    obs = summary.Observed(
        corpus({"index": {**ON_VOLUME, "servingVersion": OLD}}, index={"pinnedVersion": OLD})
    )
    text = " ".join(text_of(screen.status_screen(summary.status_summary(obs))).split())
    assert f"Serving version {OLD}" in text and f"Newest version {NEW}" in text
    assert f"Pinned version {OLD}" in text and f"Available {NEW}, {MID}, {OLD}" in text


ROLLBACKS = [
    ("no version: the one before the serving one", None, NEW, MID),
    ("again: one further back", None, MID, OLD),
    ("a named version", OLD, NEW, OLD),
    ("the newest, named", NEW, OLD, NEW),
]


@pytest.mark.parametrize(("what", "asked", "serving", "pinned"), ROLLBACKS, ids=[r[0] for r in ROLLBACKS])
def test_rollback_pins(what: str, asked: str | None, serving: str, pinned: str) -> None:
    status = {"index": {**ON_VOLUME, "servingVersion": serving}}
    assert actions.rollback_target(corpus(status), asked) == pinned


@pytest.mark.parametrize(
    ("status", "asked", "says"),
    [
        ({"index": {**ON_VOLUME, "servingVersion": OLD}}, None, f"no version older than the serving {OLD}"),
        ({"index": ON_VOLUME}, "20250101t000000z-zz", f"available: {NEW}, {MID}, {OLD}"),
        ({"index": INDEX}, None, "lists no index versions"),
        ({}, None, "lists no index versions"),
    ],
)
def test_rollback_refuses_what_cannot_be_served(status: dict[str, Any], asked: str | None, says: str) -> None:
    with pytest.raises(PluginError) as refused:
        actions.rollback_target(corpus(status), asked)
    assert says in str(refused.value)


def test_status_lists_the_earlier_backups_under_the_last_one() -> None:
    backups = [
        {"time": f"2024-01-0{d}T03:00:00Z", "version": f"v{d}", "sizeBytes": 100 * d, "sha256": f"{d}" * 64}
        for d in (3, 2, 1)
    ]
    obs = summary.Observed(corpus({"lastBackup": backups[0], "backups": backups}))
    data = summary.status_summary(obs)
    assert [b["version"] for b in data["backups"]] == ["v3", "v2", "v1"]
    text = text_of(screen.status_screen(data))
    assert "2024-01-03T03:00:00Z" in text  # the last backup
    earlier = [line for line in text.splitlines() if "earlier" in line]
    assert ["2024-01-02" in earlier[0], "2024-01-01" in earlier[1]] == [True, True], earlier
    assert "200 bytes" in earlier[0] and "2222222222222222" in earlier[0]


@pytest.mark.parametrize(
    ("drill", "shows"),
    [
        (
            {"result": "Verified", "reason": "Verified", "time": "2024-01-07T04:30:00Z", "version": "v3",
             "checksums": 7, "mode": "questions", "questions": 5, "hits": 5,
             "lastVerifiedTime": "2024-01-07T04:30:00Z"},
            ["Restore drill", "30 4 * * 0", "Verified (Verified)", "7 matched", "5 of 5 questions"],
        ),
        (
            {"result": "Failed", "reason": "ChecksumMismatch", "time": "2024-01-14T04:30:00Z",
             "message": "s3://b/p/v3/index.tar.zst has sha256 x", "lastVerifiedTime": "2024-01-07T04:30:00Z"},
            ["Failed (ChecksumMismatch)", "s3://b/p/v3/index.tar.zst has sha256 x", "2024-01-07T04:30:00Z"],
        ),
    ],
    ids=["passed", "failed"],
)  # fmt: skip
def test_status_shows_the_last_verified_restore(drill: dict[str, Any], shows: list[str]) -> None:
    spec = {"backup": {"schedule": "0 3 * * *", "verify": {"schedule": "30 4 * * 0"}}}
    data = summary.status_summary(
        summary.Observed(corpus({**BACKED_UP, "lastVerifiedBackup": drill}, **spec))
    )
    assert data["lastVerifiedBackup"] == drill and data["verifySchedule"] == "30 4 * * 0"
    text = text_of(screen.status_screen(data))
    for expected in shows:
        assert expected in text, expected


def test_the_drill_cronjob_name_is_the_operators() -> None:
    drill = {"schedule": "0 3 * * *", "s3": {"bucket": "oozo-backups"}, "verify": {"schedule": "0 4 * * *"}}
    body = make_corpus("docs", at("spec.backup", drill), namespace="team")
    body["metadata"]["uid"] = "u"
    assert N.verify_cronjob_name("docs") == verify.name(Corpus.from_body(body, OperatorSettings()))
    assert actions.manual_job_name("docs", cronjob="docs-verify").startswith("docs-verify-manual-")


def job(name: str, created: str, build_hash: str = "h1") -> dict[str, Any]:
    return {"metadata": {"name": name, "creationTimestamp": created, "labels": {N.INDEX_HASH: build_hash}}}


def pod(name: str, job_name: str, created: str, shard: int | None = None) -> dict[str, Any]:
    annotations = {} if shard is None else {logs.COMPLETION_INDEX: str(shard)}
    labels = {logs.JOB_NAME_LABEL: job_name}
    return {
        "metadata": {"name": name, "creationTimestamp": created, "labels": labels, "annotations": annotations}
    }


OLD_INDEX, NEW_INDEX = job("docs-index-a", "t1", "a"), job("docs-index-b", "t2", "b")
MERGE_B, MERGE_A = job("docs-merge-b", "t3", "b"), job("docs-merge-a", "t1", "a")
BUILD_JOB_CASES = [
    ("no index Job, no build", [], [MERGE_B], []),
    ("the newest index Job alone", [OLD_INDEX, NEW_INDEX], [], ["docs-index-b"]),
    (
        "its merge Job follows it",
        [NEW_INDEX, OLD_INDEX],
        [MERGE_A, MERGE_B],
        ["docs-index-b", "docs-merge-b"],
    ),
    ("another build's merge Job is not this build's", [NEW_INDEX], [MERGE_A], ["docs-index-b"]),
]


@pytest.mark.parametrize(("index_jobs", "merge_jobs", "expected"),
                         [c[1:] for c in BUILD_JOB_CASES], ids=[c[0] for c in BUILD_JOB_CASES])  # fmt: skip
def test_a_build_is_its_newest_index_job_and_its_merge_job(
    index_jobs: list[dict[str, Any]], merge_jobs: list[dict[str, Any]], expected: list[str]
) -> None:
    assert [j["metadata"]["name"] for j in logs.build_jobs(index_jobs, merge_jobs)] == expected


BUILD_POD_CASES = [
    ("one pod of a plain Job", [pod("i-x", "docs-index-b", "t2")], ["i-x"]),
    (
        "a retried plain Job shows its newest pod",
        [pod("i-old", "docs-index-b", "t2"), pod("i-new", "docs-index-b", "t3")],
        ["i-new"],
    ),
    (
        "every shard, in order, each its newest pod, then the merge",
        [
            pod("m", "docs-merge-b", "t9"),
            pod("s1", "docs-index-b", "t2", 1),
            pod("s0-old", "docs-index-b", "t2", 0),
            pod("s0-new", "docs-index-b", "t5", 0),
        ],
        ["s0-new", "s1", "m"],
    ),
    (
        "pods of other Jobs are not shown",
        [pod("x", "docs-index-a", "t9"), pod("i", "docs-index-b", "t2")],
        ["i"],
    ),
    ("no pod yet", [], []),
]


@pytest.mark.parametrize(
    ("pods", "expected"), [c[1:] for c in BUILD_POD_CASES], ids=[c[0] for c in BUILD_POD_CASES]
)
def test_the_build_log_shows_each_shards_newest_pod_then_the_merge(
    pods: list[dict[str, Any]], expected: list[str]
) -> None:
    sources = logs.build_pods([NEW_INDEX, MERGE_B], pods)
    assert [s.pod for s in sources] == expected
    assert {s.container for s in sources} <= {N.INDEX_CONTAINER}
