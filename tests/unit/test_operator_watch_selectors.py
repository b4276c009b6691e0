"""The operator's watches of Jobs, Deployments and Pods carry a server-side labelSelector: kopf's
handler `labels=` filter only drops events after the API server sent them, so without this the
operator would receive every Pod of the cluster."""

from __future__ import annotations

from typing import Any

import kopf
import pytest
from kopf._cogs.structs.references import Resource

from oozo_operator import main

pytestmark = pytest.mark.unit


def configured() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    startup: Any = main.configure  # typed by kopf's decorator as a full activity handler
    startup(settings=settings)
    return settings


@pytest.mark.parametrize(
    "resource",
    [Resource("", "v1", "pods"), Resource("batch", "v1", "jobs"), Resource("apps", "v1", "deployments")],
)
def test_child_watches_select_oozo_children_server_side(resource: Resource) -> None:
    assert configured().watching.label_selectors.collect(resource) == [
        "app.kubernetes.io/managed-by=oozo,app.kubernetes.io/instance"
    ]


@pytest.mark.parametrize(
    "resource",
    [
        Resource("rag.oozo.dev", "v1alpha1", "ragcorpora"),
        Resource("", "v1", "namespaces"),
        Resource("", "v1", "secrets"),
    ],
)
def test_other_watches_are_not_narrowed(resource: Resource) -> None:
    assert configured().watching.label_selectors.collect(resource) == []
