"""The API server itself refuses bad RagCorpus objects, with a message that names the field.

No operator runs here: this is the CRD's schema and CEL rules on a real kube-apiserver,
submitted as server-side dry-run creates."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from devcluster.kstatus import kstatus
from tests.operator_builders import at, make_corpus, with_autoscaling, with_source

REPO = Path(__file__).resolve().parents[2]
GROUP, VERSION, PLURAL = "rag.oozo.dev", "v1alpha1", "ragcorpora"


def install_crd(plane: Any) -> None:
    subprocess.run(
        [
            "kubectl",
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            str(REPO / "crds" / "ragcorpus.yaml"),
        ],
        env=plane.env(),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["kubectl", "wait", "--for=condition=Established", "--timeout=60s", "crd/ragcorpora.rag.oozo.dev"],
        env=plane.env(),
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def custom(control_plane: Any) -> Iterator[client.CustomObjectsApi]:
    install_crd(control_plane)
    with control_plane.api_client() as api:
        yield client.CustomObjectsApi(api)


@pytest.fixture(scope="module")
def ns(control_plane: Any) -> Iterator[str]:
    name = f"adm-{uuid.uuid4().hex[:6]}"
    with control_plane.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespace(client.V1Namespace.model_validate({"metadata": {"name": name}}))
        yield name
        core.delete_namespace(name)


# (what is wrong, the object, a piece of the API server's message that names the field)
BAD = [
    ("no source kind", make_corpus("a", at("spec.source", {"include": ["*.md"]})), "spec.source"),
    (
        "two source kinds",
        make_corpus("a", with_source(configMap={"name": "x"}, pvc={"claimName": "y"})),
        "spec.source",
    ),
    (
        "overlap not below size",
        make_corpus("a", at("spec.chunking", {"size": 500, "overlap": 500})),
        "spec.chunking.overlap",
    ),
    (
        "chunk size too small",
        make_corpus("a", at("spec.chunking", {"size": 10, "overlap": 0})),
        "spec.chunking.size",
    ),
    (
        "chunk token budget too small",
        make_corpus("a", at("spec.chunking.maxTokens", 8)),
        "spec.chunking.maxTokens",
    ),
    (
        "model s3 access without an s3:// model",
        make_corpus("a", at("spec.embedding.s3", {"endpoint": "http://minio:9000"})),
        "spec.embedding.s3",
    ),
    (
        "a model volume whose model path is not under /models/",
        make_corpus(
            "a",
            at("spec.embedding", {"model": "/var/lib/oozo/index", "modelVolume": {"claimName": "models"}}),
        ),
        "spec.embedding.modelVolume",
    ),
    (
        "an s3:// model with an invalid bucket",
        make_corpus("a", at("spec.embedding.model", "s3://Bad_Bucket/minilm")),
        "spec.embedding.model",
    ),
    (
        "min above max replicas",
        make_corpus("a", with_autoscaling(5, 2)),
        "spec.runtime.autoscaling.minReplicas",
    ),
    (
        "max replicas out of bounds",
        make_corpus("a", with_autoscaling(1, 1000)),
        "spec.runtime.autoscaling.maxReplicas",
    ),
    (
        "cron with 3 fields",
        make_corpus("a", at("spec.refresh", {"schedule": "0 3 *"})),
        "spec.refresh.schedule",
    ),
    (
        "cron with words",
        make_corpus("a", at("spec.refresh", {"schedule": "every day at 3"})),
        "spec.refresh.schedule",
    ),
    ("backup without S3", make_corpus("a", at("spec.backup", {"schedule": "0 3 * * *"})), "spec.backup.s3"),
    (
        "restore drill schedule with words",
        make_corpus(
            "a",
            at(
                "spec.backup",
                {"schedule": "0 3 * * *", "s3": {"bucket": "bkt"}, "verify": {"schedule": "weekly"}},
            ),
        ),
        "spec.backup.verify.schedule",
    ),
    ("restore without S3", make_corpus("a", at("spec.restore", {"version": "latest"})), "spec.restore.s3"),
    (
        "explicitly empty backup prefix",
        make_corpus("a", at("spec.backup", {"schedule": "0 3 * * *", "s3": {"bucket": "bkt", "prefix": ""}})),
        "spec.backup.s3.prefix",
    ),
    (
        "backup prefix of only slashes",
        make_corpus("a", at("spec.restore", {"s3": {"bucket": "bkt", "prefix": "//"}})),
        "spec.restore.s3.prefix",
    ),
    (
        "secret ref without key",
        make_corpus(
            "a", at("spec.generation", {"provider": "openai", "apiKeySecretRef": {"name": "openai"}})
        ),
        "spec.generation.apiKeySecretRef.key",
    ),
    (
        "auth ref with only a name",
        make_corpus("a", at("spec.runtime.auth", {"enabled": True, "apiKeySecretRef": {"name": "k"}})),
        "spec.runtime.auth.apiKeySecretRef",
    ),
    ("unknown index type", make_corpus("a", at("spec.index.type", "ivf")), "spec.index.type"),
    (
        "unknown retrieval mode",
        make_corpus("a", at("spec.retrieval.mode", "semantic")),
        "spec.retrieval.mode",
    ),
    (
        "unknown provider",
        make_corpus("a", at("spec.generation.provider", "anthropic")),
        "spec.generation.provider",
    ),
    ("bad storage size", make_corpus("a", at("spec.index.storage.size", "lots")), "spec.index.storage.size"),
    (
        "unknown access mode",
        make_corpus("a", at("spec.index.storage.accessModes", ["ReadWriteSometimes"])),
        "spec.index.storage.accessModes",
    ),
    (
        "temperature above 2",
        make_corpus("a", at("spec.generation.temperature", 3.5)),
        "spec.generation.temperature",
    ),
    ("negative replicas", make_corpus("a", at("spec.runtime.replicas", -1)), "spec.runtime.replicas"),
    ("batch size zero", make_corpus("a", at("spec.embedding.batchSize", 0)), "spec.embedding.batchSize"),
    (
        "http URL not http",
        make_corpus("a", with_source(http={"urls": ["ftp://x/a.docx"]})),
        "spec.source.http.urls[0]",
    ),
    ("http without URLs", make_corpus("a", with_source(http={"urls": []})), "spec.source.http.urls"),
    (
        "pvc path escapes",
        make_corpus("a", with_source(pvc={"claimName": "d", "path": "../etc"})),
        "spec.source.pvc.path",
    ),
    (
        "ConfigMap name not a DNS name",
        make_corpus("a", with_source(configMap={"name": "Bad_Name"})),
        "spec.source.configMap.name",
    ),
    (
        "baseURL not a URL",
        make_corpus("a", at("spec.generation", {"provider": "openai", "baseURL": "localhost:8000"})),
        "spec.generation.baseURL",
    ),
    (
        "extractive with an API key",
        make_corpus(
            "a",
            at("spec.generation", {"provider": "extractive", "apiKeySecretRef": {"name": "o", "key": "k"}}),
        ),
        "spec.generation.apiKeySecretRef",
    ),
    (
        "too many include globs",
        make_corpus("a", at("spec.source.include", [f"*.{i}" for i in range(40)])),
        "spec.source.include",
    ),
    (
        "include glob absolute",
        make_corpus("a", at("spec.source.include", ["/etc/*.conf"])),
        "spec.source.include[0]",
    ),
    (
        "include glob climbs out",
        make_corpus("a", at("spec.source.include", ["*.md", "../other/*.md"])),
        "spec.source.include[1]",
    ),
    (
        "include glob with two **",
        make_corpus("a", at("spec.source.include", ["**/docs/**/*.md"])),
        "spec.source.include[0]",
    ),
    ("keepVersions zero", make_corpus("a", at("spec.index.keepVersions", 0)), "spec.index.keepVersions"),
    (
        "pinnedVersion not a version name",
        make_corpus("a", at("spec.index.pinnedVersion", "../Latest")),
        "spec.index.pinnedVersion",
    ),
    ("name too long", make_corpus("a" * 45), "metadata.name"),
    ("S3 bucket name invalid", make_corpus("a", with_source(s3={"bucket": "A"})), "spec.source.s3.bucket"),
    (
        "git ssh URL with a password",
        make_corpus(
            "a", with_source(git={"url": "ssh://git:hunter2@git.example.com/r.git", "credentialsSecret": "k"})
        ),
        "spec.source.git.url",
    ),
    (
        "git ssh URL without its key Secret",
        make_corpus("a", with_source(git={"url": "ssh://git@git.example.com/r.git"})),
        "spec.source.git",
    ),
]


@pytest.mark.parametrize(("what", "obj", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_corpus_is_refused_naming_the_field(
    custom: client.CustomObjectsApi, ns: str, what: str, obj: dict[str, Any], field: str
) -> None:
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, obj, dry_run="All")
    assert refused.value.status == 422, refused.value.body
    assert refused.value.body is not None
    assert field in refused.value.body, f"{what}: {refused.value.body}"


def test_good_corpus_is_defaulted_and_in_progress_before_any_operator(
    custom: client.CustomObjectsApi, ns: str
) -> None:
    created = custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, make_corpus("fresh"))
    read = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "fresh")
    assert isinstance(created, dict) and isinstance(read, dict)  # the client types them `object`
    for obj in (created, read):
        assert obj["status"] == {"observedGeneration": -1}
        assert kstatus(obj)[0] == "InProgress"
    spec = read["spec"]
    assert spec["chunking"] == {"size": 1000, "overlap": 200}
    assert spec["embedding"] == {"model": "sentence-transformers/all-MiniLM-L6-v2", "batchSize": 64}
    assert spec["index"]["storage"]["size"] == "2Gi"
    assert spec["generation"]["provider"] == "extractive"
    assert spec["runtime"]["replicas"] == 1


def test_partly_written_objects_default_their_leaves(custom: client.CustomObjectsApi, ns: str) -> None:
    obj = make_corpus("partial", at("spec.chunking", {"size": 400}), with_autoscaling(1, 3))
    del obj["spec"]["runtime"]["autoscaling"]["targetCPUUtilizationPercentage"]
    created = custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, obj, dry_run="All")
    assert isinstance(created, dict)  # the client types it `object`
    assert created["spec"]["chunking"] == {"size": 400, "overlap": 200}
    assert created["spec"]["runtime"]["autoscaling"]["targetCPUUtilizationPercentage"] == 70


def test_every_good_source_kind_is_accepted(custom: client.CustomObjectsApi, ns: str) -> None:
    sources = [
        {"configMap": {"name": "d"}},
        {"pvc": {"claimName": "d", "path": "handbook/"}},
        {
            "s3": {
                "bucket": "corp-docs",
                "prefix": "handbook/",
                "endpoint": "http://minio:9000",
                "credentialsSecret": "s3",
            }
        },
        {"http": {"urls": ["https://example.org/a.docx"]}},
        {"git": {"url": "https://example.org/r.git", "ref": "main", "path": "docs"}},
        {
            "git": {
                "url": "ssh://git@example.org:2222/team/r.git",
                "ref": "v1",
                "credentialsSecret": "deploy-key",
            }
        },
    ]
    for i, source in enumerate(sources):
        obj = make_corpus(
            f"ok{i}", at("spec.source", source), at("spec.refresh", {"schedule": "*/15 * * * *"})
        )
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, obj, dry_run="All")
