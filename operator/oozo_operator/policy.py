"""The corpus policy: what a RagCorpus may point at beyond what its author's RBAC allows (pure).

A RagCorpus makes the operator run pods with the author's choices in them: an image, URLs the
pods send keys and documents to, Secrets and PVCs they mount. Whoever may create a RagCorpus
could otherwise use any Secret or PVC of the namespace and run any code with them
(docs/security.md). The ValidatingAdmissionPolicy in deploy/policy.yaml and the chart refuses
such specs at admission; the operator checks the same rules again before it writes anything,
for clusters without the policy (defence in depth), with these functions.

Admission cannot read the labels of a referenced Secret or PVC, so the opt-in label is checked
only here, from a metadata-only read of each referenced object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.conditions import Problem
from oozo_operator.config import OperatorSettings, parse_label, parse_list

POLICY_VIOLATION = "PolicyViolation"
# Where a spec that names no endpoint sends its requests: the OpenAI client's default and AWS S3.
OPENAI_HOST = "api.openai.com"
AWS_S3_HOST = "s3.amazonaws.com"
_SCP_GIT_URL = re.compile(r"^[^@/\s]+@([^:/\s]+):")  # git@host:path


@dataclass(frozen=True)
class CorpusPolicy:
    """Empty tuples allow anything; `opt_in_label` None asks for no label."""

    image_repositories: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    opt_in_label: tuple[str, str] | None = None  # (key, value)


def from_settings(settings: OperatorSettings) -> CorpusPolicy:
    return CorpusPolicy(
        image_repositories=parse_list(settings.allowed_image_repositories),
        hosts=parse_list(settings.allowed_hosts),
        opt_in_label=parse_label(settings.reference_opt_in_label),
    )


@dataclass(frozen=True)
class Reference:
    """A Secret or PVC the spec makes the operator wire into a pod."""

    kind: str  # Secret or PersistentVolumeClaim
    name: str
    field: str  # where the spec names it, e.g. spec.generation.apiKeySecretRef


def image_repository(image: str) -> str:
    """`registry:5000/team/runtime:1.2@sha256:…` → `registry:5000/team/runtime`: without digest
    and tag (a ':' after the last '/' starts the tag; one before it is a registry port)."""
    name = image.split("@", 1)[0]
    colon = name.rfind(":")
    return name[:colon] if colon > name.rfind("/") else name


def repository_allowed(repository: str, allowed: tuple[str, ...]) -> bool:
    """An entry matches its repository exactly; an entry ending in '/' matches everything below."""
    return not allowed or any(
        repository == entry or (entry.endswith("/") and repository.startswith(entry)) for entry in allowed
    )


def host_of(url: str) -> str:
    """The lower-case host name of an http(s)/ssh URL or a git@host:path address; "" if none."""
    scp = _SCP_GIT_URL.match(url)
    if scp and "://" not in url:
        return scp.group(1).lower()
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # e.g. an unbalanced IPv6 bracket: no host we could allow
        return ""


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """An entry matches its host exactly; `*.example.com` matches every name below example.com."""
    if not allowed:
        return True
    for entry in (e.lower() for e in allowed):
        if host == entry or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True
    return False


def remote_endpoints(spec: RagCorpusSpec) -> list[tuple[str, str]]:
    """(field, URL) of every remote endpoint the corpus's pods talk to."""
    out: list[tuple[str, str]] = []
    gen = spec.generation
    if gen.base_url:
        out.append(("spec.generation.baseURL", gen.base_url))
    elif gen.provider == "openai":
        out.append(("spec.generation.baseURL", f"https://{OPENAI_HOST}/v1"))
    if spec.embedding.provider == "openai":
        # The index Job and the server send every chunk and question to this server.
        out.append(("spec.embedding.baseURL", spec.embedding.base_url or f"https://{OPENAI_HOST}/v1"))
    build = spec.index.build
    s3_locations = [
        ("spec.source.s3.endpoint", spec.source.s3),
        ("spec.index.build.staging.s3.endpoint", build.staging.s3 if build and build.staging else None),
        ("spec.backup.s3.endpoint", spec.backup.s3 if spec.backup else None),
        ("spec.restore.s3.endpoint", spec.restore.s3 if spec.restore else None),
    ]
    for where, location in s3_locations:
        if location is not None:
            out.append((where, location.endpoint or f"https://{AWS_S3_HOST}"))
    if spec.embedding.s3 is not None:  # the index Job copies an s3:// model from there
        out.append(("spec.embedding.s3.endpoint", spec.embedding.s3.endpoint or f"https://{AWS_S3_HOST}"))
    if spec.embedding.hub and spec.embedding.hub.endpoint:
        # The index Job sends the hub token there. Without one it asks the operator's
        # OOZO_HUB_ENDPOINT (the administrator's choice) or huggingface.co.
        out.append(("spec.embedding.hub.endpoint", spec.embedding.hub.endpoint))
    if spec.source.http:
        out.extend((f"spec.source.http.urls[{i}]", url) for i, url in enumerate(spec.source.http.urls))
    if spec.source.git:
        out.append(("spec.source.git.url", spec.source.git.url))
    cache = spec.runtime.cache
    if cache and cache.redis:
        out.append(("spec.runtime.cache.redis.url", cache.redis.url))
    if spec.retrieval.rerank:  # the server sends every question and its top N chunks there
        out.append(("spec.retrieval.rerank.endpoint", spec.retrieval.rerank.endpoint))
    return out


def references(spec: RagCorpusSpec) -> list[Reference]:
    """Every Secret and PVC the spec names (not the NAME-api-key Secret Oozo generates)."""
    out: list[Reference] = []
    gen, auth = spec.generation, spec.runtime.auth
    redis = spec.runtime.cache.redis if spec.runtime.cache else None
    rerank = spec.retrieval.rerank
    build = spec.index.build
    if gen.api_key_secret_ref:
        out.append(Reference("Secret", gen.api_key_secret_ref.name, "spec.generation.apiKeySecretRef"))
    if auth.api_key_secret_ref and auth.api_key_secret_ref.name:
        out.append(Reference("Secret", auth.api_key_secret_ref.name, "spec.runtime.auth.apiKeySecretRef"))
    key_refs = [
        ("spec.embedding.apiKeySecretRef", spec.embedding.api_key_secret_ref),
        ("spec.embedding.hub.tokenSecret", spec.embedding.hub.token_secret if spec.embedding.hub else None),
        ("spec.source.http.headersSecret", spec.source.http.headers_secret if spec.source.http else None),
        ("spec.backup.signingKeySecretRef", spec.backup.signing_key_secret_ref if spec.backup else None),
        ("spec.restore.signingKeySecretRef", spec.restore.signing_key_secret_ref if spec.restore else None),
        ("spec.runtime.cache.redis.passwordSecretRef", redis.password_secret_ref if redis else None),
        ("spec.retrieval.rerank.apiKeySecretRef", rerank.api_key_secret_ref if rerank else None),
    ]
    out.extend(Reference("Secret", ref.name, where) for where, ref in key_refs if ref is not None)
    credentials = [
        ("spec.source.s3.credentialsSecret", spec.source.s3),
        ("spec.source.git.credentialsSecret", spec.source.git),
        ("spec.backup.s3.credentialsSecret", spec.backup.s3 if spec.backup else None),
        ("spec.restore.s3.credentialsSecret", spec.restore.s3 if spec.restore else None),
        ("spec.embedding.s3.credentialsSecret", spec.embedding.s3),
        (
            "spec.index.build.staging.s3.credentialsSecret",
            build.staging.s3 if build and build.staging else None,
        ),
    ]
    for where, holder in credentials:
        if holder is not None and holder.credentials_secret:
            out.append(Reference("Secret", holder.credentials_secret, where))
    tls = spec.runtime.ingress.tls if spec.runtime.ingress else None
    if tls and tls.secret_name and not (tls.issuer or tls.cluster_issuer):
        # A certificate the author names is served to the world by the Ingress controller; one
        # cert-manager issues is written by cert-manager, so it need not exist yet.
        out.append(Reference("Secret", tls.secret_name, "spec.runtime.ingress.tls.secretName"))
    claims = [
        ("spec.source.pvc.claimName", spec.source.pvc),
        ("spec.embedding.modelVolume.claimName", spec.embedding.model_volume),
    ]
    out.extend(
        Reference("PersistentVolumeClaim", c.claim_name, where) for where, c in claims if c is not None
    )
    return out


def spec_violations(spec: RagCorpusSpec, policy: CorpusPolicy) -> list[Problem]:
    """What the spec alone breaks: the images' repositories (the server's and the indexer's) and
    the endpoints' hosts."""
    problems = []
    refused_images = [
        f"{where}: repository {repository} is not allowed"
        for where, image in (
            ("spec.runtime.image", spec.runtime.image),
            ("spec.index.image", spec.index.image),
        )
        if image and not repository_allowed(repository := image_repository(image), policy.image_repositories)
    ]
    if refused_images:  # one message, as the admission policy words it
        problems.append(
            violation(f"{'; '.join(refused_images)} (allowed: {', '.join(policy.image_repositories)})")
        )
    for where, url in remote_endpoints(spec):
        host = host_of(url)
        if not host_allowed(host, policy.hosts):
            problems.append(
                violation(
                    f"{where}: host {host or '(none)'} is not allowed (allowed: {', '.join(policy.hosts)})"
                )
            )
    return problems


def unusable(ref: Reference, metadata: Mapping[str, Any] | None, label: tuple[str, str]) -> Problem | None:
    """A problem unless the referenced object carries the opt-in label. A missing object (None)
    gets the very same message as an unlabelled one: the status must not tell the corpus's author
    whether a Secret of some name exists."""
    key, value = label
    if metadata is not None and (metadata.get("labels") or {}).get(key) == value:
        return None
    return violation(
        f"{ref.field}: {ref.kind} {ref.name} does not exist or is not labelled {key}={value} "
        "(the label is how its owner lets corpora use it)"
    )


def violation(message: str) -> Problem:
    return Problem(POLICY_VIOLATION, message)
