"""The embedding model: offline resolution of the default model, instruction prefixes, batched and
normalised encoding. Shared by the indexer and the server so both embed the same way."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oozo_contract.defaults import DEFAULT_MODEL
from oozo_contract.manifest import EmbeddingFingerprint
from oozo_runtime.model_files import resolve_model_path
from oozo_runtime.prefixes import prefixes_for

if TYPE_CHECKING:
    import numpy as np

    from oozo_contract.settings import EmbeddingSettings

log = logging.getLogger(__name__)


def expected_fingerprint(settings: EmbeddingSettings) -> EmbeddingFingerprint:
    """The fingerprint an embedder made from these settings will have, known without loading a
    model or calling a server: what a version's manifest is checked against before serving."""
    if settings.embedding_provider == "local":
        return EmbeddingFingerprint(provider="local", model=settings.model)
    from oozo_runtime.remote_embedding import OPENAI_BASE_URL, host_of

    return EmbeddingFingerprint(
        provider=settings.embedding_provider,
        host=host_of(settings.embedding_base_url or OPENAI_BASE_URL),
        model=settings.model,
        server_prefixes=settings.embedding_prefixes == "server",
    )


def make_embedder(settings: EmbeddingSettings, revision: str | None = None) -> Any:
    """The embedder the settings name: the local sentence-transformers model (imports torch) or
    a remote OpenAI-compatible server (never imports torch). `revision`: the hub commit of a hub
    model (the one a version's manifest records); default the settings' hub_revision."""
    if settings.embedding_provider == "openai":
        from oozo_runtime.remote_embedding import RemoteEmbedder

        return RemoteEmbedder(settings)
    from oozo_runtime.model_files import settings_models_root

    cache_dir = str(settings.model_cache_dir) if settings.model_cache_dir else None
    return Embedder(
        settings.model, cache_dir, settings_models_root(settings), revision or settings.hub_revision
    )


class Embedder:
    """A loaded sentence-transformers model with the prefixes of its family."""

    def __init__(
        self,
        model_id: str = DEFAULT_MODEL,
        cache_dir: str | None = None,
        models_root: Path | None = None,
        revision: str | None = None,
    ) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        try:  # the per-tensor "Loading weights" bar is noise in JSON logs
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:
            pass

        self.model_id = model_id
        self.prefixes = prefixes_for(model_id)
        self.fingerprint = EmbeddingFingerprint(provider="local", model=model_id)
        path = resolve_model_path(model_id, models_root, revision)
        import torch  # sentence-transformers has imported it already

        # threads: torch's intra-op count, from OMP_NUM_THREADS when set (a shard pod's CPU, as
        # the operator renders it), else a thread per core.
        log.info(
            "loading embedding model",
            extra={"model": model_id, "path": path, "threads": torch.get_num_threads()},
        )

        # CUDA when torch sees a device (a GPU node, spec.embedding.resources), CPU otherwise;
        # never MPS or another backend sentence-transformers would pick on its own.
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = SentenceTransformer(path, device=device, cache_folder=cache_dir)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise ValueError(f"model {model_id} does not report an embedding dimension")
        self.dimension = int(dim)

    def encode_passages(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        on_progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed passages, normalised, float32, in the order given.

        Texts are sorted by length once and fed in groups of batches, so padding waste is as low
        as one big `encode` call while the progress bar still moves."""
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        group = batch_size * 8
        for lo in range(0, len(order), group):
            idx = order[lo : lo + group]
            batch = [self.prefixes.passage + texts[i] for i in idx]
            vecs = self.model.encode(
                batch,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[idx] = vecs
            if on_progress:
                on_progress(len(idx))
        return out

    def encode_query(self, question: str) -> np.ndarray:
        """One normalised query vector, shape (1, dim)."""
        vec = self.model.encode(
            [self.prefixes.query + question],
            batch_size=1,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vec.astype("float32", copy=False)
