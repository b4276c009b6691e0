"""`s3://BUCKET/PREFIX` → a local folder: list, download only what changed, remove what is gone.

The listing is the source of truth: an object whose ETag equals the one recorded at the last
fetch (and whose file is still in `into`) is not downloaded again. The revision is a digest of
the sorted (key, ETag) pairs, so an unchanged bucket gives the same revision without a single
GET. Credentials come from boto3's default chain (the standard AWS environment, a shared
credentials file or a workload identity); messages name the bucket and key, never them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oozo_contract import defaults as d
from oozo_contract.fetch import FetchResult, SkippedObject
from oozo_runtime import s3client
from oozo_runtime.sources import sync
from oozo_runtime.sources.errors import (
    SOURCE_AUTH_FAILED,
    SOURCE_INVALID,
    SOURCE_NOT_FOUND,
    SOURCE_UNREACHABLE,
    SourceError,
)

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
DOWNLOAD_THREADS = 8  # small documents: the round trip, not the bandwidth, is what costs


@dataclass(frozen=True)
class S3Source:
    bucket: str
    prefix: str  # "" or ending with "/": what is listed and stripped from each key

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_s3_uri(uri: str) -> S3Source:
    if not uri.startswith("s3://"):
        raise SourceError(SOURCE_INVALID, f"{uri!r} is not an s3://BUCKET/PREFIX URI")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not _BUCKET.match(bucket):
        raise SourceError(SOURCE_INVALID, f"{bucket!r} is not a valid S3 bucket name")
    prefix = prefix.strip("/")
    if prefix and sync.safe_relative(prefix) is None:
        raise SourceError(
            SOURCE_INVALID, f"s3://{bucket}/{prefix}: the prefix has an empty, '.' or '..' part"
        )
    return S3Source(bucket, prefix + "/" if prefix else "")


def fetch_s3(
    uri: str,
    into: Path,
    state_dir: Path,
    *,
    endpoint: str | None = None,
    region: str | None = None,
    path_style: bool = False,
    max_object_bytes: int = d.FETCH_MAX_OBJECT_BYTES,
    unless_revision: str | None = None,
) -> FetchResult:
    source = parse_s3_uri(uri)
    sync.check_into(into, state_dir)
    client = s3client.new_client(endpoint, region, s3client.client_options(endpoint, path_style=path_style))
    where = s3client.redact_endpoint(endpoint) or "the configured S3 endpoint"

    with _s3_errors(f"listing {source}", source, where):
        listing = _list(client, source)
    if unless_revision is not None and _revision(listing, {}, source) == unless_revision:
        return sync.unchanged_result("s3", unless_revision)  # the listing says it all: no GET
    wanted, skipped = _select(listing, source, max_object_bytes)

    previous: dict[str, str] = {}
    state, written = sync.load_state(state_dir, "s3")
    if state.get("source") == str(source):
        previous = dict(state.get("etags", {}))
    changed = [
        rel for rel, obj in wanted.items() if previous.get(rel) != obj.etag or not (into / rel).is_file()
    ]
    removed = sorted(written - wanted.keys())

    etags = {rel: obj.etag for rel, obj in wanted.items()}
    with sync.staging(into) as stage:
        with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
            for rel, etag in zip(
                changed,
                pool.map(lambda r: _download(client, source, wanted[r], stage, where), changed),
                strict=True,
            ):
                etags[rel] = etag  # the ETag of the bytes we got, in case it changed since listing
                stage.add(rel)
        stage.commit(removed)
    sync.save_state(state_dir, "s3", {"source": str(source), "etags": etags}, etags)

    # The revision covers every listed document object, skipped ones included: an oversized
    # object that changes is still a change of the source.
    return sync.result(
        "s3",
        _revision(listing, etags, source),
        fetched=len(changed),
        unchanged=len(wanted) - len(changed),
        removed=len(removed),
        skipped=skipped,
    )


def _revision(listing: list[_Object], etags: dict[str, str], source: S3Source) -> str:
    """The digest of (key, ETag) over the listing; `etags` (by relative path) are those of the
    bytes actually downloaded, which win over the listing's."""
    pairs = [(obj.key, obj.etag) for obj in listing if not obj.key.endswith("/")]
    return sync.digest((key, etags.get(key[len(source.prefix) :], etag)) for key, etag in pairs)


@dataclass(frozen=True)
class _Object:
    key: str
    etag: str
    size: int


def _list(client: Any, source: S3Source) -> list[_Object]:
    paginator = client.get_paginator("list_objects_v2")
    objects: list[_Object] = []
    for page in paginator.paginate(Bucket=source.bucket, Prefix=source.prefix):
        for item in page.get("Contents", []):
            objects.append(
                _Object(item["Key"], str(item.get("ETag", "")).strip('"'), int(item.get("Size", 0)))
            )
    return objects


def _select(
    listing: list[_Object], source: S3Source, cap: int
) -> tuple[dict[str, _Object], list[SkippedObject]]:
    """The objects that become files in `into`, by relative path, and the skipped ones."""
    wanted: dict[str, _Object] = {}
    skipped: list[SkippedObject] = []
    for obj in listing:
        name = obj.key[len(source.prefix) :]
        if obj.key.endswith("/"):
            continue  # a "folder" placeholder the console creates: no document
        rel = sync.safe_relative(name)
        if rel is None:
            skipped.append(SkippedObject(name=obj.key, reason="key would leave the target folder"))
        elif obj.size > cap:
            skipped.append(SkippedObject(name=obj.key, reason=f"{obj.size} bytes, over the {cap}-byte cap"))
        else:
            wanted[rel] = obj
    for rel in sorted(sync.folder_conflicts(wanted)):
        skipped.append(SkippedObject(name=wanted.pop(rel).key, reason="also a folder of other keys"))
    return wanted, skipped


def _download(client: Any, source: S3Source, obj: _Object, stage: sync.Staging, where: str) -> str:
    """Write one object into the staging folder; returns the ETag of what was written."""
    rel = obj.key[len(source.prefix) :]
    with _s3_errors(f"downloading s3://{source.bucket}/{obj.key}", source, where):
        response = client.get_object(Bucket=source.bucket, Key=obj.key)
        body = response["Body"]
        with contextlib.closing(body), stage.path(rel).open("wb") as out:
            for block in iter(lambda: body.read(1024 * 1024), b""):
                out.write(block)
    return str(response.get("ETag", obj.etag)).strip('"')


@contextlib.contextmanager
def _s3_errors(what: str, source: S3Source, where: str) -> Iterator[None]:
    """botocore's exceptions as SourceErrors naming the bucket and key, never a credential."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise SourceError(
            SOURCE_AUTH_FAILED,
            f"{what}: no S3 credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "AWS_SHARED_CREDENTIALS_FILE or a workload identity)",
        ) from exc
    except (BotoCoreError, ClientError, Boto3Error) as exc:
        raise _translate(exc, what, source, where) from exc


def _translate(exc: BaseException, what: str, source: S3Source, where: str) -> SourceError:
    if s3client.is_connection_error(exc):
        return SourceError(SOURCE_UNREACHABLE, f"{what}: cannot reach S3 at {where}")
    code = s3client.error_code(exc)
    if code in s3client.CREDENTIAL_CODES:
        return SourceError(SOURCE_AUTH_FAILED, f"{what}: S3 at {where} rejected the credentials ({code})")
    if code in s3client.ACCESS_DENIED_CODES:
        return SourceError(SOURCE_AUTH_FAILED, f"{what}: access denied to bucket {source.bucket!r}")
    if code == "NoSuchBucket":
        return SourceError(SOURCE_NOT_FOUND, f"{what}: bucket {source.bucket!r} does not exist at {where}")
    if code in s3client.NOT_FOUND_CODES:
        return SourceError(SOURCE_NOT_FOUND, f"{what}: the object disappeared while fetching; fetch again")
    return SourceError(SOURCE_UNREACHABLE, f"{what}: S3 error {code or type(exc).__name__} at {where}")
