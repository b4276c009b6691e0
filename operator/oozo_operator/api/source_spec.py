"""spec.source: where a corpus's documents come from. configMap and pvc are mounted into the index
Job; s3, git and http are fetched by its `fetch` init container (`oozo fetch`) into a source cache
on the corpus's volume (render/fetch.py, docs/operator.md#sources). Credentials are only ever
named here (a Secret, a ServiceAccount): the operator wires them into the pod by reference."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from oozo_contract import defaults as d
from oozo_operator.api.base import HTTP_URL, ApiModel, ObjectName, cel, rules
from oozo_operator.api.fields import RelativePath, S3Location, SecretKeyRef

SOURCE_KINDS = ("configMap", "pvc", "s3", "http", "git")
FETCHED_KINDS = ("s3", "http", "git")

# The runtime refuses the same patterns (oozo_contract.defaults.check_include_pattern).
IncludePattern = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        json_schema_extra=rules(
            cel("!self.startsWith('/')", "must be relative to the source root, not an absolute path"),
            cel("!self.split('/').exists(p, p == '..')", "must not contain '..'"),
            cel("self.split('**').size() <= 2", "may use '**' at most once"),
        ),
    ),
]
# A URL's userinfo would put a credential into the spec and the pod's environment; credentials
# belong in a Secret (git.credentialsSecret, http.headersSecret). An ssh user name is no secret.
NO_USERINFO = r"^[a-z+]+://[^/@]*@"
NO_USERINFO_MESSAGE = "must not carry credentials (user:password@); put them in a Secret"
# https:// and http:// without userinfo; ssh:// with at most a login user (no ':', so no password)
# and a path. The runtime parses the same shapes (oozo_runtime.sources.git.parse_git_uri).
GIT_URL = r"^(https?://[^\s@]+|ssh://([A-Za-z0-9._-]+@)?[^\s@/]+/[^\s@]+)$"


class ConfigMapSource(ApiModel):
    """Documents stored as binaryData (or data) files of a ConfigMap: small, GitOps-native corpora
    (a ConfigMap holds at most 1 MiB)."""

    name: ObjectName = Field(description="Name of the ConfigMap, in the RagCorpus's namespace.")


class PVCSource(ApiModel):
    """Documents on an existing PersistentVolumeClaim, mounted read-only into the index Job."""

    claim_name: ObjectName = Field(description="Name of the PersistentVolumeClaim holding the documents.")
    path: RelativePath = Field("", description="Folder inside the volume; empty for its root.")


class S3Source(S3Location):
    """Documents under a prefix of an S3 bucket (AWS S3 or an S3-compatible server). Each fetch
    downloads only the objects whose ETag changed since the last one and removes what
    disappeared."""

    path_style: bool = Field(
        False,
        description="Path-style addressing (endpoint/bucket/key), for MinIO, Ceph and most "
        "S3-compatible servers; AWS uses virtual-hosted style.",
    )
    service_account_name: ObjectName | None = Field(
        None,
        description="ServiceAccount the index Job runs as, for a workload identity (EKS IRSA or Pod "
        "Identity, GKE Workload Identity) instead of credentialsSecret; empty for the namespace's "
        "default account.",
    )


class HTTPSource(ApiModel):
    """Documents downloaded from plain HTTP(S) URLs, each with a conditional GET (ETag,
    Last-Modified). Link-local addresses (cloud metadata) are always refused."""

    urls: list[
        Annotated[
            str,
            Field(
                max_length=2048,
                pattern=HTTP_URL,
                json_schema_extra=rules(cel(f"!self.matches('{NO_USERINFO}')", NO_USERINFO_MESSAGE)),
            ),
        ]
    ] = Field(min_length=1, max_length=100, description="URLs of the documents, http:// or https://.")
    headers_secret: SecretKeyRef | None = Field(
        None,
        description="Secret key holding extra request headers, one 'Name: value' per line (e.g. "
        "'Authorization: Bearer …'); mounted as a file, never put in the environment.",
    )

    @model_validator(mode="after")
    def _no_userinfo(self) -> HTTPSource:
        _refuse_userinfo(*self.urls)
        return self


class GitSource(ApiModel):
    """Documents in a Git repository: a shallow fetch of one ref, whose commit SHA is the source
    revision. Over https://, http:// or ssh:// (a deploy key, with the server's host key checked
    strictly against the Secret's known_hosts)."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                "!self.url.startsWith('ssh://') || has(self.credentialsSecret)",
                "an ssh:// url needs credentialsSecret with the keys ssh-privatekey and known_hosts",
            )
        )
    )

    url: str = Field(
        max_length=2048,
        pattern=GIT_URL,
        description="Clone URL: https:// (or http:// for a server inside the network) without "
        "credentials in it, or ssh://[USER@]HOST[:PORT]/PATH with no password (USER defaults to git).",
    )
    ref: str = Field(
        "main",
        min_length=1,
        max_length=255,
        pattern=r"^[^\s@#~^:?*\[\\]+$",
        description="Branch, tag or commit SHA to fetch.",
    )
    path: RelativePath = Field("", description="Folder inside the repository; empty for its root.")
    credentials_secret: ObjectName | None = Field(
        None,
        description="For https:// and http://, a Secret with the keys username and password (a "
        "password or an access token; a kubernetes.io/basic-auth Secret has both); empty for public "
        "repositories. For ssh://, required: a Secret with the keys ssh-privatekey (an unencrypted "
        "deploy key; a kubernetes.io/ssh-auth Secret has it) and known_hosts (the server's host keys: "
        "an unknown or changed one is refused), mounted read-only as files.",
    )

    @property
    def over_ssh(self) -> bool:
        return self.url.startswith("ssh://")

    @model_validator(mode="after")
    def _ssh_needs_a_key(self) -> GitSource:
        if self.over_ssh and not self.credentials_secret:
            raise ValueError(
                "an ssh:// url needs credentialsSecret with the keys ssh-privatekey and known_hosts"
            )
        return self


class Source(ApiModel):
    """Where the documents come from: exactly one of configMap, pvc, s3, http, git."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                "[has(self.configMap), has(self.pvc), has(self.s3), has(self.http), has(self.git)]"
                ".filter(x, x).size() == 1",
                "exactly one of configMap, pvc, s3, http, git must be set",
            )
        )
    )

    config_map: ConfigMapSource | None = Field(None, description="Documents in a ConfigMap.")
    pvc: PVCSource | None = Field(None, description="Documents on a PersistentVolumeClaim.")
    s3: S3Source | None = Field(None, description="Documents in an S3 bucket, fetched by the index Job.")
    http: HTTPSource | None = Field(None, description="Documents at HTTP(S) URLs, fetched by the index Job.")
    git: GitSource | None = Field(
        None, description="Documents in a Git repository, fetched by the index Job."
    )
    include: list[IncludePattern] = Field(
        default_factory=lambda: list(d.DEFAULT_INCLUDE),
        max_length=32,
        description="Glob patterns of the files to index, relative to the source root.",
    )

    @model_validator(mode="after")
    def _include_inside_source(self) -> Source:
        for pattern in self.include:
            d.check_include_pattern(pattern)
        return self

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        if len(self.kinds()) != 1:
            raise ValueError("exactly one of configMap, pvc, s3, http, git must be set")
        return self

    def kinds(self) -> list[str]:
        return [k for k in SOURCE_KINDS if getattr(self, _snake(k)) is not None]

    @property
    def kind(self) -> str:
        return self.kinds()[0]

    @property
    def fetched(self) -> bool:
        """Whether the index Job fetches the documents (s3, http, git) rather than mounting them."""
        return self.kind in FETCHED_KINDS


def _refuse_userinfo(*urls: str) -> None:
    import re

    for url in urls:
        if re.match(NO_USERINFO, url):
            raise ValueError(NO_USERINFO_MESSAGE)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)
