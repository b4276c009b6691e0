"""The OpenAPI document says what the server really returns (issue 13): schemathesis generates
requests from the document the real server serves (real model, a small real index, loopback
only) and checks every response against it: documented status, content type, headers and body
shape, auth refused without the key. Bounded and repeatable: a fixed number of examples per
operation, a per-example deadline, derandomized."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from devcluster.ports import free_port
from tests.runtime.conftest import Server
from tests.runtime.corpus import make_corpus

KEY = "conformance-key-4f1c9a"
AUTH = {"Authorization": f"Bearer {KEY}"}
BOUNDED = settings(
    max_examples=25,
    deadline=timedelta(seconds=10),
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    from oozo_contract.index_settings import IndexSettings
    from oozo_runtime.indexing.build import build

    corpus = make_corpus(tmp_path_factory.mktemp("conformance") / "docs", 4)
    index_dir = tmp_path_factory.mktemp("conformance-index")
    build(IndexSettings(source=str(corpus.root), index_dir=index_dir), embedder=embedder)
    return index_dir


def started(index_dir: Path, log: Path, env: dict[str, str]) -> Iterator[Server]:
    base = {"OOZO_AUTH_ENABLED": "true", "OOZO_API_KEYS": KEY, "OOZO_OPENAPI_ENABLED": "true"}
    server = Server(index_dir, log, {**base, **env})
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def extractive_server(small_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from started(small_index, tmp_path_factory.mktemp("logs") / "extractive.log", {})


@pytest.fixture(scope="module")
def backendless_server(small_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Answers are to come from an OpenAI-compatible server that is not there (a closed port)."""
    absent = f"http://127.0.0.1:{free_port()}/v1"
    env = {"OOZO_GENERATION_PROVIDER": "openai", "OOZO_OPENAI_BASE_URL": absent}
    env["OOZO_OPENAI_API_KEY"] = "sk-not-used"
    yield from started(small_index, tmp_path_factory.mktemp("logs") / "backendless.log", env)


def conform(server: Server, allowed_5xx: tuple[int, ...] = ()) -> int:
    """Every operation of the document the server serves, with valid and with invalid inputs
    (schemathesis's positive and negative generation); returns the number of requests sent.

    The checks are schemathesis's defaults (documented status, content type, headers and body
    shape; no 5xx; auth refused without the key; invalid input refused, valid accepted), except
    that `allowed_5xx` on /api/query are checked here instead of refused outright."""
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json", headers=AUTH)
    sent = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is valid
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not len(operation.body):
                continue  # nothing to make invalid in a GET without parameters

            @given(case=operation.as_strategy(generation_mode=mode))
            @BOUNDED
            def check(case: Any) -> None:
                nonlocal sent
                excluded = [not_a_server_error] if allowed_5xx else []
                response = case.call_and_validate(base_url=server.url, headers=AUTH, excluded_checks=excluded)
                sent += 1
                if response.status_code >= 500:
                    where = f"{case.method} {case.path}"
                    assert where == "POST /api/query" and response.status_code in allowed_5xx, response.text

            check()
    return sent


def test_every_response_of_the_server_conforms_to_its_openapi_document(extractive_server: Server) -> None:
    """No 5xx at all, and every response as documented."""
    assert conform(extractive_server) >= 5 + 1  # every operation, and the query body made invalid


def test_without_the_generation_backend_only_the_documented_5xx_appear(backendless_server: Server) -> None:
    """502/503/504 are documented for /api/query (the sources still come back); any other 5xx,
    or a 5xx elsewhere, is a failure."""
    assert conform(backendless_server, allowed_5xx=(502, 503, 504)) >= 5 + 1
