"""The embedding model on GPU nodes: spec.embedding.resources, tolerations and nodeSelector
reach the index and refresh pods only, composed with spec.index.resources and spec.scheduling,
and never change the index hash (they say where a build runs, not what it builds)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from oozo_operator.api.embedding_spec import Embedding
from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.config import OperatorSettings
from oozo_operator.render import cronjob, deployment, job
from oozo_operator.render.corpus import Corpus, index_hash
from tests.operator_builders import Modifier, at, make_corpus, with_refresh, with_source

REPO = Path(__file__).resolve().parents[2]
GPU_TAINT = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
TEAM_TAINT = {"key": "team", "operator": "Equal", "value": "search", "effect": "NoSchedule"}
GPU: dict[str, Any] = {
    "resources": {"limits": {"nvidia.com/gpu": 1}},
    "tolerations": [GPU_TAINT],
    "nodeSelector": {"pool": "gpu", "accelerator": "nvidia-l4"},
}
SCHEDULING = {"nodeSelector": {"pool": "general", "team": "search"}, "tolerations": [TEAM_TAINT]}


def corpus_of(*mods: Modifier) -> Corpus:
    obj = make_corpus("docs", *mods, namespace="ns")
    obj["metadata"]["uid"] = "uid-1"
    return Corpus.from_body(obj, OperatorSettings())


def index_pod(corpus: Corpus) -> dict[str, Any]:
    return job.render(corpus)["spec"]["template"]["spec"]


def test_a_gpu_limit_joins_the_default_cpu_and_memory_of_the_index_container() -> None:
    [container] = index_pod(corpus_of(at("spec.embedding", GPU)))["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "4Gi", "nvidia.com/gpu": 1},
    }


def test_embedding_resources_merge_key_by_key_over_spec_index_resources() -> None:
    corpus = corpus_of(
        at("spec.index.resources", {"requests": {"cpu": "2"}, "limits": {"memory": "8Gi", "cpu": "4"}}),
        at("spec.embedding.resources", {"requests": {"nvidia.com/gpu": 1}, "limits": {"memory": "16Gi"}}),
    )
    [container] = index_pod(corpus)["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "2", "nvidia.com/gpu": 1},
        "limits": {"memory": "16Gi", "cpu": "4"},
    }


def test_the_index_pod_gets_the_corpus_placement_plus_the_embedding_placement() -> None:
    pod = index_pod(corpus_of(at("spec.scheduling", SCHEDULING), at("spec.embedding", GPU)))
    assert pod["nodeSelector"] == {"pool": "gpu", "team": "search", "accelerator": "nvidia-l4"}
    assert pod["tolerations"] == [TEAM_TAINT, GPU_TAINT]


def test_the_embedding_placement_alone_reaches_the_index_pod() -> None:
    pod = index_pod(corpus_of(at("spec.embedding", GPU)))
    assert pod["nodeSelector"] == GPU["nodeSelector"]
    assert pod["tolerations"] == [GPU_TAINT]


def test_the_refresh_cronjob_runs_on_the_gpu_like_the_index_job() -> None:
    corpus = corpus_of(with_refresh("@daily"), at("spec.scheduling", SCHEDULING), at("spec.embedding", GPU))
    refresh_pod = cronjob.render(corpus)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert refresh_pod["nodeSelector"] == index_pod(corpus)["nodeSelector"]
    assert refresh_pod["tolerations"] == [TEAM_TAINT, GPU_TAINT]
    assert refresh_pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_the_server_gets_neither_the_gpu_nor_the_gpu_placement() -> None:
    corpus = corpus_of(at("spec.scheduling", SCHEDULING), at("spec.embedding", GPU))
    pod = deployment.render(corpus, "v1", "model")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == SCHEDULING["nodeSelector"]
    assert pod["tolerations"] == [TEAM_TAINT]
    assert "nvidia.com/gpu" not in yaml.safe_dump(pod)


def test_the_fetch_init_container_gets_no_gpu() -> None:
    corpus = corpus_of(with_source(s3={"bucket": "team-docs"}), at("spec.embedding", GPU))
    [fetch] = index_pod(corpus)["initContainers"]
    assert fetch["resources"] == job.DEFAULT_RESOURCES


def test_gpu_resources_and_placement_do_not_change_the_index_hash() -> None:
    plain = corpus_of()
    on_gpu = corpus_of(at("spec.embedding", GPU))
    assert on_gpu.index_hash == plain.index_hash
    assert index_hash(on_gpu.spec) == index_hash(plain.spec)
    assert job.render(on_gpu)["metadata"]["name"] == job.render(plain)["metadata"]["name"]
    # The model is still an index input next to them.
    other_model = corpus_of(at("spec.embedding", {**GPU, "model": "intfloat/e5-small-v2"}))
    assert other_model.index_hash != plain.index_hash


def test_extended_resource_names_are_accepted() -> None:
    embedding = Embedding.model_validate({"resources": {"limits": {"nvidia.com/gpu": 2, "amd.com/gpu": "1"}}})
    assert embedding.wire()["resources"] == {"limits": {"nvidia.com/gpu": 2, "amd.com/gpu": "1"}}


def test_the_crd_takes_any_resource_name_and_the_embedding_placement() -> None:
    crd = yaml.safe_load((REPO / "crds" / "ragcorpus.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    embedding = spec["properties"]["embedding"]["properties"]
    limits = embedding["resources"]["properties"]["limits"]
    assert limits["additionalProperties"]["x-kubernetes-int-or-string"] is True
    assert "propertyNames" not in limits
    assert (
        embedding["tolerations"]["items"]
        == spec["properties"]["scheduling"]["properties"]["tolerations"]["items"]
    )
    assert embedding["nodeSelector"]["type"] == "object"


def test_the_gpu_example_in_the_docs_is_a_valid_spec_that_renders_the_gpu() -> None:
    text = (REPO / "docs" / "operator.md").read_text()
    section = text.split("### GPU nodes for the model", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    spec = yaml.safe_load(block.group(1))["spec"]
    RagCorpusSpec.model_validate(spec)
    obj = make_corpus("docs", namespace="ns")
    obj["spec"] = spec
    obj["metadata"]["uid"] = "uid-1"
    [container] = index_pod(Corpus.from_body(obj, OperatorSettings()))["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
