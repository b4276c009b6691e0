"""spec.runtime.networkPolicy: who may reach the serving pods. Rendered as a NetworkPolicy NAME
(render/networkpolicy.py); the selectors have the shape of Kubernetes' own NetworkPolicyPeer, so
they are copied into the policy as they are."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from oozo_operator.api.base import ApiModel, cel, rules

# A label key (optional DNS prefix + name) and a label value, as Kubernetes validates them.
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LabelKey = Annotated[str, Field(min_length=1, max_length=317, pattern=LABEL_KEY)]
LabelValue = Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)]
# The monitoring namespace: a DNS-1123 label, or empty for none.
NAMESPACE_OR_EMPTY = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$"


class LabelSelectorRequirement(ApiModel):
    """One matchExpressions entry, as in a Kubernetes LabelSelector."""

    key: LabelKey = Field(description="The label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(description="How the key is matched.")
    values: list[LabelValue] | None = Field(
        None, max_length=64, description="Values for In and NotIn; empty for Exists and DoesNotExist."
    )


class LabelSelector(ApiModel):
    """A Kubernetes LabelSelector; an empty one selects everything."""

    # Keys are checked by the API server when the NetworkPolicy is applied (a refusal is
    # Stalled/ApplyRefused naming it): a structural CRD schema cannot constrain map keys.
    match_labels: dict[str, LabelValue] | None = Field(
        None, max_length=32, description="Labels that must all match."
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        None, max_length=32, description="Expressions that must all match."
    )


class NetworkPeer(ApiModel):
    """Who may connect: a NetworkPolicyPeer without ipBlock (pods, namespaces, or both)."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                "has(self.namespaceSelector) || has(self.podSelector)",
                "give a namespaceSelector, a podSelector or both",
            )
        )
    )

    namespace_selector: LabelSelector | None = Field(
        None, description="Namespaces whose pods may connect (e.g. matchLabels kubernetes.io/metadata.name)."
    )
    pod_selector: LabelSelector | None = Field(
        None, description="Pods that may connect; with a namespaceSelector, pods of those namespaces."
    )

    @model_validator(mode="after")
    def _selects_someone(self) -> NetworkPeer:
        if self.namespace_selector is None and self.pod_selector is None:
            raise ValueError("give a namespaceSelector, a podSelector or both")
        return self


class NetworkPolicy(ApiModel):
    """Ingress to the serving pods, on their HTTP port only, from the peers listed in `from`
    (default: the pods of the corpus's own namespace) and from the monitoring namespace (for
    /metrics; a NetworkPolicy cannot tell paths apart, so that namespace reaches the port)."""

    enabled: bool = Field(True, description="Render the NetworkPolicy NAME; false removes it.")
    from_: list[NetworkPeer] | None = Field(
        None,
        alias="from",
        max_length=32,
        description="Who may query the server; empty for the pods of the corpus's namespace only.",
    )
    monitoring_namespace: str = Field(
        "monitoring",
        max_length=63,
        pattern=NAMESPACE_OR_EMPTY,
        description="Namespace of the Prometheus that scrapes /metrics; empty for none.",
    )
