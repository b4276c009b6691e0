"""The corpus policy's cases, shared by the operator's table test (tests/unit) and the admission
test on the real kube-apiserver (tests/controlplane): both layers must refuse and allow the same
specs, and name the same field."""

from __future__ import annotations

from tests.operator_builders import (
    Modifier,
    at,
    make_corpus,
    with_answer_cache,
    with_openai,
    with_rerank,
    with_source,
)

IMAGES = ("ghcr.io/oozo-dev/oozo-runtime", "registry.example.com/ml/")
HOSTS = ("llm.example.com", "*.example.org", "minio.storage", "git.example.com")
LABEL = ("rag.oozo.dev/usable-by-corpora", "true")
# The policy's parameters as the ConfigMap (and the operator's environment) holds them.
PARAMS = {
    "OOZO_ALLOWED_IMAGE_REPOSITORIES": ",".join(IMAGES),
    "OOZO_ALLOWED_HOSTS": ", ".join(HOSTS),
    "OOZO_REFERENCE_OPT_IN_LABEL": "=".join(LABEL),
}


def s3(endpoint: str = "") -> dict[str, str]:
    return {"bucket": "oozo-backups", "endpoint": endpoint} if endpoint else {"bucket": "oozo-backups"}


def with_image(image: str) -> Modifier:
    return at("spec.runtime.image", image)


def with_remote_embeddings(base_url: str | None = None) -> Modifier:
    spec: dict[str, str] = {"provider": "openai", "model": "multilingual-e5-small"}
    if base_url:
        spec["baseURL"] = base_url
    return at("spec.embedding", spec)


def with_s3_model(endpoint: str = "") -> Modifier:
    return at(
        "spec.embedding", {"model": "s3://models/minilm", "s3": {"endpoint": endpoint} if endpoint else {}}
    )


def with_hub_mirror(endpoint: str) -> Modifier:
    return at("spec.embedding", {"model": "intfloat/multilingual-e5-small", "hub": {"endpoint": endpoint}})


def with_backup_to(endpoint: str) -> Modifier:
    return at("spec.backup", {"schedule": "@daily", "s3": s3(endpoint)})


def with_restore_from(endpoint: str) -> Modifier:
    return at("spec.restore", {"s3": s3(endpoint)})


# name → (modifiers, the field the refusal names)
REFUSED: dict[str, tuple[tuple[Modifier, ...], str]] = {
    "image-from-another-registry": ((with_image("evil.io/miner:1"),), "spec.runtime.image"),
    "image-repository-sharing-a-prefix": (
        (with_image("ghcr.io/oozo-dev/oozo-runtime-evil:1"),),
        "spec.runtime.image",
    ),
    "image-beside-an-allowed-folder": ((with_image("registry.example.com/mlx/r:1"),), "spec.runtime.image"),
    "indexer-image-from-another-registry": ((at("spec.index.image", "evil.io/miner:1"),), "spec.index.image"),
    "llm-at-another-host": ((with_openai(base_url="https://attacker.net/v1"),), "spec.generation.baseURL"),
    "llm-host-hidden-behind-userinfo": (
        (with_openai(base_url="https://llm.example.com@attacker.net/v1"),),
        "spec.generation.baseURL",
    ),
    "openai-default-host-not-listed": ((with_openai(),), "spec.generation.baseURL"),
    "wildcard-suffix-trick": (
        (with_openai(base_url="https://docs.example.org.attacker.net/v1"),),
        "spec.generation.baseURL",
    ),
    "backup-to-another-endpoint": ((with_backup_to("http://evil.net:9000"),), "spec.backup.s3.endpoint"),
    "restore-from-another-endpoint": (
        (with_restore_from("http://evil.net:9000"),),
        "spec.restore.s3.endpoint",
    ),
    "s3-source-on-aws-not-listed": ((with_source(s3=s3()),), "spec.source.s3.endpoint"),
    "http-source-url-elsewhere": (
        (with_source(http={"urls": ["https://docs.example.org/a.pdf", "http://169.254.169.254/latest"]}),),
        "spec.source.http.urls",
    ),
    "git-source-elsewhere": (
        (with_source(git={"url": "https://evil.net/team/docs.git"}),),
        "spec.source.git.url",
    ),
    "git-ssh-source-elsewhere": (
        (
            with_source(
                git={"url": "ssh://git@evil.net:2222/team/docs.git", "credentialsSecret": "deploy-key"}
            ),
        ),
        "spec.source.git.url",
    ),
    "answer-cache-redis-elsewhere": (
        (with_answer_cache("redis://cache.evil.net:6379/0"),),
        "spec.runtime.cache.redis.url",
    ),
    "reranker-elsewhere": ((with_rerank("https://rerank.evil.net"),), "spec.retrieval.rerank.endpoint"),
    "embeddings-at-another-host": (
        (with_remote_embeddings("https://attacker.net/v1"),),
        "spec.embedding.baseURL",
    ),
    "embeddings-default-openai-host-not-listed": ((with_remote_embeddings(),), "spec.embedding.baseURL"),
    "build-staging-at-another-endpoint": (
        (at("spec.index.build", {"parallelism": 2, "staging": {"s3": s3("http://evil.net:9000")}}),),
        "spec.index.build.staging.s3.endpoint",
    ),
    "s3-model-on-aws-not-listed": ((with_s3_model(),), "spec.embedding.s3.endpoint"),
    "s3-model-at-another-endpoint": ((with_s3_model("http://evil.net:9000"),), "spec.embedding.s3.endpoint"),
    # the index Job would send the hub token there
    "hub-mirror-elsewhere": ((with_hub_mirror("https://hf.evil.net"),), "spec.embedding.hub.endpoint"),
}

ALLOWED: dict[str, tuple[Modifier, ...]] = {
    "defaults": (),
    "oozo-runtime-by-tag": (with_image("ghcr.io/oozo-dev/oozo-runtime:0.2.0"),),
    "oozo-runtime-by-digest": (with_image("ghcr.io/oozo-dev/oozo-runtime@sha256:" + "a" * 64),),
    "image-below-an-allowed-folder": (with_image("registry.example.com/ml/runtime:1"),),
    "indexer-image-below-an-allowed-folder": (at("spec.index.image", "registry.example.com/ml/indexer:1"),),
    "llm-at-a-listed-host-and-port": (with_openai(base_url="https://LLM.example.com:8443/v1"),),
    "backup-and-restore-at-a-listed-endpoint": (
        with_backup_to("http://minio.storage:9000"),
        with_restore_from("http://minio.storage:9000"),
    ),
    "http-source-under-a-wildcard": (with_source(http={"urls": ["https://docs.example.org/a.pdf"]}),),
    "git-source-at-a-listed-host": (with_source(git={"url": "https://git.example.com/team/d.git"}),),
    "git-ssh-source-at-a-listed-host": (
        with_source(
            git={"url": "ssh://git@git.example.com:2222/team/d.git", "credentialsSecret": "deploy-key"}
        ),
    ),
    "answer-cache-redis-under-a-wildcard": (with_answer_cache("rediss://cache.example.org:6380/1"),),
    "embeddings-at-a-listed-host": (with_remote_embeddings("http://llm.example.com:8080/v1"),),
    "build-staging-at-a-listed-endpoint": (
        at("spec.index.build", {"parallelism": 2, "staging": {"s3": s3("http://minio.storage:9000")}}),
    ),
    "s3-model-at-a-listed-endpoint": (with_s3_model("http://minio.storage:9000"),),
    "hub-mirror-under-a-wildcard": (with_hub_mirror("http://hf-mirror.example.org:8090"),),
    # the operator's OOZO_HUB_ENDPOINT (the administrator's) or huggingface.co: the spec names no host
    "hub-model-without-an-endpoint": (at("spec.embedding", {"model": "intfloat/multilingual-e5-small"}),),
    "reranker-at-a-listed-host": (with_rerank("http://llm.example.com:8080/v1", api="cohere"),),
}


def corpus_body(name: str, *mods: Modifier) -> dict[str, object]:
    return make_corpus(name, *mods)
