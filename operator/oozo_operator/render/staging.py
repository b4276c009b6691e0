"""spec.index.build.staging.s3: where the shard pods of a parallel build stage their results
(docs/operator.md, "Parallel builds"), rendered as env of the index container (pure).

Each corpus stages under PREFIX/NAMESPACE/NAME/, so corpora sharing a bucket and prefix never
see (nor clean up) each other's builds. The credentials are wired by reference into the
staging's own variables (OOZO_STAGING_S3_*), not AWS_*: in the same container those may hold
an s3:// model's credentials."""

from __future__ import annotations

from typing import Any

from oozo_contract.settings import IndexSettings, env_for, env_name
from oozo_operator.render.backup import s3_env
from oozo_operator.render.corpus import Corpus

# The Secret's keys (the AWS variable names, as for backups) → the settings they become.
CREDENTIAL_SETTINGS = {
    "AWS_ACCESS_KEY_ID": "staging_s3_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "staging_s3_secret_access_key",
    "AWS_SESSION_TOKEN": "staging_s3_session_token",
}


def s3_uri(corpus: Corpus) -> str | None:
    """s3://BUCKET/PREFIX/NAMESPACE/NAME of the corpus's staging; None: a folder on the volume."""
    build = corpus.spec.index.build
    if build is None or build.staging is None:
        return None
    loc = build.staging.s3
    parts = [p for p in (loc.prefix.strip("/"), corpus.namespace, corpus.name) if p]
    return f"s3://{loc.bucket}/{'/'.join(parts)}"


def env(corpus: Corpus) -> list[dict[str, Any]]:
    """The index container's staging env: the URI, endpoint and region as values, the keys by
    secretKeyRef (never read by the operator)."""
    uri = s3_uri(corpus)
    build = corpus.spec.index.build
    if uri is None or build is None or build.staging is None:
        return []
    loc = build.staging.s3
    values: dict[str, Any] = {"staging_dir": uri}
    if loc.endpoint:
        values["staging_s3_endpoint"] = loc.endpoint
    if loc.region:
        values["staging_s3_region"] = loc.region
    names = {key: env_name(IndexSettings, setting) for key, setting in CREDENTIAL_SETTINGS.items()}
    plain = [{"name": k, "value": v} for k, v in env_for(IndexSettings, **values).items()]
    return [*plain, *s3_env(loc, names)]
