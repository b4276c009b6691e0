"""spec.index.build.staging.s3: where the shard pods of a parallel build stage their results
(docs/operator.md, "Parallel builds"), rendered as env of the index container (pure).

Each corpus stages under PREFIX/NAMESPACE/NAME/, so corpora sharing a bucket and prefix never
see (nor clean up) each other's builds. The credentials are wired by reference into the
staging's own variables (OOZO_STAGING_S3_*), not AWS_*: in the same container those may hold
an s3:// model's credentials."""

from __future__ import annotations

import copy
from typing import Any

from oozo_contract.index_settings import IndexSettings
from oozo_contract.settings import env_for, env_name
from oozo_operator.render import labels as L
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
    # Its shard pods see no volume (volume_free): their embedding cache is in the bucket.
    values: dict[str, Any] = {"staging_dir": uri, "staging_embedding_cache": True}
    if loc.endpoint:
        values["staging_s3_endpoint"] = loc.endpoint
    if loc.region:
        values["staging_s3_region"] = loc.region
    names = {key: env_name(IndexSettings, setting) for key, setting in CREDENTIAL_SETTINGS.items()}
    plain = [{"name": k, "value": v} for k, v in env_for(IndexSettings, **values).items()]
    return [*plain, *s3_env(loc, names)]


def merges_apart(corpus: Corpus) -> bool:
    """Whether the shards stage in S3 and a merge Job publishes (render/merge_job.py): then no
    shard pod needs the corpus volume, so the build spreads over any number of nodes."""
    build = corpus.spec.index.build
    return build is not None and build.staging is not None and build.parallelism > 1


def volume_free(spec: dict[str, Any], corpus: Corpus) -> dict[str, Any]:
    """The Indexed Job's spec with shard pods that mount no corpus volume: the folder the
    volume was mounted at (source cache, model cache, embedding cache) becomes an emptyDir of
    the pod, and they write only to the S3 staging. They lose the co-location a ReadWriteOnce
    volume imposes (pod.affinity), and their staging label keeps them out of that affinity's
    term, so no other pod of the corpus is drawn to their node: a server replica placed beside a
    shard on another node could not attach the volume. They keep every other label, managed-by
    included: the operator watches them and reports one that cannot start like any other pod."""
    out = copy.deepcopy(spec)
    template = out["template"]
    template["metadata"]["labels"] = {**template["metadata"]["labels"], L.STAGING: "s3"}
    pod_spec = template["spec"]
    pod_spec["volumes"] = [
        {"name": v["name"], "emptyDir": {}} if "persistentVolumeClaim" in v and v["name"] == "index" else v
        for v in pod_spec["volumes"]
    ]
    user = corpus.spec.scheduling.affinity if corpus.spec.scheduling else None
    if user:
        pod_spec["affinity"] = copy.deepcopy(user)
    else:
        pod_spec.pop("affinity", None)
    return out
