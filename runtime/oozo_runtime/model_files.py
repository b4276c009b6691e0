"""Where a local embedding model's files are on disk, found without importing torch: the bundled
default model, a folder path, or a Hugging Face Hub id already in (or fetched into) the hub cache.
The chunker reads the model's tokenizer from here before the model itself is loaded."""

from __future__ import annotations

from pathlib import Path

from oozo_contract.settings import EmbeddingSettings
from oozo_runtime.errors import OozoError

MODEL_UNAVAILABLE = "ModelUnavailable"


def local_model_folder(settings: EmbeddingSettings, wanted: list[str]) -> Path | None:
    """The folder holding the settings' local model (at least the `wanted` files when it comes
    from the hub); None for a remote provider. Raises OozoError(ModelUnavailable) naming the
    model when it cannot be found (offline and not cached, a wrong path)."""
    from oozo_runtime.embedding import resolve_model_path

    if settings.embedding_provider != "local":
        return None
    path = Path(resolve_model_path(settings.model))
    if path.is_dir():
        return path
    if path.is_absolute() or settings.model.startswith((".", "~")):
        raise OozoError(MODEL_UNAVAILABLE, f"model folder {settings.model} does not exist")
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(
            settings.model,
            cache_dir=str(settings.model_cache_dir) if settings.model_cache_dir else None,
            allow_patterns=wanted,
        )
    except Exception as exc:  # offline and not cached, no such repository, a network error
        raise OozoError(
            MODEL_UNAVAILABLE, f"model {settings.model!r} is not available: {type(exc).__name__}: {exc}"
        ) from exc
    return Path(folder)
