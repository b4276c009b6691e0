"""Labels and metadata shared by every child. The label set is also how the operator finds its
children again (watch filters, list selectors), so it must stay stable across releases."""

from __future__ import annotations

from typing import Any

from oozo_operator.render.corpus import Corpus

NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
MANAGED_BY = "app.kubernetes.io/managed-by"
PART_OF = "app.kubernetes.io/part-of"
INDEX_HASH = "rag.oozo.dev/index-hash"
INDEX_VERSION = "rag.oozo.dev/index-version"
CONFIG_HASH = "rag.oozo.dev/config-hash"
# On the index Job of a parallel build staged in S3: its shards only stage, and a second Job
# (component MERGE) merges them onto the corpus volume (render/merge_job.py).
STAGING = "rag.oozo.dev/staging"
MANAGER = "oozo"  # the value of managed-by, and the server-side apply field manager

# component values
SERVER, INDEX, CONFIG, STORAGE, AUTH, REFRESH = "server", "index", "config", "storage", "auth", "refresh"
BACKUP, RESTORE, VERIFY, MERGE = "backup", "restore", "verify", "merge"


def labels(corpus: Corpus, component: str) -> dict[str, str]:
    return {
        NAME: "oozo-runtime",
        INSTANCE: corpus.name,
        COMPONENT: component,
        MANAGED_BY: MANAGER,
        PART_OF: "oozo",
    }


def selector(corpus: Corpus, component: str) -> dict[str, str]:
    """Immutable selectors (Deployment, PDB) use only labels that never change."""
    return {NAME: "oozo-runtime", INSTANCE: corpus.name, COMPONENT: component}


def metadata(corpus: Corpus, name: str, component: str, **extra_labels: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": corpus.namespace,
        "labels": {**labels(corpus, component), **extra_labels},
        "ownerReferences": [corpus.owner_reference()],
    }
