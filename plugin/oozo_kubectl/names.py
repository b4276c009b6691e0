"""The operator's published interface, as data the plugin reads: the RagCorpus API, the labels
the operator puts on every child, the reindex annotation and the names of generated children.

These strings are the operator's compatibility promise to every tool that selects its children
(render/labels.py says they stay stable across releases); they are repeated here instead of
imported, because the plugin must not depend on the operator's internals. A unit test
(tests/unit/test_kubectl_names.py) pins each one to the operator's own constant."""

from __future__ import annotations

GROUP, VERSION, PLURAL, KIND = "rag.oozo.dev", "v1alpha1", "ragcorpora", "RagCorpus"

# Labels on every child (operator/oozo_operator/render/labels.py).
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "oozo"
SERVER, INDEX, BACKUP, RESTORE, REFRESH = "server", "index", "backup", "restore", "refresh"
# A parallel build staged in S3 ends in a second Job of component MERGE, with the index Job's hash.
MERGE = "merge"
INDEX_HASH = "rag.oozo.dev/index-hash"

# Setting it to a new value builds a new index version (render/corpus.py, index_hash).
REINDEX_ANNOTATION = "rag.oozo.dev/reindex-requested-at"

# The Service's port (render/service.py) and the generated API key Secret (render/secret.py).
SERVICE_PORT_NAME = "http"
GENERATED_KEY = "api-key"

# Containers whose logs `logs` shows (render/job.py, render/deployment.py).
INDEX_CONTAINER = "index"
SERVER_CONTAINER = "server"

# What `kubectl create job --from=cronjob/...` marks a manual Job with.
MANUAL_ANNOTATION = "cronjob.kubernetes.io/instantiate"


def generated_secret_name(corpus: str) -> str:
    return f"{corpus}-api-key"


def backup_cronjob_name(corpus: str) -> str:
    return f"{corpus}-backup"


def verify_cronjob_name(corpus: str) -> str:
    """The restore drill CronJob (render/verify.py)."""
    return f"{corpus}-verify"


def selector(corpus: str, component: str | None = None) -> str:
    """The label selector of a corpus's children (of one component)."""
    parts = [f"{INSTANCE}={corpus}", f"{MANAGED_BY}={MANAGER}"]
    if component:
        parts.append(f"{COMPONENT}={component}")
    return ",".join(parts)
