"""spec.embedding.model as s3://BUCKET/PREFIX (air-gapped clusters): the index Job gets where to
copy the model from and the credentials by reference; the server gets the same model id and no
credentials (it reads the copy on the corpus volume); admission's rules are also the operator's."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from oozo_contract.index_settings import IndexSettings
from oozo_contract.serve_settings import ServeSettings
from oozo_operator.api.embedding_spec import Embedding
from oozo_operator.render import configmap, deployment, job
from oozo_operator.render.corpus import index_hash
from tests.unit.render_helpers import corpus_of, documented_spec, env_of, index_container

MODEL = "s3://models/minilm/v1"
S3_MODEL: dict[str, Any] = {
    "model": MODEL,
    "s3": {"endpoint": "http://minio.storage:9000", "pathStyle": True, "credentialsSecret": "model-s3"},
}


def test_the_index_job_copies_the_model_with_credentials_by_reference() -> None:
    [container] = job.render(corpus_of(S3_MODEL))["spec"]["template"]["spec"]["containers"]
    env = env_of(container)
    assert env["OOZO_MODEL"] == MODEL
    assert env["OOZO_MODEL_S3_ENDPOINT"] == "http://minio.storage:9000"
    assert env["OOZO_MODEL_S3_PATH_STYLE"] == "true"
    assert env["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "model-s3", "key": "AWS_ACCESS_KEY_ID"}}
    assert env["AWS_SESSION_TOKEN"]["secretKeyRef"]["optional"] is True
    settings = IndexSettings.model_validate(
        {
            k.removeprefix("OOZO_").lower(): v
            for k, v in env.items()
            if k.startswith("OOZO_") and isinstance(v, str)
        }
    )
    assert (settings.model, settings.model_s3_path_style) == (MODEL, True)


def test_the_server_reads_the_copy_and_gets_no_credentials() -> None:
    corpus = corpus_of(S3_MODEL)
    data = configmap.render(corpus, MODEL)["data"]
    assert data["OOZO_MODEL"] == MODEL
    ServeSettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in data.items()})
    [container] = deployment.render(corpus, "v1", MODEL)["spec"]["template"]["spec"]["containers"]
    assert not [e for e in container["env"] if e["name"].startswith("AWS_")]


def test_the_model_is_copied_to_the_corpus_volume_where_the_server_loads_it() -> None:
    """Not the image's OOZO_MODEL_CACHE_DIR (/var/cache/oozo/models): that is on each pod's
    read-only root filesystem, so the copy would fail there and no server could read it."""
    corpus = corpus_of(S3_MODEL)
    [index] = job.render(corpus)["spec"]["template"]["spec"]["containers"]
    [mount] = [m for m in index["volumeMounts"] if m["name"] == "index"]
    cache = env_of(index)["OOZO_MODEL_CACHE_DIR"]
    assert cache == f"{mount['mountPath']}/models" and not mount.get("readOnly")
    assert configmap.render(corpus, MODEL)["data"]["OOZO_MODEL_CACHE_DIR"] == cache
    [server] = deployment.render(corpus, "v1", MODEL)["spec"]["template"]["spec"]["containers"]
    assert any(m["name"] == "index" and m["mountPath"] == mount["mountPath"] for m in server["volumeMounts"])
    # A model that is not copied keeps the image's cache setting.
    plain = corpus_of({"model": "sentence-transformers/all-MiniLM-L6-v2"})
    assert "OOZO_MODEL_CACHE_DIR" not in env_of(
        job.render(plain)["spec"]["template"]["spec"]["containers"][0]
    )


def test_another_model_prefix_rebuilds() -> None:
    other = {**S3_MODEL, "model": "s3://models/minilm/v2"}
    assert index_hash(corpus_of(S3_MODEL).spec) != index_hash(corpus_of(other).spec)


@pytest.mark.parametrize(
    ("embedding", "message"),
    [
        ({"model": "s3://Bad_Bucket/x"}, "valid bucket name"),
        ({"model": MODEL, "provider": "openai"}, "s3:// model is a local model"),
        ({"s3": {"endpoint": "http://minio:9000"}}, "s3 is only used with an s3:// model"),
    ],
)
def test_bad_s3_models_are_refused_naming_the_problem(embedding: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Embedding.model_validate(embedding)


def test_the_s3_model_example_in_the_docs_is_a_valid_spec_that_copies_the_model() -> None:
    spec = documented_spec("docs/operator.md", after="### A model from S3")
    container = index_container(corpus_of(spec.embedding.wire()))
    env = env_of(container)
    assert env["OOZO_MODEL"].startswith("s3://models/") and "AWS_SECRET_ACCESS_KEY" in env


VOLUME_MODEL: dict[str, Any] = {
    "model": "/models/minilm",
    "modelVolume": {"claimName": "model-store", "subPath": "sentence-transformers/all-MiniLM-L6-v2"},
}


def test_a_model_volume_is_mounted_read_only_at_the_model_path_in_the_job_and_the_server() -> None:
    corpus = corpus_of(VOLUME_MODEL)
    expected_mount = {
        "name": "model",
        "mountPath": "/models/minilm",
        "readOnly": True,
        "subPath": "sentence-transformers/all-MiniLM-L6-v2",
    }
    expected_volume = {
        "name": "model",
        "persistentVolumeClaim": {"claimName": "model-store", "readOnly": True},
    }
    for pod_spec in (
        job.render(corpus)["spec"]["template"]["spec"],
        deployment.render(corpus, "v1", "/models/minilm")["spec"]["template"]["spec"],
    ):
        [container] = pod_spec["containers"]
        assert expected_mount in container["volumeMounts"] and expected_volume in pod_spec["volumes"]
    [container] = job.render(corpus)["spec"]["template"]["spec"]["containers"]
    assert env_of(container)["OOZO_MODEL"] == "/models/minilm"


@pytest.mark.parametrize(
    "embedding",
    [
        {**VOLUME_MODEL, "model": "sentence-transformers/all-MiniLM-L6-v2"},
        {**VOLUME_MODEL, "model": "/var/lib/oozo/index"},
        {**VOLUME_MODEL, "model": "/models/../var/lib/oozo/index"},
        {**VOLUME_MODEL, "provider": "openai"},
    ],
    ids=["hub-id", "outside-models", "dot-dot", "openai"],
)
def test_a_model_volume_needs_a_model_path_under_models(embedding: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="with modelVolume, model is the path"):
        Embedding.model_validate(embedding)


def test_the_model_volume_example_in_the_docs_is_a_valid_spec_that_mounts_it() -> None:
    spec = documented_spec(
        "docs/operator.md", after="A model folder can also live on a PersistentVolumeClaim"
    )
    container = index_container(corpus_of(spec.embedding.wire()))
    assert any(
        m["name"] == "model" and m["mountPath"] == spec.embedding.model for m in container["volumeMounts"]
    )
