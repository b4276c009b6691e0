"""`--staging` is a folder or s3://BUCKET/PREFIX (docs/runtime.md, "Parallel builds"); anything
else is refused naming the option, before a document is read or a file written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oozo_contract.index_settings import IndexSettings
from oozo_runtime.cli import app


@pytest.mark.parametrize(
    "staging", ["http://minio/bucket", "s3:///prefix", "s3://bucket/a//b", "s3://bucket/../b"]
)
def test_a_bad_staging_is_refused_naming_the_option(tmp_path: Path, staging: str) -> None:
    (tmp_path / "docs").mkdir()
    term = tmp_path / "termination-log"
    args = ["index", str(tmp_path / "docs"), "--out", str(tmp_path / "idx"), "--shard", "0/2"]
    out = CliRunner().invoke(app, [*args, "--staging", staging, "--termination-message-path", str(term)])
    assert out.exit_code == 2
    error = json.loads(term.read_text())
    assert error["reason"] == "InvalidSettings" and "--staging" in error["error"], error
    assert not (tmp_path / "idx").exists()


def test_a_staging_folder_or_s3_prefix_is_accepted() -> None:
    assert IndexSettings(staging_dir=Path("/data/staging")).resolved_staging_dir() == Path("/data/staging")
    assert IndexSettings(staging_dir="s3://bucket/oozo/staging").staging_is_s3()
    assert IndexSettings(index_dir=Path("/idx")).resolved_staging_dir() == Path("/idx/staging")


def test_the_staging_keys_replace_the_aws_environment_only_together() -> None:
    """OOZO_STAGING_S3_ACCESS_KEY_ID and _SECRET_ACCESS_KEY are the staging's own credentials
    (an s3:// model's may hold AWS_* in the same container); one without the other is refused."""
    from oozo_runtime.errors import OozoError
    from oozo_runtime.indexing.staging_s3 import s3_credentials

    both = IndexSettings(staging_s3_access_key_id="id", staging_s3_secret_access_key="secret")
    assert s3_credentials(both) == {"aws_access_key_id": "id", "aws_secret_access_key": "secret"}
    assert s3_credentials(IndexSettings()) is None
    with pytest.raises(OozoError, match="go together"):
        s3_credentials(IndexSettings(staging_s3_access_key_id="id"))
