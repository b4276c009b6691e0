"""Fixtures shared by the operator's control-plane modules. Module scope, so every module that
uses `operator` gets an operator process of its own (modules that need another identity, like the
RBAC one, override `api` / `operator` locally)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from devcluster.kubelet.player import KubeletPlayer
from devcluster.ragcorpus import install_crd
from tests.operator_support import Operator


@pytest.fixture(scope="module")
def api(control_plane: Any) -> Iterator[client.ApiClient]:
    install_crd(control_plane.env())
    with control_plane.api_client() as api_client:
        yield api_client


@pytest.fixture(scope="module")
def operator(
    control_plane: Any, api: client.ApiClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    op = Operator(control_plane.env(), tmp_path_factory.mktemp("operator")).start()
    yield op
    op.stop()


@pytest.fixture()
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture()
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture()
def kubelet(core: client.CoreV1Api) -> KubeletPlayer:
    return KubeletPlayer(core)


@pytest.fixture()
def ns(core: client.CoreV1Api) -> Iterator[str]:
    name = f"op-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace.model_validate({"metadata": {"name": name}}))
    yield name
    core.delete_namespace(name)
    core.delete_collection_persistent_volume(label_selector=f"oozo-test={name}")
