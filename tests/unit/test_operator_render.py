"""Renderers are pure functions of the spec: what each child looks like for a given RagCorpus."""

from __future__ import annotations

from typing import Any

from oozo_contract.index_settings import IndexSettings
from oozo_contract.serve_settings import ServeSettings
from oozo_operator.config import OperatorSettings
from oozo_operator.render import (
    backup,
    configmap,
    cronjob,
    deployment,
    hpa,
    job,
    pdb,
    pod,
    pvc,
    restore,
    secret,
    service,
    verify,
)
from oozo_operator.render.corpus import Corpus, index_hash
from tests.operator_builders import (
    at,
    make_corpus,
    on_local_node,
    with_auth,
    with_autoscaling,
    with_openai,
    with_refresh,
    with_replicas,
    with_source,
    without_auth,
)


def corpus_of(*mods: Any, **settings: Any) -> Corpus:
    obj = make_corpus("docs", *mods, namespace="ns")
    obj["metadata"]["uid"] = "uid-1"
    return Corpus.from_body(obj, OperatorSettings(**settings))


def test_every_child_has_owner_and_labels() -> None:
    c = corpus_of(with_auth(), with_autoscaling(2, 4), with_refresh("@hourly"))
    children = [
        pvc.render(c),
        configmap.render(c),
        secret.render(c, "k"),
        job.render(c),
        deployment.render(c, "v1"),
        service.render(c),
        hpa.render(c),
        pdb.render(c),
        cronjob.render(c),
    ]
    for child in children:
        meta = child["metadata"]
        assert meta["namespace"] == "ns"
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "rag.oozo.dev/v1alpha1",
                "kind": "RagCorpus",
                "name": "docs",
                "uid": "uid-1",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        labels = meta["labels"]
        assert labels["app.kubernetes.io/instance"] == "docs"
        assert labels["app.kubernetes.io/managed-by"] == "oozo"
        assert labels["app.kubernetes.io/name"] == "oozo-runtime"
        assert labels["app.kubernetes.io/component"]


def test_index_hash_ignores_serving_changes_and_follows_index_inputs() -> None:
    base = index_hash(corpus_of().spec)
    for mod in (
        with_replicas(3),
        with_auth(),
        with_openai(),
        at("spec.index.storage.size", "5Gi"),
        on_local_node,
    ):
        assert index_hash(corpus_of(mod).spec) == base
    for mod in (
        at("spec.chunking.size", 800),
        at("spec.embedding.model", "x/y"),
        at("spec.index.type", "hnsw"),
        with_source(configMap={"name": "other"}),
        at("spec.source.include", ["*.md"]),
    ):
        assert index_hash(corpus_of(mod).spec) != base


def test_job_runs_oozo_index_with_the_runtime_contract() -> None:
    c = corpus_of(at("spec.chunking", {"size": 500, "overlap": 50}))
    rendered = job.render(c)
    assert rendered["metadata"]["name"] == f"docs-index-{c.index_hash}"
    spec = rendered["spec"]
    assert (
        spec["backoffLimit"] == 2
        and spec["activeDeadlineSeconds"] > 0
        and spec["ttlSecondsAfterFinished"] > 0
    )
    container = spec["template"]["spec"]["containers"][0]
    assert container["command"] == ["oozo"] and container["args"] == [
        "index",
        "/src",
        "--out",
        "/var/lib/oozo/index",
    ]
    env = {e["name"]: e["value"] for e in container["env"]}
    settings = IndexSettings.model_validate(
        {k.removeprefix("OOZO_").lower(): v for k, v in env.items() if k.startswith("OOZO_")}
    )
    assert (settings.chunk_size, settings.chunk_overlap) == (500, 50)
    assert (
        str(settings.termination_message_path)
        == container["terminationMessagePath"]
        == "/dev/termination-log"
    )
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    assert volumes["source"]["configMap"]["name"] == "docs-docs"
    assert volumes["index"]["persistentVolumeClaim"]["claimName"] == "docs-index"


def test_pvc_source_is_mounted_read_only_at_its_path() -> None:
    c = corpus_of(with_source(pvc={"claimName": "library", "path": "handbook/"}))
    tpl = job.render(c)["spec"]["template"]["spec"]
    mount = next(m for m in tpl["containers"][0]["volumeMounts"] if m["name"] == "source")
    assert mount == {"name": "source", "mountPath": "/src", "readOnly": True, "subPath": "handbook"}
    assert tpl["volumes"][0]["persistentVolumeClaim"] == {"claimName": "library", "readOnly": True}


def test_deployment_is_pinned_hardened_and_wired_by_reference() -> None:
    c = corpus_of(with_auth(), with_openai("openai", "key"), with_replicas(3))
    d = deployment.render(c, "20260101-abcd", model="sentence-transformers/all-MiniLM-L6-v2")
    spec = d["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    tpl = spec["template"]
    assert tpl["metadata"]["annotations"]["rag.oozo.dev/index-version"] == "20260101-abcd"
    container = tpl["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["OOZO_INDEX_VERSION"]["value"] == "20260101-abcd"
    assert env["OOZO_OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "openai", "key": "key"}
    assert env["OOZO_API_KEYS"]["valueFrom"]["secretKeyRef"] == {"name": "docs-api-key", "key": "api-key"}
    assert container["envFrom"] == [{"configMapRef": {"name": "docs-config"}}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    sc = container["securityContext"]
    assert (
        sc["readOnlyRootFilesystem"]
        and not sc["allowPrivilegeEscalation"]
        and sc["capabilities"] == {"drop": ["ALL"]}
    )
    assert (
        tpl["spec"]["securityContext"]["runAsNonRoot"]
        and tpl["spec"]["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    )
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    # Graceful rollouts: the old pod keeps serving while endpoints drop it.
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
    assert (
        tpl["spec"]["terminationGracePeriodSeconds"] > container["lifecycle"]["preStop"]["sleep"]["seconds"]
    )


def test_a_new_version_changes_only_the_pin() -> None:
    c = corpus_of()
    a, b = deployment.render(c, "v1"), deployment.render(c, "v2")
    assert (
        a["spec"]["template"]["metadata"]["annotations"] != b["spec"]["template"]["metadata"]["annotations"]
    )
    assert a["spec"]["selector"] == b["spec"]["selector"]


def test_autoscaling_leaves_replicas_to_the_hpa() -> None:
    c = corpus_of(with_autoscaling(2, 6, 60))
    assert "replicas" not in deployment.render(c, "v1")["spec"]
    h = hpa.render(c)["spec"]
    assert (h["minReplicas"], h["maxReplicas"]) == (2, 6)
    assert h["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert pdb.wanted(c)
    assert not hpa.wanted(corpus_of()) and not pdb.wanted(corpus_of())


def test_rwo_volume_co_locates_every_pod_and_keeps_user_affinity() -> None:
    user: dict[str, Any] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}
    }
    c = corpus_of(at("spec.scheduling", {"affinity": user, "priorityClassName": "high"}))
    for tpl in (job.render(c)["spec"]["template"], deployment.render(c, "v1")["spec"]["template"]):
        aff = tpl["spec"]["affinity"]
        assert aff["nodeAffinity"] == user["nodeAffinity"]
        term = aff["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "docs"
        assert tpl["metadata"]["labels"]["app.kubernetes.io/instance"] == "docs"  # pods match their own term
        assert tpl["spec"]["priorityClassName"] == "high"
    rwx = corpus_of(at("spec.index.storage.accessModes", ["ReadWriteMany"]))
    assert "affinity" not in pod.placement(rwx)


def test_scheduling_reaches_every_pod() -> None:
    c = corpus_of(on_local_node, with_refresh("0 3 * * *"))
    templates = [
        job.render(c)["spec"]["template"],
        deployment.render(c, "v1")["spec"]["template"],
        cronjob.render(c)["spec"]["jobTemplate"]["spec"]["template"],
    ]
    for tpl in templates:
        assert tpl["spec"]["nodeSelector"] == {"oozo.dev/local-kubelet": "true"}
        assert tpl["spec"]["tolerations"][0]["key"] == "oozo.dev/local-kubelet"


def test_refresh_cronjob_forbids_overlap_and_labels_its_jobs_like_index_jobs() -> None:
    c = corpus_of(with_refresh("*/30 * * * *"))
    cj = cronjob.render(c)
    assert cj["metadata"]["name"] == "docs-refresh"
    assert cj["spec"]["schedule"] == "*/30 * * * *" and cj["spec"]["concurrencyPolicy"] == "Forbid"
    labels = cj["spec"]["jobTemplate"]["metadata"]["labels"]
    assert (
        labels["app.kubernetes.io/component"] == "index" and labels["rag.oozo.dev/index-hash"] == c.index_hash
    )


def test_configmap_is_valid_serve_settings() -> None:
    c = corpus_of(
        at(
            "spec.generation",
            {
                "provider": "openai",
                "model": "llama3",
                "baseURL": "http://ollama:11434/v1",
                "temperature": 0.2,
                "maxTokens": 256,
            },
        )
    )
    data = configmap.render(c, model="m/served")["data"]
    settings = ServeSettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in data.items()})
    assert settings.generation_provider == "openai" and settings.openai_model == "llama3"
    assert settings.openai_base_url == "http://ollama:11434/v1" and settings.max_tokens == 256
    assert settings.model == "m/served"  # the published index's model, not the spec's next one


def test_retrieval_mode_reaches_the_server_and_the_default_stays_unrendered() -> None:
    assert "OOZO_RETRIEVAL_MODE" not in configmap.render(corpus_of())["data"]  # hybrid, the server's default
    data = configmap.render(corpus_of(at("spec.retrieval.mode", "lexical")))["data"]
    assert data["OOZO_RETRIEVAL_MODE"] == "lexical"
    settings = ServeSettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in data.items()})
    assert settings.retrieval_mode == "lexical"


def test_generated_secret_only_without_a_named_one() -> None:
    assert secret.wanted(corpus_of(with_auth()))
    assert not secret.wanted(corpus_of(with_auth({"name": "mine", "key": "keys"})))
    assert secret.wanted(corpus_of())  # auth is on by default, with a generated key
    assert not secret.wanted(corpus_of(without_auth()))
    assert secret.api_key_ref(corpus_of(without_auth())) is None
    assert secret.api_key_ref(corpus_of(with_auth({"name": "mine", "key": "keys"}))) == ("mine", "keys")
    a, b = secret.new_key(), secret.new_key()
    assert a != b and len(a) >= 40


def test_service_and_pvc() -> None:
    c = corpus_of(
        at(
            "spec.index.storage",
            {"size": "5Gi", "storageClassName": "fast", "accessModes": ["ReadWriteMany"]},
        )
    )
    s = service.render(c)["spec"]
    assert s["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    p = pvc.render(c)
    assert p["metadata"]["name"] == "docs-index"
    assert p["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "fast",
    }


def test_runtime_image_from_operator_settings_unless_the_corpus_names_one() -> None:
    # OOZO_RUNTIME_IMAGE, the setting before the two images, still names the indexer's image
    assert corpus_of(runtime_image="reg/x:1").indexer_image == "reg/x:1"
    assert corpus_of(at("spec.index.image", "reg/y:2"), runtime_image="reg/x:1").indexer_image == "reg/y:2"
    assert corpus_of(runtime_image="reg/x:1", indexer_image="reg/i:3").indexer_image == "reg/i:3"
    assert corpus_of(server_image="reg/s:1").server_image == "reg/s:1"
    assert corpus_of(at("spec.runtime.image", "reg/t:2"), server_image="reg/s:1").server_image == "reg/t:2"


def _pod_images(pod_spec: dict[str, Any]) -> set[str]:
    containers = [*pod_spec.get("initContainers", []), *pod_spec["containers"]]
    return {c["image"] for c in containers}


def test_the_server_pod_runs_the_server_image_and_every_job_pod_the_indexer_image() -> None:
    c = corpus_of(
        with_source(s3={"bucket": "docs"}),  # the index Job fetches in an init container
        with_refresh("@hourly"),
        at(
            "spec.backup",
            {"schedule": "@daily", "s3": {"bucket": "backups"}, "verify": {"schedule": "@weekly"}},
        ),
        at("spec.restore", {"s3": {"bucket": "backups"}}),
        server_image="reg/server:1",
        indexer_image="reg/indexer:1",
    )
    served = deployment.render(c, "v1")["spec"]["template"]["spec"]
    assert _pod_images(served) == {"reg/server:1"}
    assert served["containers"][0]["args"][0] == "serve"  # the one command the server image has
    job_pods = [
        job.render(c)["spec"]["template"]["spec"],
        cronjob.render(c)["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        backup.render(c)["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        restore.render(c)["spec"]["template"]["spec"],
        verify.render(c)["spec"]["jobTemplate"]["spec"]["template"]["spec"],  # the restore drill
    ]
    assert job_pods[0]["initContainers"]  # the fetch container is covered too
    for job_pod in job_pods:
        assert _pod_images(job_pod) == {"reg/indexer:1"}


def index_settings_of(c: Corpus) -> IndexSettings:
    env = job.index_env(c)
    return IndexSettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in env.items()})


def test_chunking_max_tokens_reaches_the_index_job_and_the_index_hash() -> None:
    """Unset, the runtime fits chunks to the model's own length (nothing rendered, so existing
    corpora keep their hash); set, it is OOZO_CHUNK_MAX_TOKENS and a change rebuilds."""
    plain, budget = corpus_of(), corpus_of(at("spec.chunking.maxTokens", 128))
    assert "OOZO_CHUNK_MAX_TOKENS" not in job.index_env(plain)
    assert index_settings_of(plain).chunk_max_tokens is None
    assert index_settings_of(budget).chunk_max_tokens == 128
    assert plain.index_hash != budget.index_hash
