"""spec.runtime.ingress and spec.runtime.httpRoute: reaching the corpus's Service from outside the
cluster, through an Ingress controller or a Gateway API gateway. Rendered as Ingress NAME and
HTTPRoute NAME (render/exposure.py), both pointing at the Service NAME on port 80.

Neither is needed inside the cluster (http://NAME.NAMESPACE.svc). Both leave TLS and the address
to the controller; the API key still guards /api/*, and the corpus's NetworkPolicy must let the
controller's namespace in (spec.runtime.networkPolicy.from; docs/operator.md says how)."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from oozo_operator.api.base import ApiModel, cel, rules

# A DNS name as Ingress and HTTPRoute accept it: lowercase labels, optionally one leading `*.`.
HOSTNAME = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
Hostname = Annotated[str, Field(min_length=1, max_length=253, pattern=HOSTNAME)]
# A URL path prefix: starts with /, no whitespace, no query or fragment.
PATH_PREFIX = r"^/[^\s?#]*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class IngressTLS(ApiModel):
    """TLS for the Ingress: a certificate Secret, or one cert-manager issues into that Secret."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                "!(has(self.issuer) && has(self.clusterIssuer))",
                "name an issuer or a clusterIssuer, not both",
            )
        )
    )

    secret_name: str | None = Field(
        None,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        description="Secret of type kubernetes.io/tls for the host; empty for NAME-tls.",
    )
    issuer: str | None = Field(
        None,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        description="cert-manager Issuer (same namespace) that issues the certificate into the Secret.",
    )
    cluster_issuer: str | None = Field(
        None,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        description="cert-manager ClusterIssuer that issues the certificate into the Secret.",
    )

    @model_validator(mode="after")
    def _one_issuer(self) -> IngressTLS:
        if self.issuer and self.cluster_issuer:
            raise ValueError("name an issuer or a clusterIssuer, not both")
        return self


class Ingress(ApiModel):
    """An Ingress NAME routing https://HOST/PATH to the corpus's Service."""

    class_name: str | None = Field(
        None,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        description="IngressClass; empty for the cluster's default class.",
    )
    host: Hostname = Field(description="Host name the Ingress answers for.")
    path: str = Field(
        "/",
        max_length=1024,
        pattern=PATH_PREFIX,
        description="Path prefix routed to the corpus (the server sees the full path).",
    )
    tls: IngressTLS | None = Field(None, description="Serve HTTPS for the host; empty for plain HTTP.")
    annotations: dict[str, Annotated[str, Field(max_length=4096)]] | None = Field(
        None,
        max_length=32,
        description="Annotations for the Ingress controller (e.g. its body-size or timeout settings).",
    )


class ParentRef(ApiModel):
    """The Gateway (listener) the HTTPRoute attaches to."""

    name: str = Field(max_length=253, pattern=DNS_SUBDOMAIN, description="Name of the Gateway.")
    namespace: str | None = Field(
        None,
        max_length=63,
        pattern=DNS_LABEL,
        description="Namespace of the Gateway; empty for the corpus's.",
    )
    section_name: str | None = Field(
        None, max_length=253, pattern=DNS_SUBDOMAIN, description="Listener of the Gateway; empty for all."
    )


class HttpRoute(ApiModel):
    """An HTTPRoute NAME (Gateway API, gateway.networking.k8s.io/v1) routing PATH on the given
    hostnames of the parent Gateways to the corpus's Service. TLS is the Gateway's listener's."""

    parent_refs: list[ParentRef] = Field(
        min_length=1, max_length=16, description="Gateways the route attaches to."
    )
    hostnames: list[Hostname] | None = Field(
        None, max_length=16, description="Host names matched; empty for the listener's."
    )
    path: str = Field(
        "/", max_length=1024, pattern=PATH_PREFIX, description="Path prefix routed to the corpus."
    )
