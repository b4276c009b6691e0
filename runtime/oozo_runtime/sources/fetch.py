"""`oozo fetch`: what kind of source a URI names, and the fetcher that brings it.

    ./docs, /data/handbook            folder (absolute or relative path)
    s3://BUCKET/PREFIX                s3
    git+https://HOST/PATH.git@REF#SUB git (also git+http://, git+ssh://)
    https://host/a.pdf http://h/b.md  http (one or more URLs, separated by whitespace)

Every fetcher is `fetch_<kind>(uri, into, state_dir, **options) -> FetchResult`, imported only
when its kind is asked for, so a folder fetch never loads boto3 or httpx. Every fetch runs
under the state folder's lock (`sync.fetch_lock`): a second fetch of the same folder waits.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oozo_contract.fetch import FetchResult, SourceKind
from oozo_contract.settings import FetchSettings
from oozo_runtime.sources import sync
from oozo_runtime.sources.errors import SOURCE_INVALID, SourceError

GIT_SCHEMES = ("git+https://", "git+http://", "git+ssh://")
HTTP_SCHEMES = ("http://", "https://")

# kind -> "module:function". The git fetcher is its own module (oozo_runtime.sources.git), which
# a build may not have: its absence is a clear SourceInvalid, not an ImportError.
FETCHERS: dict[SourceKind, str] = {
    "folder": "oozo_runtime.sources.folder:fetch_folder",
    "s3": "oozo_runtime.sources.s3:fetch_s3",
    "git": "oozo_runtime.sources.git:fetch_git",
    "http": "oozo_runtime.sources.http:fetch_http",
}


def source_kind(source: str) -> tuple[SourceKind, list[str]]:
    """The kind of source `source` names, and its URI(s): several only for http."""
    uris = source.split()
    if not uris:
        raise SourceError(SOURCE_INVALID, "no source given")
    if all(uri.startswith(HTTP_SCHEMES) for uri in uris):
        return "http", uris
    if len(uris) > 1:
        raise SourceError(SOURCE_INVALID, "several sources are only possible as http(s):// URLs")
    uri = uris[0]
    if uri.startswith("s3://"):
        return "s3", uris
    if uri.startswith(GIT_SCHEMES):
        return "git", uris
    if "://" in uri or uri.startswith("git@"):
        scheme = uri.split("://", 1)[0] if "://" in uri else "git@"
        raise SourceError(
            SOURCE_INVALID,
            f"{scheme}:// sources are not supported: use a folder, s3://BUCKET/PREFIX, "
            "git+https://HOST/PATH.git@REF#SUBDIR or http(s):// URLs",
        )
    return "folder", [source.strip()]


def fetcher(kind: SourceKind) -> Callable[..., FetchResult]:
    module_name, _, function = FETCHERS[kind].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # a missing dependency of the fetcher: a broken install, keep the traceback
        raise SourceError(
            SOURCE_INVALID, f"{kind} sources need {module_name}, which this build lacks"
        ) from exc
    found: Callable[..., FetchResult] = getattr(module, function)
    return found


def fetch(settings: FetchSettings) -> FetchResult:
    """Fetch `settings.source` into `settings.into`; the body of `oozo fetch`."""
    kind, uris = source_kind(settings.source)
    state_dir = settings.resolved_state_dir()
    options: dict[str, Any] = {}
    if kind == "s3":
        options = {
            "endpoint": settings.s3_endpoint,
            "region": settings.s3_region,
            "path_style": settings.s3_path_style,
            "max_object_bytes": settings.max_object_bytes,
        }
    elif kind == "http":
        options = {
            "refuse_private": settings.http_refuse_private,
            "max_bytes": settings.max_object_bytes,
            "timeout": settings.http_timeout_seconds,
            "max_redirects": settings.http_max_redirects,
        }
    target: Any = uris if kind == "http" else uris[0]
    fetch_kind = fetcher(kind)
    if settings.result_file is not None:
        # A failed fetch must not leave the previous run's result for the index step to trust.
        settings.result_file.unlink(missing_ok=True)
    with sync.fetch_lock(state_dir, settings.lock_wait_seconds):
        fetched = fetch_kind(
            target, Path(settings.into), state_dir, unless_revision=settings.unless_revision, **options
        )
    if settings.result_file is not None:
        write_result(settings.result_file, fetched)
    return fetched


def write_result(path: Path, fetched: FetchResult) -> None:
    """Atomically (temp file + rename): the index step reads a whole result or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(fetched.model_dump_json(by_alias=True), encoding="utf-8")
    tmp.replace(path)
