"""Typed reads of kubernetes-client models. The generated models type every field Optional; an
object read back from the API server always has a name and (for Oozo's children) labels, so these
assert that and return the field with its real type."""

from __future__ import annotations

from typing import Protocol

from kubernetes import client


class HasMetadata(Protocol):
    @property
    def metadata(self) -> client.V1ObjectMeta | None: ...


def name_of(obj: HasMetadata) -> str:
    assert obj.metadata is not None and obj.metadata.name is not None, obj
    return obj.metadata.name


def labels_of(obj: HasMetadata) -> dict[str, str]:
    assert obj.metadata is not None and obj.metadata.labels is not None, obj
    return obj.metadata.labels


def owners_of(obj: HasMetadata) -> list[client.V1OwnerReference]:
    assert obj.metadata is not None and obj.metadata.owner_references is not None, obj
    return obj.metadata.owner_references
