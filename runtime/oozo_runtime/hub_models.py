"""Models named by a Hugging Face Hub id (`intfloat/multilingual-e5-large`), other than the
bundled default.

`oozo index` is the only step that talks to the hub (or a mirror: OOZO_HUB_ENDPOINT, else
HF_ENDPOINT; a gated model's token is HF_TOKEN in its environment, never a setting, never
logged). It asks the hub which commit the revision (OOZO_HUB_REVISION, default main) is at,
downloads that commit once into MODELS_ROOT/hub (the hub's own cache layout, on the corpus
volume) and records the commit in the manifest (embedding.modelRevision): a new upstream commit
rebuilds the index, and its vectors are cached apart.

Costs of a later build: a revision that is already a cached commit costs no request at all;
a branch or tag costs one small JSON request (GET /api/models/ID/revision/REV, the commit and
the file list) and no download when that commit is cached.

`oozo serve`/`oozo query` never go online: they load the snapshot of the commit the served
version records, and fail with ModelUnavailable when it is not in the cache.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from oozo_contract.defaults import is_hub_model_id
from oozo_contract.settings import EmbeddingSettings
from oozo_runtime.errors import OozoError

log = logging.getLogger(__name__)

MODEL_UNAVAILABLE = "ModelUnavailable"
HUB_DIR = "hub"  # under the models root
COMMIT = re.compile(r"^[0-9a-f]{40}$")
DEFAULT_REVISION = "main"
COMPLETE_DIR = "oozo-complete"  # beside the hub's blobs/refs/snapshots: commits fully downloaded
# Weights of other frameworks and exports a sentence-transformers model never reads; a repository
# with safetensors weights skips its pytorch_model.bin too (`_ignored`).
OTHER_FRAMEWORKS = [
    "*.h5",
    "*.ot",
    "*.msgpack",
    "*.onnx",
    "*.tflite",
    "*.mlmodel",
    "*.gguf",
    "flax_model*",
    "tf_model*",
    "rust_model*",
    "onnx/*",
    "openvino/*",
    "coreml/*",
]


def is_hub_model(model: str) -> bool:
    """A hub id such as `org/name`: not the bundled default, an s3:// URI or a folder path."""
    return is_hub_model_id(model) and not Path(model).is_dir()


def hub_cache(root: Path) -> Path:
    return root / HUB_DIR


def _repo_folder(root: Path, model: str) -> Path:
    return hub_cache(root) / ("models--" + model.replace("/", "--"))


def _complete_marker(root: Path, model: str, commit: str) -> Path:
    return _repo_folder(root, model) / COMPLETE_DIR / commit


def cached_hub_model(model: str, root: Path | None, commit: str) -> Path:
    """The files of `commit` in the model cache, offline; OozoError(ModelUnavailable) naming the
    model when `oozo index` has not downloaded them (all of them) there."""
    if root is not None and _complete_marker(root, model, commit).is_file():
        return _repo_folder(root, model) / "snapshots" / commit
    where = f"the model cache {root}" if root is not None else "a model cache (OOZO_MODEL_CACHE_DIR)"
    raise OozoError(
        MODEL_UNAVAILABLE,
        f"model {model} at commit {commit} is not in {where}: `oozo index` downloads it there first",
    )


def cached_commit(model: str, root: Path | None, revision: str | None) -> str | None:
    """The commit `revision` (default main) was at when `oozo index` last resolved it here."""
    revision = revision or DEFAULT_REVISION
    if COMMIT.match(revision):
        return revision
    if root is None:
        return None
    try:
        return (_repo_folder(root, model) / "refs" / revision).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def endpoint_of(settings: EmbeddingSettings) -> str:
    from huggingface_hub import constants

    return (settings.hub_endpoint or constants.ENDPOINT).rstrip("/")


def _shown(endpoint: str) -> str:
    """The endpoint as errors show it: scheme and host only (no user:password@, no path)."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def download_hub_model(settings: EmbeddingSettings, root: Path) -> tuple[Path, str]:
    """(snapshot folder, commit) of the settings' hub model, downloaded into `root`/hub unless
    that commit is there already. Raises OozoError(ModelUnavailable) naming the model (never the
    token) for an unknown repository or revision, a refused token, an unreachable hub, or a hub
    that may not be asked (HF_HUB_OFFLINE=1) for a revision not cached."""
    from huggingface_hub import constants

    model, revision = settings.model, settings.hub_revision or DEFAULT_REVISION
    if COMMIT.match(revision) and _complete_marker(root, model, revision).is_file():
        return cached_hub_model(model, root, revision), revision  # pinned and cached: no request
    if constants.is_offline_mode():
        commit = cached_commit(model, root, revision)
        if commit and _complete_marker(root, model, commit).is_file():
            return cached_hub_model(model, root, commit), commit
        raise OozoError(
            MODEL_UNAVAILABLE,
            f"model {model} (revision {revision}) is not in the model cache and HF_HUB_OFFLINE=1 "
            "forbids downloading it",
        )
    endpoint = endpoint_of(settings)
    try:
        return _download(model, revision, root, endpoint)
    except OozoError:
        raise
    except Exception as exc:
        raise OozoError(MODEL_UNAVAILABLE, _explain(model, revision, _shown(endpoint), exc)) from None


def _download(model: str, revision: str, root: Path, endpoint: str) -> tuple[Path, str]:
    from huggingface_hub import HfApi, snapshot_download

    info = HfApi(endpoint=endpoint).model_info(model, revision=revision)
    commit = str(info.sha)
    marker = _complete_marker(root, model, commit)
    if not marker.is_file():
        names = [s.rfilename for s in info.siblings or []]
        log.info("downloading model", extra={"model": model, "commit": commit, "endpoint": _shown(endpoint)})
        snapshot_download(
            model,
            revision=commit,
            cache_dir=str(hub_cache(root)),
            endpoint=endpoint,
            ignore_patterns=_ignored(names),
        )
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"revision": revision, "files": names}), encoding="utf-8")
    # snapshot_download by commit writes no ref: the server's `cached_commit` reads this one.
    ref = _repo_folder(root, model) / "refs" / revision
    if not COMMIT.match(revision):
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(commit, encoding="utf-8")
    return _repo_folder(root, model) / "snapshots" / commit, commit


def prune_hub_commits(root: Path, kept: set[tuple[str, str]]) -> list[str]:
    """Delete from the hub cache under `root` the commits no kept version records ((model id,
    commit) pairs), through huggingface_hub's own cache manager: a blob another kept commit
    shares stays, and a ref naming a deleted commit goes with it. A commit any kept version uses
    (under any model id: two mirrors of the same files can share a commit) is never deleted.
    Returns the deleted `model@commit`s."""
    cache = hub_cache(root)
    if not cache.is_dir():
        return []
    from huggingface_hub import scan_cache_dir

    kept_commits = {commit for _, commit in kept}
    scanned = scan_cache_dir(cache)
    stale = [
        (repo.repo_id, revision.commit_hash)
        for repo in scanned.repos
        if repo.repo_type == "model"
        for revision in repo.revisions
        if revision.commit_hash not in kept_commits
    ]
    if not stale:
        return []
    scanned.delete_revisions(*{commit for _, commit in stale}).execute()
    for model, commit in stale:
        _complete_marker(root, model, commit).unlink(missing_ok=True)
    return [f"{model}@{commit}" for model, commit in stale]


def _ignored(names: list[str]) -> list[str]:
    safetensors = any(n.endswith(".safetensors") for n in names)
    return [*OTHER_FRAMEWORKS, *(["*.bin", "*.pt"] if safetensors else [])]


def _explain(model: str, revision: str, endpoint: str, exc: BaseException) -> str:
    """A reason naming the model and the hub, from the exception's type and HTTP status alone:
    its text may quote request details, and is never copied."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    status = _status(exc)
    if isinstance(exc, GatedRepoError):
        return (
            f"model {model} at {endpoint} is gated (HTTP {status}): give a token with access "
            "(HF_TOKEN; spec.embedding.hub.tokenSecret)"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return (
            f"model {model} was not found at {endpoint} (HTTP {status}); if it is private, give a "
            "token with access (HF_TOKEN; spec.embedding.hub.tokenSecret)"
        )
    if isinstance(exc, RevisionNotFoundError):
        return f"model {model} has no revision {revision} at {endpoint}"
    if isinstance(exc, HfHubHTTPError) and status in (401, 403):
        return (
            f"model {model}: {endpoint} refused the token (HTTP {status}): check HF_TOKEN "
            "(spec.embedding.hub.tokenSecret)"
        )
    if isinstance(exc, HfHubHTTPError):
        return f"model {model}: {endpoint} answered HTTP {status}"
    return f"model {model}: the hub {endpoint} cannot be reached ({type(exc).__name__})"


def _status(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", "?")
