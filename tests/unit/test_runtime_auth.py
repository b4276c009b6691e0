"""API keys: constant-time comparison against every accepted key, from env and a Secret file
that is re-read when it changes."""

from __future__ import annotations

import os
import time
from pathlib import Path

from oozo_runtime.server.auth import KeyStore, bearer_token


def test_accepts_only_configured_keys() -> None:
    keys = KeyStore(["alpha-key", "beta-key"])
    assert keys.check("alpha-key") and keys.check("beta-key")
    assert not keys.check("alpha-ke")
    assert not keys.check("alpha-key ")
    assert not keys.check("")
    assert not keys.check(None)


def test_no_keys_accepts_nothing() -> None:
    assert not KeyStore([]).check("anything")


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token(None) is None


def test_key_file_is_read_and_reloaded_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("first-key\n\n  second-key  \n")
    keys = KeyStore([], path, recheck_seconds=0)
    assert keys.check("first-key") and keys.check("second-key")
    path.write_text("rotated-key\n")
    later = time.time() + 5
    os.utime(path, (later, later))
    assert keys.check("rotated-key")
    assert not keys.check("first-key")


def test_missing_key_file_accepts_env_keys_only(tmp_path: Path) -> None:
    keys = KeyStore(["env-key"], tmp_path / "absent", recheck_seconds=0)
    assert keys.check("env-key")
    assert not keys.check("other")
