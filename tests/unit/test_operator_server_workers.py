"""spec.runtime.workers reaches the server as OOZO_SERVER_WORKERS through NAME-config; a corpus
without it renders nothing (the server picks by its CPU limit); out of bounds is refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from oozo_contract.serve_settings import ServeSettings
from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.config import OperatorSettings
from oozo_operator.render import configmap
from oozo_operator.render.corpus import Corpus
from tests.operator_builders import make_corpus

pytestmark = pytest.mark.unit


def corpus_with_workers(workers: int | None) -> dict[str, Any]:
    obj = make_corpus("docs", namespace="ns")
    obj["metadata"]["uid"] = "uid-1"
    if workers is not None:
        obj["spec"].setdefault("runtime", {})["workers"] = workers
    return obj


def test_workers_reach_the_server_settings() -> None:
    env = configmap.serve_env(Corpus.from_body(corpus_with_workers(3), OperatorSettings()))
    assert env["OOZO_SERVER_WORKERS"] == "3"
    assert ServeSettings.model_validate({"server_workers": env["OOZO_SERVER_WORKERS"]}).server_workers == 3


def test_without_workers_nothing_is_rendered() -> None:
    env = configmap.serve_env(Corpus.from_body(corpus_with_workers(None), OperatorSettings()))
    assert "OOZO_SERVER_WORKERS" not in env


@pytest.mark.parametrize("workers", [0, 65])
def test_workers_out_of_bounds_are_refused(workers: int) -> None:
    with pytest.raises(ValidationError, match="workers"):
        RagCorpusSpec.model_validate(corpus_with_workers(workers)["spec"])
