"""Staging under `s3://BUCKET/PREFIX` (staging.py has the promises): data objects first, a
completion marker with their sha256 last, a conditional put for the merge claim, and deletes of
only the objects the shard layout names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oozo_contract.index_settings import IndexSettings
from oozo_runtime import s3client
from oozo_runtime.errors import OozoError
from oozo_runtime.indexing.staging_layout import (
    BUILD_NAME,
    MARKER,
    MERGE_CLAIM,
    SHARD_FILES,
    SHARD_NAME,
    STAGING_UNAVAILABLE,
    ShardMissing,
    sha256,
)


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
                    checksums[name] = sha256(folder / name)
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
                if sha256(folder / name) != marker.get("sha256", {}).get(name):
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


def open_s3_staging(settings: IndexSettings, endpoint: str | None, region: str | None) -> S3Staging:
    """The endpoint and region of OOZO_STAGING_S3_*, else those given (`--s3-endpoint`), else the
    AWS environment."""
    assert settings.staging_dir is not None
    bucket, _, prefix = settings.staging_dir[len("s3://") :].partition("/")
    prefix = prefix.strip("/")
    endpoint = settings.staging_s3_endpoint or endpoint
    region = settings.staging_s3_region or region
    options = s3client.client_options(endpoint, path_style=bool(endpoint))
    client = s3client.new_client(endpoint, region, options, s3_credentials(settings))
    return S3Staging(bucket, f"{prefix}/" if prefix else "", client, endpoint)


def s3_credentials(settings: IndexSettings) -> dict[str, str] | None:
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
