"""One or more `http(s)://` document URLs → files in a local folder, fetched conditionally.

Each URL is asked with If-None-Match / If-Modified-Since from the last fetch; a 304 costs one
round trip and no bytes. Every URL is bounded: its size (the Content-Length is checked first,
then the body is counted while it streams and dropped past the cap), its total time (redirects
included) and its redirects. Connection targets are checked where the connection is made
(`netguard`): link-local always refused, private ranges on request. Headers (e.g. an
Authorization token) come from OOZO_HTTP_HEADERS_FILE and are only sent to the URL's own origin,
never to another host a redirect leads to.

A failing URL among several is skipped with its reason and counted. A 404/410, a refused
address or an oversized body also removes its previous copy; a timeout or a server error keeps
it (the document did not change, the server was just unwell). When every URL fails, the fetch
fails and `into` stays as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from oozo_contract import defaults as d
from oozo_contract.fetch import FetchResult, SkippedObject
from oozo_runtime.sources import sync
from oozo_runtime.sources.errors import (
    SOURCE_AUTH_FAILED,
    SOURCE_INVALID,
    SOURCE_NOT_FOUND,
    SOURCE_REFUSED,
    SOURCE_UNREACHABLE,
    SourceError,
)
from oozo_runtime.sources.netguard import AddressRefused, GuardedTransport

HEADERS_FILE_ENV = "OOZO_HTTP_HEADERS_FILE"
REDIRECTS = (301, 302, 303, 307, 308)
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.-]")


def redact_url(url: str) -> str:
    """scheme://host[:port]/path: no userinfo, no query, no fragment (they may hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def read_headers_file(path: str | None) -> dict[str, str]:
    """`Name: value` lines (blank lines and # comments ignored). A bad line is named by its
    number only: the file holds secrets."""
    if not path:
        return {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SourceError(SOURCE_INVALID, f"cannot read {HEADERS_FILE_ENV} {path}: {exc.strerror}") from exc
    headers: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition(":")
        if not sep or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name.strip()):
            raise SourceError(
                SOURCE_INVALID, f"{HEADERS_FILE_ENV} line {number} is not a 'Name: value' header"
            )
        headers[name.strip()] = value.strip()
    return headers


def file_names(urls: list[str]) -> dict[str, str]:
    """The file each URL is saved as: its last path segment made safe (extension kept, so the
    indexer's include globs match). Names shared by several URLs get a short digest of the URL
    before the extension, so the same set of URLs always gives the same names."""
    base: dict[str, str] = {}
    for url in urls:
        segment = unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])
        name = _UNSAFE_NAME_CHARS.sub("_", segment).lstrip(".") or "index.html"
        base[url] = name
    by_name: dict[str, list[str]] = defaultdict(list)
    for url, name in base.items():
        by_name[name.lower()].append(url)
    names: dict[str, str] = {}
    for url, name in base.items():
        if len(by_name[name.lower()]) > 1:
            stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
            name = f"{stem}-{hashlib.sha256(url.encode()).hexdigest()[:8]}{dot}{ext}"
        names[url] = name
    return names


@dataclass
class _Failure(Exception):
    reason: str
    message: str
    keep_previous: bool = False  # a transient failure: the document is probably unchanged


@dataclass
class _Limits:
    max_bytes: int
    timeout: float
    max_redirects: int
    headers: dict[str, str] = field(default_factory=dict)


def fetch_http(
    urls: list[str],
    into: Path,
    state_dir: Path,
    *,
    refuse_private: bool = False,
    max_bytes: int = d.FETCH_MAX_OBJECT_BYTES,
    timeout: float = d.HTTP_TIMEOUT_SECONDS,
    max_redirects: int = d.HTTP_MAX_REDIRECTS,
    unless_revision: str | None = None,
) -> FetchResult:
    urls = list(dict.fromkeys(urls))
    if not urls:
        raise SourceError(SOURCE_INVALID, "no URL given")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(SOURCE_INVALID, f"{redact_url(url)!r} is not an http(s):// URL with a host")
    sync.check_into(into, state_dir)
    limits = _Limits(max_bytes, timeout, max_redirects, read_headers_file(os.environ.get(HEADERS_FILE_ENV)))
    names = file_names(urls)
    state, written = sync.load_state(state_dir, "http")
    previous: dict[str, dict[str, str]] = state.get("urls", {})

    records: dict[str, dict[str, str]] = {}
    skipped: list[SkippedObject] = []
    failures: list[_Failure] = []
    fetched = unchanged = 0
    with (
        sync.staging(into) as stage,
        httpx.Client(transport=GuardedTransport(refuse_private=refuse_private), trust_env=False) as client,
    ):
        for url in urls:
            name = names[url]
            old = previous.get(url, {})
            have = old if old.get("file") == name and (into / name).is_file() else {}
            try:
                record = _fetch_one(client, url, have, stage.path(name), limits)
            except _Failure as failure:
                failures.append(failure)
                skipped.append(
                    SkippedObject(name=redact_url(url), reason=f"{failure.reason}: {failure.message}")
                )
                if failure.keep_previous and have:
                    records[url] = have
                continue
            if record is None:  # 304, or the same bytes again: the file in `into` stays
                records[url] = have
                unchanged += 1
                continue
            records[url] = {**record, "file": name}
            stage.add(name)
            fetched += 1
        if len(failures) == len(urls):
            first = failures[0]
            raise SourceError(first.reason, f"every URL failed; {redact_url(urls[0])}: {first.message}")
        kept = {rec["file"] for rec in records.values()}
        removed = sorted(written - kept)
        revision = _revision(urls, records)
        if unless_revision is not None and revision == unless_revision and not stage.staged and not removed:
            # A 304 (or the same validators) everywhere: nothing to move, no state to rewrite.
            return sync.unchanged_result("http", unless_revision)
        stage.commit(removed)
    sync.save_state(state_dir, "http", {"urls": records}, kept)
    return sync.result(
        "http",
        revision,
        fetched=fetched,
        unchanged=unchanged,
        removed=len(removed),
        skipped=skipped,
    )


def _revision(urls: list[str], records: dict[str, dict[str, str]]) -> str:
    pairs = [
        (url, rec.get("etag") or rec.get("last_modified") or rec["sha256"]) for url, rec in records.items()
    ]
    pairs += [(url, "skipped") for url in urls if url not in records]
    return sync.digest(pairs)


def _fetch_one(
    client: httpx.Client, url: str, have: dict[str, str], target: Path, limits: _Limits
) -> dict[str, str] | None:
    """GET `url` into `target`, following at most `max_redirects` redirects, within `timeout`.
    Returns the new validators, or None when the copy we have is still current."""
    deadline = time.monotonic() + limits.timeout
    origin = _origin(url)
    conditional = {}
    if have.get("etag"):
        conditional["If-None-Match"] = have["etag"]
    if have.get("last_modified"):
        conditional["If-Modified-Since"] = have["last_modified"]
    current = url
    for _hop in range(limits.max_redirects + 1):
        headers = {**(limits.headers if _origin(current) == origin else {}), **conditional}
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Failure(SOURCE_UNREACHABLE, f"took longer than {limits.timeout:g} s", keep_previous=True)
        try:
            with client.stream("GET", current, headers=headers, timeout=remaining) as response:
                if response.status_code in REDIRECTS and "location" in response.headers:
                    current = str(response.url.join(response.headers["location"]))
                    if urlsplit(current).scheme not in ("http", "https"):
                        raise _Failure(SOURCE_REFUSED, f"redirect to a non-HTTP URL {redact_url(current)}")
                    continue
                return _receive(response, have, target, limits, deadline)
        except AddressRefused as exc:
            raise _Failure(SOURCE_REFUSED, str(exc)) from exc
        except httpx.TimeoutException as exc:
            raise _Failure(
                SOURCE_UNREACHABLE, f"took longer than {limits.timeout:g} s", keep_previous=True
            ) from exc
        except httpx.HTTPError as exc:
            raise _Failure(SOURCE_UNREACHABLE, f"{type(exc).__name__}: {exc}", keep_previous=True) from exc
    raise _Failure(SOURCE_REFUSED, f"more than {limits.max_redirects} redirects")


def _receive(
    response: httpx.Response, have: dict[str, str], target: Path, limits: _Limits, deadline: float
) -> dict[str, str] | None:
    status = response.status_code
    if status == 304 and have:
        return None
    if status in (401, 403):
        raise _Failure(SOURCE_AUTH_FAILED, f"HTTP {status} (check {HEADERS_FILE_ENV})")
    if status in (404, 410):
        raise _Failure(SOURCE_NOT_FOUND, f"HTTP {status}")
    if status != 200:
        raise _Failure(SOURCE_UNREACHABLE, f"HTTP {status}", keep_previous=True)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _Failure(SOURCE_REFUSED, f"{declared} bytes, over the {limits.max_bytes}-byte cap")
    sha, size = hashlib.sha256(), 0
    with target.open("wb") as out:
        for block in response.iter_bytes():
            size += len(block)
            if size > limits.max_bytes:  # a server that sends more than it said, or said nothing
                raise _Failure(SOURCE_REFUSED, f"more than {limits.max_bytes} bytes, over the cap")
            if time.monotonic() > deadline:
                raise _Failure(
                    SOURCE_UNREACHABLE, f"took longer than {limits.timeout:g} s", keep_previous=True
                )
            sha.update(block)
            out.write(block)
    record = {"sha256": sha.hexdigest()}
    for header, key in (("etag", "etag"), ("last-modified", "last_modified")):
        if response.headers.get(header):
            record[key] = response.headers[header]
    if have and have.get("sha256") == record["sha256"]:
        target.unlink()
        have.update(record)  # same bytes: keep the file untouched, remember the new validators
        return None
    return record


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (
        parts.scheme,
        (parts.hostname or "").lower(),
        parts.port or (443 if parts.scheme == "https" else 80),
    )
