"""`Corpus`: the parsed RagCorpus plus the operator settings every renderer needs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from oozo_operator.api.crd import GROUP, KIND, VERSION
from oozo_operator.api.embedding_spec import PLACEMENT_FIELDS
from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.config import OperatorSettings

INDEX_DIR = "/var/lib/oozo/index"
SOURCE_DIR = "/src"
# Fetched sources (s3, http, git) live in a source cache on the corpus's volume, beside the index
# versions and outside every folder the runtime lists or prunes (versions/, cache/, .tmp-*): the
# files the `fetch` init container brings and the `index` container reads, and the state a
# fetcher keeps between runs (ETags, a Git object store). The same folder `oozo index URI
# --out INDEX_DIR` fetches into (oozo_runtime.commands.SOURCE_CACHE), so a build run by hand on
# the volume reuses it.
SOURCE_CACHE = f"{INDEX_DIR}/source-cache"
# Setting (or changing) this annotation to any value, e.g. a timestamp, builds the index again.
REINDEX_ANNOTATION = "rag.oozo.dev/reindex-requested-at"
SERVER_PORT = 8000
TERMINATION_LOG = "/dev/termination-log"


@dataclass(frozen=True)
class Corpus:
    name: str
    namespace: str
    uid: str
    spec: RagCorpusSpec
    settings: OperatorSettings = field(default_factory=lambda: OperatorSettings())
    # resourceVersion of the source ConfigMap (observed): editing documents in place changes
    # it, and with it the index hash, so a new version is built. "" for other sources.
    source_revision: str = ""
    # The value of the rag.oozo.dev/reindex-requested-at annotation: part of the index hash, so
    # setting it to a new value starts a new build (docs/operator.md#refreshing-a-source).
    reindex_requested_at: str = ""
    # The revision the published version was fetched at (status.index.sourceRevision) of a
    # fetched source: only the refresh CronJob uses it (`oozo fetch --unless-revision`), and it is
    # never part of the index hash.
    published_source_revision: str = ""

    @classmethod
    def from_body(
        cls, body: dict[str, Any], settings: OperatorSettings | None = None, source_revision: str = ""
    ) -> Corpus:
        meta = body["metadata"]
        annotations = meta.get("annotations") or {}
        return cls(
            name=meta["name"],
            namespace=meta["namespace"],
            uid=meta["uid"],
            spec=RagCorpusSpec.model_validate(body.get("spec") or {}),
            settings=settings or OperatorSettings(),
            source_revision=source_revision,
            reindex_requested_at=str(annotations.get(REINDEX_ANNOTATION) or ""),
        )

    @property
    def server_image(self) -> str:
        """The serving Deployment's image: it runs `oozo serve` only, so it needs no torch."""
        return self.spec.runtime.image or self.settings.server_image

    @property
    def indexer_image(self) -> str:
        """The image of every Job and CronJob pod (index, fetch, backup, restore): torch embeds."""
        return self.spec.index.image or self.settings.default_indexer_image

    @property
    def pvc_name(self) -> str:
        return f"{self.name}-index"

    @property
    def config_name(self) -> str:
        return f"{self.name}-config"

    @property
    def generated_secret_name(self) -> str:
        return f"{self.name}-api-key"

    @property
    def endpoint(self) -> str:
        return f"http://{self.name}.{self.namespace}.svc/api/query"

    @property
    def index_hash(self) -> str:
        return index_hash(self.spec, self.source_revision, self.reindex_requested_at)

    @property
    def job_name(self) -> str:
        return f"{self.name}-index-{self.index_hash}"

    def owner_reference(self) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def index_hash(spec: RagCorpusSpec, source_revision: str = "", reindex_requested_at: str = "") -> str:
    """What an index version depends on: the source (and the revision of a source ConfigMap),
    chunking, embedding and index type, the quality gate it must pass, and a requested re-index.
    Any other change (replicas, generation, auth, the embedding's resources and placement...)
    must not rebuild. The hash
    names the Job, so a retry finds the Job it already created instead of starting a second one.

    The revision of a fetched source (s3, http, git) is not in it: the operator learns it only
    from the build's own fetch. Such a source changes without the spec changing; the refresh
    CronJob (which fetches and builds, publishing nothing when nothing changed) or the reindex
    annotation pick the change up."""
    inputs: dict[str, Any] = {
        "source": spec.source.wire(),
        "chunking": spec.chunking.wire(),
        "embedding": {k: v for k, v in spec.embedding.wire().items() if k not in PLACEMENT_FIELDS},
        "indexType": spec.index.type,
    }
    index_params = spec.index.model_dump(
        by_alias=True, exclude_none=True, mode="json", include={"hnsw", "ivfpq"}
    )
    if any(index_params.values()):  # absent otherwise: the hash of a corpus without them stays as it was
        inputs["indexParams"] = index_params
    if spec.evaluation:  # absent otherwise: the hash of a corpus without a gate stays as it was
        inputs["evaluation"] = spec.evaluation.wire()
    if source_revision:
        inputs["sourceRevision"] = source_revision
    if reindex_requested_at:
        inputs["reindexRequestedAt"] = reindex_requested_at
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:10]


def short_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
