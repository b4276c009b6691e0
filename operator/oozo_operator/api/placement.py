"""Where a pod of the corpus runs, as in a pod spec: compute resources and tolerations. Shared by
the index Job's settings (embedding_spec.py) and the server's (spec.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from oozo_operator.api.base import ApiModel

IntOrQuantity = Annotated[int | str, Field(json_schema_extra={"x-kubernetes-int-or-string": True})]


class Resources(ApiModel):
    """Compute resources of a container, as in a pod spec."""

    requests: dict[str, IntOrQuantity] | None = Field(
        None, max_length=16, description="Minimum resources, e.g. {cpu: 500m, memory: 1Gi}."
    )
    limits: dict[str, IntOrQuantity] | None = Field(
        None, max_length=16, description="Maximum resources, e.g. {memory: 2Gi}."
    )


class Toleration(ApiModel):
    """A pod toleration, as in a pod spec."""

    key: str | None = Field(None, max_length=316, description="Taint key; empty with Exists matches all.")
    operator: Literal["Exists", "Equal"] | None = Field(None, description="Exists or Equal (default).")
    value: str | None = Field(None, max_length=63, description="Taint value for Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="Taint effect; empty for all."
    )
    toleration_seconds: int | None = Field(
        None, ge=0, le=31_536_000, description="How long NoExecute is tolerated."
    )
