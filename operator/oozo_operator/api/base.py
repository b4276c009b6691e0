"""Shared building blocks of the API models.

Every model here is rendered into the CRD's openAPIV3Schema by `oozo_operator.api.crd`, so a
field's description, bounds and default are written once and hold on both sides: the API
server refuses what the operator could not parse, and the operator parses exactly what the
API server stores.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# A DNS-1123 subdomain: the names of Secrets, ConfigMaps and PVCs.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# A key inside a Secret or ConfigMap.
DATA_KEY = r"^[-._a-zA-Z0-9]+$"
# A resource quantity such as 2Gi, 500m or 1.5.
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
HTTP_URL = r"^https?://[^\s]+$"

ObjectName = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]


def cel(rule: str, message: str, field_path: str | None = None, reason: str | None = None) -> dict[str, str]:
    """One x-kubernetes-validations entry. `fieldPath` makes the API server's error name the
    offending field rather than its parent object."""
    entry = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    if reason:
        entry["reason"] = reason
    return entry


def rules(*entries: dict[str, str]) -> dict[str, Any]:
    """json_schema_extra carrying CEL rules for one model."""
    return {"x-kubernetes-validations": list(entries)}


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python. Unknown fields are ignored rather than
    refused: the API server already pruned them, and a newer CRD must not break an older
    operator during an upgrade."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    def wire(self) -> dict[str, Any]:
        """The object as the API server would show it (camelCase, unset optionals left out)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
