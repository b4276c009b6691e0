"""The operator on a real control plane, as a user lives it: apply a RagCorpus, watch children
appear, the index get built, the server roll out, a build fail, a Secret go missing, a
restart, a deletion. The operator runs as `.venv/bin/oozo-operator`; the test plays the
kubelet of oozo-local-0, where every pod of these corpora is scheduled (spec.scheduling)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client

from devcluster.kstatus import kstatus
from devcluster.kubelet.player import KubeletPlayer, index_result_message
from devcluster.ragcorpus import GROUP, PLURAL, VERSION, condition, docs_configmap, volume_for
from devcluster.waiting import wait_for
from tests.k8s_fields import HasMetadata, labels_of, name_of
from tests.operator_builders import (
    at,
    make_corpus,
    on_local_node,
    with_auth,
    with_autoscaling,
    with_openai,
    with_refresh,
)
from tests.operator_support import Operator, corpus, until_condition

MANAGED = "app.kubernetes.io/managed-by=oozo"


def apply_corpus(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str, obj: dict[str, Any]
) -> None:
    name = obj["metadata"]["name"]
    docs_configmap(core, ns, f"{name}-docs")
    volume_for(core, ns, name)
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, obj)


def ready(custom: client.CustomObjectsApi, ns: str, name: str, status: str = "True") -> dict[str, Any] | None:
    obj = corpus(custom, ns, name)
    return obj if condition(obj, "Ready").get("status") == status else None


def serve_version(api: client.ApiClient, ns: str, name: str) -> str | None:
    dep = client.AppsV1Api(api).read_namespaced_deployment(name, ns)
    return (dep.spec.template.metadata.annotations or {}).get("rag.oozo.dev/index-version")


def bring_up(
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
    name: str,
    version: str,
) -> dict[str, Any]:
    """Index pod reports `version`, server pods come up: returns the Ready corpus."""
    kubelet.finish_index(ns, name, index_result_message(version))
    wait_for("the Deployment", lambda: serve_version(api, ns, name) == version or None, 30)
    return until_ready(kubelet, custom, ns, name)


def until_ready(
    kubelet: KubeletPlayer, custom: client.CustomObjectsApi, ns: str, name: str, version: str | None = None
) -> dict[str, Any]:
    """Keep bringing up server pods (as the kubelet) until the corpus reads Ready (at `version`)."""

    def probe() -> dict[str, Any] | None:
        kubelet.ready_servers(ns, name)
        obj = ready(custom, ns, name)
        if obj and (version is None or obj["status"]["index"]["version"] == version):
            return obj
        return None

    return wait_for(f"{name} Ready", probe, 60)


def test_children_carry_owner_labels_and_spec(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    ns: str,
) -> None:
    obj = make_corpus("full", on_local_node, with_auth(), with_autoscaling(2, 4), with_refresh("0 * * * *"))
    apply_corpus(core, custom, ns, obj)
    uid = corpus(custom, ns, "full")["metadata"]["uid"]
    batch, autoscaling, policy = client.BatchV1Api(api), client.AutoscalingV2Api(api), client.PolicyV1Api(api)
    children: dict[str, Callable[[], HasMetadata | None]] = {
        "pvc": lambda: core.read_namespaced_persistent_volume_claim("full-index", ns),
        "configmap": lambda: core.read_namespaced_config_map("full-config", ns),
        "secret": lambda: core.read_namespaced_secret("full-api-key", ns),
        "service": lambda: core.read_namespaced_service("full", ns),
        "hpa": lambda: autoscaling.read_namespaced_horizontal_pod_autoscaler("full", ns),
        "pdb": lambda: policy.read_namespaced_pod_disruption_budget("full", ns),
        "cronjob": lambda: batch.read_namespaced_cron_job("full-refresh", ns),
        "job": lambda: next(
            iter(batch.list_namespaced_job(ns, label_selector="app.kubernetes.io/component=index").items),
            None,
        ),
    }
    for what, read in children.items():
        child = wait_for(what, read, 30)
        owners = child.metadata.owner_references
        assert [(o.kind, o.name, o.uid, o.controller) for o in owners] == [
            ("RagCorpus", "full", uid, True)
        ], what
        labels = child.metadata.labels
        assert labels is not None
        assert (
            labels["app.kubernetes.io/instance"] == "full"
            and labels["app.kubernetes.io/managed-by"] == "oozo"
        )
        assert labels["app.kubernetes.io/name"] == "oozo-runtime" and labels["app.kubernetes.io/component"]
    cm = core.read_namespaced_config_map("full-config", ns)
    assert cm.data is not None
    assert cm.data["OOZO_AUTH_ENABLED"] == "true" and cm.data["OOZO_GENERATION_PROVIDER"] == "extractive"
    job = batch.list_namespaced_job(ns, label_selector="app.kubernetes.io/component=index").items[0]
    pod_spec = job.spec.template.spec
    assert job.spec.backoff_limit == 1 and job.spec.ttl_seconds_after_finished
    assert pod_spec.node_selector == {"oozo.dev/local-kubelet": "true"}
    container = pod_spec.containers[0]
    assert container.args is not None
    assert container.args[:1] == ["index"] and container.termination_message_policy == "FallbackToLogsOnError"
    assert {e.name: e.value for e in container.env}["OOZO_CHUNK_SIZE"] == "1000"
    assert autoscaling.read_namespaced_horizontal_pod_autoscaler("full", ns).spec.max_replicas == 4
    assert batch.read_namespaced_cron_job("full-refresh", ns).spec.concurrency_policy == "Forbid"
    # The generated key is created once and never read back into anything but a secretKeyRef.
    secret_uid = core.read_namespaced_secret("full-api-key", ns).metadata.uid
    # No Deployment until an index version is published.
    assert not client.AppsV1Api(api).list_namespaced_deployment(ns).items
    bring_up(api, custom, KubeletPlayer(core), ns, "full", "v1")
    dep = client.AppsV1Api(api).read_namespaced_deployment("full", ns)
    # The HPA owns the replica count: the operator's field manager must not claim it.
    ours = [
        m.fields_v1 for m in dep.metadata.managed_fields if m.manager == "oozo" and m.operation == "Apply"
    ]
    assert ours and ours[0] is not None and "f:replicas" not in ours[0]["f:spec"]
    server = dep.spec.template.spec.containers[0]
    assert (
        server.security_context.read_only_root_filesystem
        and server.security_context.capabilities.drop == ["ALL"]
    )
    keys = {e.name: e.value_from.secret_key_ref.name for e in server.env if e.value_from}
    assert keys == {"OOZO_API_KEYS": "full-api-key"}
    assert dep.spec.strategy.rolling_update.max_unavailable == 0
    assert core.read_namespaced_secret("full-api-key", ns).metadata.uid == secret_uid
    svc = core.read_namespaced_service("full", ns)
    assert svc.spec.ports is not None
    assert svc.spec.ports[0].port == 80
    assert corpus(custom, ns, "full")["status"]["endpoint"] == f"http://full.{ns}.svc/api/query"


def test_index_result_drives_ready_and_rollout(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    apply_corpus(core, custom, ns, make_corpus("docs", on_local_node))
    indexing = wait_for("a status", lambda: condition(corpus(custom, ns, "docs"), "Reconciling") or None, 20)
    assert indexing["status"] == "True"
    assert kstatus(corpus(custom, ns, "docs"))[0] == "InProgress"
    obj = bring_up(api, custom, kubelet, ns, "docs", "20260101-aaaa")
    assert kstatus(obj) == ("Current", "Resource is Ready")
    index = obj["status"]["index"]
    assert (index["version"], index["documents"], index["chunks"], index["skippedDocuments"]) == (
        "20260101-aaaa",
        3,
        12,
        1,
    )
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    first_ready = condition(obj, "Ready")["lastTransitionTime"]

    # Replicas change: no rebuild.
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "docs", {"spec": {"runtime": {"replicas": 2}}}
    )
    wait_for(
        "2 replicas",
        lambda: client.AppsV1Api(api).read_namespaced_deployment("docs", ns).spec.replicas == 2,
        20,
    )
    assert len(client.BatchV1Api(api).list_namespaced_job(ns).items) == 1

    # Chunking change: a new Job; the old version serves until the new one is reported.
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "docs", {"spec": {"chunking": {"size": 800}}}
    )
    wait_for("a second Job", lambda: len(client.BatchV1Api(api).list_namespaced_job(ns).items) == 2, 20)
    assert serve_version(api, ns, "docs") == "20260101-aaaa"
    assert kstatus(corpus(custom, ns, "docs"))[0] == "InProgress"
    kubelet.finish_index(ns, "docs", index_result_message("20260101-bbbb", chunks=15))
    wait_for("rollout to v2", lambda: serve_version(api, ns, "docs") == "20260101-bbbb" or None, 30)
    obj = until_ready(kubelet, custom, ns, "docs", "20260101-bbbb")
    assert obj["status"]["index"]["chunks"] == 15 and kstatus(obj)[0] == "Current"
    # Ready flipped False while rolling out and back True: the transition time moved.
    assert condition(obj, "Ready")["lastTransitionTime"] >= first_ready


def test_editing_the_source_configmap_builds_a_new_version(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    apply_corpus(core, custom, ns, make_corpus("live", on_local_node))
    first = bring_up(api, custom, kubelet, ns, "live", "v1")
    batch = client.BatchV1Api(api)
    core.patch_namespaced_config_map("live-docs", ns, {"data": {"b.md": "# A new page\n"}})
    wait_for("a Job for the edited documents", lambda: len(batch.list_namespaced_job(ns).items) == 2, 30)
    assert serve_version(api, ns, "live") == "v1"  # the old version serves meanwhile
    kubelet.finish_index(ns, "live", index_result_message("v2"))
    obj = until_ready(kubelet, custom, ns, "live", "v2")
    assert obj["status"]["sourceRevision"] != first["status"]["sourceRevision"]
    assert obj["metadata"]["generation"] == first["metadata"]["generation"]  # no spec change


def test_failed_build_keeps_old_version_and_stalls(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    apply_corpus(core, custom, ns, make_corpus("frail", on_local_node))
    bring_up(api, custom, kubelet, ns, "frail", "v1")
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "frail", {"spec": {"embedding": {"batchSize": 8}}}
    )
    failure = '{"error": "no documents could be read", "reason": "EmptyCorpus"}'
    kubelet.finish_index(ns, "frail", failure, exit_code=1)
    retrying = condition(
        until_condition(custom, ns, "frail", "IndexReady", 30, status="False", reason="IndexBuildRetrying"),
        "IndexReady",
    )
    assert "no documents could be read" in retrying["message"]
    assert kstatus(corpus(custom, ns, "frail"))[0] == "InProgress"
    kubelet.finish_index(ns, "frail", failure, exit_code=1)  # backoffLimit 1: the last attempt
    stalled = until_condition(custom, ns, "frail", "Stalled", 60, status="True")
    assert condition(stalled, "Stalled")["reason"] == "IndexBuildFailed"
    assert "v1 keeps serving" in condition(stalled, "IndexReady")["message"]
    assert kstatus(stalled)[0] == "Failed"
    assert serve_version(api, ns, "frail") == "v1"
    assert stalled["status"]["index"]["version"] == "v1"
    events = core.list_namespaced_event(ns, field_selector="involvedObject.name=frail").items
    assert any(e.reason == "IndexBuildFailed" and e.type == "Warning" for e in events)


def test_missing_secret_stalls_then_recovers(
    operator: Operator, core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    apply_corpus(core, custom, ns, make_corpus("llm", on_local_node, with_openai("openai-creds", "api-key")))
    stalled = until_condition(custom, ns, "llm", "Stalled", 20, status="True")
    assert condition(stalled, "Stalled")["reason"] == "SecretNotFound"
    assert "openai-creds" in condition(stalled, "Stalled")["message"]
    assert kstatus(stalled)[0] == "Failed"
    core.create_namespaced_secret(
        ns,
        client.V1Secret.model_validate(
            {"metadata": {"name": "openai-creds"}, "stringData": {"api-key": "sk-test"}}
        ),
    )
    recovered = until_condition(custom, ns, "llm", "Stalled", 30, status="False")
    assert condition(recovered, "Reconciling")["status"] == "True"
    assert "sk-test" not in str(recovered)


def test_restart_mid_reconcile_creates_no_duplicates(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    ns: str,
) -> None:
    names = [f"r{i}" for i in range(6)]
    operator.kill()
    for name in names:
        apply_corpus(core, custom, ns, make_corpus(name, on_local_node, with_auth()))
    operator.start()
    wait_for("the first Job", lambda: client.BatchV1Api(api).list_namespaced_job(ns).items, 30, every=0.05)
    operator.kill()  # mid-pass for some corpora
    operator.start()
    for name in names:

        def observed(name: str = name) -> bool:
            return corpus(custom, ns, name)["status"].get("observedGeneration") == 1

        wait_for(f"{name} observed", observed, 40)
    jobs = client.BatchV1Api(api).list_namespaced_job(ns).items
    secrets = core.list_namespaced_secret(ns, label_selector=MANAGED).items
    assert sorted(labels_of(j)["app.kubernetes.io/instance"] for j in jobs) == names
    assert sorted(name_of(s) for s in secrets) == sorted(f"{n}-api-key" for n in names)


def test_delete_removes_every_child(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    apply_corpus(
        core, custom, ns, make_corpus("gone", on_local_node, with_auth(), at("spec.runtime.replicas", 2))
    )
    bring_up(api, custom, kubelet, ns, "gone", "v1")
    obj = corpus(custom, ns, "gone")
    assert not obj["metadata"].get("finalizers")  # nothing blocks deletion on the operator
    custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "gone")
    apps, batch, policy = client.AppsV1Api(api), client.BatchV1Api(api), client.PolicyV1Api(api)
    listers = [
        lambda: apps.list_namespaced_deployment(ns, label_selector=MANAGED).items,
        lambda: batch.list_namespaced_job(ns, label_selector=MANAGED).items,
        lambda: core.list_namespaced_service(ns, label_selector=MANAGED).items,
        lambda: core.list_namespaced_config_map(ns, label_selector=MANAGED).items,
        lambda: core.list_namespaced_secret(ns, label_selector=MANAGED).items,
        lambda: core.list_namespaced_persistent_volume_claim(ns, label_selector=MANAGED).items,
        lambda: policy.list_namespaced_pod_disruption_budget(ns, label_selector=MANAGED).items,
    ]
    wait_for("garbage collection", lambda: all(not lister() for lister in listers), 60)


def test_dropping_optional_children_from_the_spec_deletes_them(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    ns: str,
) -> None:
    apply_corpus(
        core, custom, ns, make_corpus("opt", on_local_node, with_autoscaling(2, 3), with_refresh("@daily"))
    )
    autoscaling, batch, policy = client.AutoscalingV2Api(api), client.BatchV1Api(api), client.PolicyV1Api(api)
    wait_for("the HPA", lambda: autoscaling.list_namespaced_horizontal_pod_autoscaler(ns).items, 20)
    wait_for("the CronJob", lambda: batch.list_namespaced_cron_job(ns).items, 20)
    wait_for("the PDB", lambda: policy.list_namespaced_pod_disruption_budget(ns).items, 20)
    patch = {"spec": {"runtime": {"autoscaling": None}, "refresh": None}}
    custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "opt", patch)
    wait_for(
        "HPA, PDB and CronJob gone",
        lambda: (
            not autoscaling.list_namespaced_horizontal_pod_autoscaler(ns).items
            and not batch.list_namespaced_cron_job(ns).items
            and not policy.list_namespaced_pod_disruption_budget(ns).items
        ),
        20,
    )


def test_a_fetched_source_gets_an_index_job_that_fetches_first(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    ns: str,
) -> None:
    """s3, git and http sources are built (no SourceNotSupported): the API server accepts the
    index Job with its `fetch` init container, and refuses credentials written into a URL."""
    s3 = {"bucket": "corp-docs", "endpoint": "http://minio.storage:9000", "pathStyle": True}
    obj = make_corpus("remote", on_local_node, at("spec.source", {"s3": s3}))
    volume_for(core, ns, "remote")
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, obj)
    batch = client.BatchV1Api(api)
    made = wait_for("the index Job", lambda: batch.list_namespaced_job(ns).items, 20)[0]
    pod = api.sanitize_for_serialization(made)["spec"]["template"]["spec"]
    fetcher, index = pod["initContainers"], pod["containers"]
    assert [c["name"] for c in fetcher] == ["fetch"] and index[0]["name"] == "index"
    assert fetcher[0]["args"][:2] == ["fetch", "s3://corp-docs/"]
    assert fetcher[0]["terminationMessagePath"] != index[0]["terminationMessagePath"]
    indexing = until_condition(custom, ns, "remote", "Ready", 20, status="False")
    assert condition(indexing, "Stalled").get("status") != "True", indexing["status"]

    leaky = make_corpus("leaky", at("spec.source", {"git": {"url": "https://me:tok@git.example.com/r.git"}}))
    try:
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, leaky)
    except client.ApiException as err:
        assert err.status == 422 and "spec.source.git.url" in str(err.body), err.body
    else:
        raise AssertionError("a git URL with credentials in it was accepted")


def test_refused_child_change_stalls_naming_the_child(
    operator: Operator, core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    apply_corpus(core, custom, ns, make_corpus("shrink", on_local_node))
    wait_for("the PVC", lambda: core.read_namespaced_persistent_volume_claim("shrink-index", ns), 20)
    patch = {"spec": {"index": {"storage": {"size": "1Gi"}}}}  # PVCs never shrink
    custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "shrink", patch)
    stalled = until_condition(custom, ns, "shrink", "Stalled", 20, reason="ApplyRefused")
    assert "PersistentVolumeClaim shrink-index" in condition(stalled, "Stalled")["message"]
    assert kstatus(stalled)[0] == "Failed"


def test_operator_metrics(operator: Operator) -> None:
    text = operator.metrics()
    assert "oozo_reconciles_total" in text and "oozo_reconcile_duration_seconds_bucket" in text
    assert 'oozo_corpora{ready="True"}' in text
    assert operator.healthz()
