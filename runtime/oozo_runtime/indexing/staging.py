"""Where the shards of a parallel build leave their results for the merge: a folder (one machine,
or a volume every shard pod mounts) or an `s3://BUCKET/PREFIX` (any number of nodes).

Both keep one build's shards under `<build>/shard-K/` (indexing/shards.py names the files) and
give the same promises:
- a shard is staged whole or not at all: a folder appears by an atomic rename; on S3 the data
  objects are uploaded first and a small completion marker (`complete.json`, recording each
  object's sha256) last, and a reader trusts only a shard whose marker exists and whose objects
  match it;
- one claimant wins the merge: an O_EXCL create of `<build>/merge-claim`, on S3 a conditional
  put (`If-None-Match: *`) of the same key;
- removal deletes only what Oozo wrote: the shard layout's files of a build (named, never a
  listing taken on trust), so a foreign file under the staging area survives.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oozo_contract.settings import IndexSettings
from oozo_runtime import s3client
from oozo_runtime.errors import OozoError

RESULT_FILE = "shard.json"
DOCUMENTS_FILE = "documents.json"
CHUNKS_FILE = "chunks.jsonl"
VECTORS_FILE = "vectors.npy"
INPUTS_FILE = "inputs.json"  # the build's inputs but the files: what the merge must match
SHARD_FILES = (CHUNKS_FILE, VECTORS_FILE, DOCUMENTS_FILE, INPUTS_FILE, RESULT_FILE)  # marker last
MARKER = "complete.json"  # S3 only: written after every data object of the shard
MERGE_CLAIM = "merge-claim"
TMP_PREFIX = ".tmp-"
BUILD_NAME = re.compile(r"^[0-9a-f]{64}$")  # a build key (shards.build_key): a sha256
SHARD_NAME = re.compile(r"^shard-(\d+)$")
STAGING_UNAVAILABLE = "StagingUnavailable"


class ShardMissing(OozoError):
    """The merge found no (complete, intact) result of some shard."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class FolderStaging:
    """Staging in a folder: STAGING/<build>/shard-K/ appears by an atomic rename."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __str__(self) -> str:
        return str(self.root)

    def where(self, key: str, shard: int | None = None) -> str:
        folder = self.root / key
        return str(folder / f"shard-{shard}" if shard is not None else folder)

    def has_shard(self, key: str, shard: int) -> bool:
        return (self.root / key / f"shard-{shard}" / RESULT_FILE).is_file()

    def read_file(self, key: str, shard: int, name: str) -> bytes | None:
        """One file of a staged shard, None when the shard is not staged."""
        if not self.has_shard(key, shard):
            return None
        return (self.root / key / f"shard-{shard}" / name).read_bytes()

    @contextmanager
    def writing(self, key: str, shard: int) -> Iterator[Path]:
        """A folder to write shard `shard`'s files into; staged when the block ends without error."""
        target = self.root / key / f"shard-{shard}"
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.glob(f"{TMP_PREFIX}{target.name}-*"):  # this shard's killed tries
            shutil.rmtree(stale, ignore_errors=True)
        tmp = target.parent / f"{TMP_PREFIX}{target.name}-{os.urandom(4).hex()}"
        tmp.mkdir()
        try:
            yield tmp
            for path in tmp.iterdir():
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
            os.rename(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not self.has_shard(key, shard):  # not a twin pod's rename that won the race
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @contextmanager
    def reading(self, key: str, shard: int) -> Iterator[Path]:
        """The folder of a staged shard, as the merge reads it."""
        folder = self.root / key / f"shard-{shard}"
        if not self.has_shard(key, shard):
            raise ShardMissing("ShardMissing", f"no result in {folder}")
        yield folder

    def claim_merge(self, key: str, claimant: str) -> bool:
        claim = self.root / key / MERGE_CLAIM
        try:
            fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return claim.read_text(encoding="utf-8").strip() == claimant
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(claimant)
        return True

    def builds(self) -> dict[str, tuple[list[int], float]]:
        """Every build staged here: its staged shards and when its newest file was written."""
        out: dict[str, tuple[list[int], float]] = {}
        if not self.root.is_dir():
            return out
        for build in self.root.iterdir():
            if not (build.is_dir() and BUILD_NAME.match(build.name)):
                continue
            shards, newest = [], build.stat().st_mtime
            for entry in build.iterdir():
                newest = max(newest, entry.stat().st_mtime)
                match = SHARD_NAME.match(entry.name)
                if match and (entry / RESULT_FILE).is_file():
                    shards.append(int(match.group(1)))
            out[build.name] = (sorted(shards), newest)
        return out

    def remove_build(self, key: str) -> None:
        """Delete the files of the shard layout and the claim, then the folders they leave empty:
        anything else put there by someone else stays (and so does its folder)."""
        build = self.root / key
        if not build.is_dir():
            return
        for entry in build.iterdir():
            name = entry.name
            if SHARD_NAME.match(name) or (name.startswith(f"{TMP_PREFIX}shard-") and entry.is_dir()):
                for file in SHARD_FILES:
                    (entry / file).unlink(missing_ok=True)
                _rmdir_if_empty(entry)
        (build / MERGE_CLAIM).unlink(missing_ok=True)
        _rmdir_if_empty(build)


def _rmdir_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty: something Oozo did not write is there
        folder.rmdir()


@dataclass(frozen=True)
class S3Staging:
    """Staging under s3://BUCKET/PREFIX: PREFIX/<build>/shard-K/<file> and its marker."""

    bucket: str
    prefix: str  # "" or ending with "/"
    client: Any
    endpoint: str | None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def where(self, key: str, shard: int | None = None) -> str:
        return f"{self}{key}/" + (f"shard-{shard}/" if shard is not None else "")

    def _key(self, key: str, shard: int, name: str) -> str:
        return f"{self.prefix}{key}/shard-{shard}/{name}"

    def _marker(self, key: str, shard: int) -> dict[str, Any] | None:
        body = self._get(self._key(key, shard, MARKER))
        return json.loads(body) if body is not None else None

    def _get(self, object_key: str) -> bytes | None:
        with self._errors("read the staging area"):
            try:
                return bytes(self.client.get_object(Bucket=self.bucket, Key=object_key)["Body"].read())
            except Exception as exc:
                if s3client.error_code(exc) in s3client.NOT_FOUND_CODES:
                    return None
                raise

    def has_shard(self, key: str, shard: int) -> bool:
        return self._marker(key, shard) is not None

    def read_file(self, key: str, shard: int, name: str) -> bytes | None:
        if not self.has_shard(key, shard):
            return None
        return self._get(self._key(key, shard, name))

    @contextmanager
    def writing(self, key: str, shard: int) -> Iterator[Path]:
        """A local folder for the shard's files; on success they are uploaded, then the marker
        with their sha256, so a killed upload leaves a shard without a marker: not staged."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="oozo-shard-") as tmp:
            folder = Path(tmp)
            yield folder
            checksums = {}
            with self._errors(f"stage shard {shard}"):
                for name in SHARD_FILES:
                    checksums[name] = _sha256(folder / name)
                    self.client.upload_file(str(folder / name), self.bucket, self._key(key, shard, name))
                marker = {"writer": "oozo", "shard": shard, "sha256": checksums}
                self.client.put_object(
                    Bucket=self.bucket, Key=self._key(key, shard, MARKER), Body=json.dumps(marker).encode()
                )

    @contextmanager
    def reading(self, key: str, shard: int) -> Iterator[Path]:
        """The shard's objects downloaded into a scratch folder and checked against the marker."""
        import tempfile

        marker = self._marker(key, shard)
        if marker is None:
            raise ShardMissing("ShardMissing", f"no completion marker at {self.where(key, shard)}{MARKER}")
        with tempfile.TemporaryDirectory(prefix="oozo-merge-") as tmp:
            folder = Path(tmp)
            for name in SHARD_FILES:
                with self._errors(f"read shard {shard}"):
                    try:
                        self.client.download_file(
                            self.bucket, self._key(key, shard, name), str(folder / name)
                        )
                    except Exception as exc:
                        if s3client.error_code(exc) not in s3client.NOT_FOUND_CODES:
                            raise
                        raise ShardMissing(
                            "ShardMissing",
                            f"{self.where(key, shard)}{name} is gone though the marker lists it",
                        ) from exc
                if _sha256(folder / name) != marker.get("sha256", {}).get(name):
                    raise ShardMissing(
                        "ShardMissing", f"{self.where(key, shard)}{name} does not match its marker's sha256"
                    )
            yield folder

    def claim_merge(self, key: str, claimant: str) -> bool:
        """A conditional put: S3 (and MinIO) create the claim only if no object has its key."""
        object_key = f"{self.prefix}{key}/{MERGE_CLAIM}"
        with self._errors("claim the merge"):
            try:
                self.client.put_object(
                    Bucket=self.bucket, Key=object_key, Body=claimant.encode(), IfNoneMatch="*"
                )
                return True
            except Exception as exc:
                # 412: the claim exists; 409: a concurrent conditional put on the same key is in flight
                if s3client.error_code(exc) not in (
                    "PreconditionFailed",
                    "412",
                    "ConditionalRequestConflict",
                ):
                    raise
        held = self._get(object_key)
        return held is not None and held.decode("utf-8", "replace").strip() == claimant

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        with self._errors("list the staging area"):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                yield from page.get("Contents", [])

    def builds(self) -> dict[str, tuple[list[int], float]]:
        found: dict[str, tuple[list[int], float]] = {}
        for obj in self._list(self.prefix):
            parts = obj["Key"][len(self.prefix) :].split("/")
            if not BUILD_NAME.match(parts[0]):
                continue
            shards, newest = found.get(parts[0], ([], 0.0))
            newest = max(newest, obj["LastModified"].timestamp())
            match = SHARD_NAME.match(parts[1]) if len(parts) == 3 else None
            if match and parts[2] == MARKER:
                shards = sorted([*shards, int(match.group(1))])
            found[parts[0]] = (shards, newest)
        return found

    def remove_build(self, key: str) -> None:
        """Delete the listed objects of this build that have the shard layout's names (and the
        claim); anything else under PREFIX/<build>/ is not Oozo's and stays."""
        ours = []
        for obj in self._list(f"{self.prefix}{key}/"):
            parts = obj["Key"][len(self.prefix) + len(key) + 1 :].split("/")
            if parts == [MERGE_CLAIM] or (
                len(parts) == 2 and SHARD_NAME.match(parts[0]) and parts[1] in (*SHARD_FILES, MARKER)
            ):
                ours.append(obj["Key"])
        ours.sort(key=lambda k: k.endswith(MARKER), reverse=True)  # markers first: no half shard is trusted
        self._delete(ours, "remove staged shards")

    def read_object(self, name: str) -> bytes | None:
        """PREFIX/`name`, None when there is none (the shards' embedding packs: shard_cache.py)."""
        return self._get(f"{self.prefix}{name}")

    def write_object(self, name: str, path: Path) -> None:
        with self._errors(f"write {name}"):
            self.client.upload_file(str(path), self.bucket, f"{self.prefix}{name}")

    def names_under(self, folder: str) -> list[str]:
        """The objects under PREFIX/`folder`/, as names relative to PREFIX."""
        return [obj["Key"][len(self.prefix) :] for obj in self._list(f"{self.prefix}{folder}/")]

    def remove_objects(self, names: list[str], what: str) -> None:
        self._delete([f"{self.prefix}{name}" for name in names], what)

    def _delete(self, ours: list[str], what: str) -> None:
        with self._errors(what):
            for start in range(0, len(ours), 1000):
                batch = [{"Key": k} for k in ours[start : start + 1000]]
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
                if response.get("Errors"):  # a partial failure: say so; what is left stays safe to retry
                    first = response["Errors"][0]
                    raise OozoError(
                        STAGING_UNAVAILABLE,
                        f"{what}: deleting {first.get('Key')!r} failed: {first.get('Code')}",
                    )

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """botocore's failures as one line naming the staging area, never a credential."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            yield
        except NoCredentialsError as exc:
            raise OozoError(
                STAGING_UNAVAILABLE,
                f"{what}: no S3 credentials for {self} (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                "AWS_SHARED_CREDENTIALS_FILE or a workload identity)",
            ) from exc
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            if s3client.error_code(exc) in s3client.NOT_FOUND_CODES:
                raise
            where = s3client.redact_endpoint(self.endpoint) or "the AWS default endpoint"
            if s3client.is_connection_error(exc):
                raise OozoError(STAGING_UNAVAILABLE, f"{what}: cannot reach S3 at {where}") from exc
            code = s3client.error_code(exc) or type(exc).__name__
            raise OozoError(STAGING_UNAVAILABLE, f"{what}: {self} at {where}: S3 error {code}") from exc


Staging = FolderStaging | S3Staging


def open_staging(settings: IndexSettings, endpoint: str | None = None, region: str | None = None) -> Staging:
    """The staging area `settings` name. An s3:// one: the endpoint and region of
    OOZO_STAGING_S3_*, else those given (`--s3-endpoint`), else the AWS environment."""
    if not settings.staging_is_s3():
        return FolderStaging(settings.resolved_staging_dir())
    assert settings.staging_dir is not None
    bucket, _, prefix = settings.staging_dir[len("s3://") :].partition("/")
    prefix = prefix.strip("/")
    endpoint = settings.staging_s3_endpoint or endpoint
    region = settings.staging_s3_region or region
    options = s3client.client_options(endpoint, path_style=bool(endpoint))
    client = s3client.new_client(endpoint, region, options, _credentials(settings))
    return S3Staging(bucket, f"{prefix}/" if prefix else "", client, endpoint)


def _credentials(settings: IndexSettings) -> dict[str, str] | None:
    """The staging area's own keys (OOZO_STAGING_S3_*), or None for the AWS environment's. An
    access key without its secret is refused rather than silently mixed with the environment's."""
    key, secret = settings.staging_s3_access_key_id, settings.staging_s3_secret_access_key
    if key is None and secret is None:
        return None
    if key is None or secret is None:
        raise OozoError(
            "InvalidSettings",
            "OOZO_STAGING_S3_ACCESS_KEY_ID and OOZO_STAGING_S3_SECRET_ACCESS_KEY go together",
        )
    token = settings.staging_s3_session_token
    return {
        "aws_access_key_id": key.get_secret_value(),
        "aws_secret_access_key": secret.get_secret_value(),
        **({"aws_session_token": token.get_secret_value()} if token else {}),
    }


def remove_expired(staging: Staging, keep: str, retention_hours: float) -> list[str]:
    """Remove the staging of builds other than `keep` whose newest file is older than the
    retention: builds abandoned when their source changed before the merge."""
    cutoff = time.time() - retention_hours * 3600
    removed = []
    for key, (_, newest) in staging.builds().items():
        if key != keep and newest < cutoff:
            staging.remove_build(key)
            removed.append(key)
    return sorted(removed)
