"""The bodies of `oozo backup` and `oozo restore`: settings in, one JSON line out.

Success: the result on stdout. Failure: {"error", "reason"} on stderr. Both also go to the
termination-message path when one is configured, which is how the operator learns the outcome.
"""

from __future__ import annotations

import json
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from oozo_contract.results import BackupResult, RestoreResult
from oozo_runtime.backup import errors as e
from oozo_runtime.backup.errors import BackupError

TERMINATION_LIMIT = 4096  # bytes Kubernetes keeps of a termination message


def _termination_text(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, separators=(",", ":"))
    if len(text.encode()) > TERMINATION_LIMIT and isinstance(payload.get("pruned"), list):
        slim = {**payload, "prunedCount": len(payload["pruned"]), "pruned": payload["pruned"][:5]}
        text = json.dumps(slim, separators=(",", ":"))
    return text[: TERMINATION_LIMIT - 1]


def _write_termination(path: Path | None, payload: dict[str, Any]) -> None:
    if path is None:
        return
    try:
        path.write_text(_termination_text(payload))
    except OSError as exc:  # the result itself still reaches stdout / stderr
        print(json.dumps({"warning": f"cannot write termination message {path}: {exc}"}), file=sys.stderr)


_FLAGS = {
    "backup_uri": "--to (OOZO_BACKUP_URI)",
    "restore_uri": "--from (OOZO_RESTORE_URI)",
    "index_dir": "--index (OOZO_INDEX_DIR)",
    "backup_keep_last": "--keep-last (OOZO_BACKUP_KEEP_LAST)",
    "backup_owner": "--owner (OOZO_BACKUP_OWNER)",
    "restore_from_owner": "--from-owner (OOZO_RESTORE_FROM_OWNER)",
}


def _settings(cls: type, overrides: dict[str, Any]) -> Any:
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return cls(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_FLAGS.get(str(err['loc'][0]), err['loc'][0]) if err['loc'] else 'settings'}: {err['msg']}"
            for err in exc.errors(include_input=False)
        )
        raise BackupError(e.INVALID_SETTINGS, f"invalid settings: {problems}") from None


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a deleted Job, a node drain) unwinds like Ctrl-C, so every `finally` runs: the
    multipart upload is aborted, the restore's .tmp- directory removed."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def _run(kind: str, overrides: dict[str, Any]) -> int:
    from oozo_contract.backup_settings import BackupSettings, RestoreSettings

    signal.signal(signal.SIGTERM, _on_sigterm)
    termination: Path | None = overrides.get("termination_message_path")
    result: BackupResult | RestoreResult
    try:
        if kind == "backup":
            from oozo_runtime.backup.backup import run_backup
            from oozo_runtime.backup.ownership import Owner
            from oozo_runtime.backup.uri import parse_s3_uri

            bs = _settings(BackupSettings, overrides)
            termination = bs.termination_message_path
            result = run_backup(
                bs.index_dir,
                parse_s3_uri(bs.backup_uri, allow_version=False),
                endpoint=bs.s3_endpoint,
                region=bs.s3_region,
                keep_last=bs.backup_keep_last,
                level=bs.backup_compression_level,
                upload_checksum=bs.backup_upload_checksum,
                owner=Owner(bs.backup_owner, bs.backup_owner_corpus),
            )
        else:
            from oozo_runtime.backup.ownership import Owner
            from oozo_runtime.backup.restore import run_restore
            from oozo_runtime.backup.uri import parse_s3_uri

            rs = _settings(RestoreSettings, overrides)
            termination = rs.termination_message_path
            result = run_restore(
                rs.index_dir,
                parse_s3_uri(rs.restore_uri, allow_version=True),
                endpoint=rs.s3_endpoint,
                region=rs.s3_region,
                owner=Owner(rs.restore_owner, rs.restore_owner_corpus) if rs.restore_owner else None,
                from_owner=rs.restore_from_owner,
            )
    except BackupError as exc:
        payload = exc.to_dict()
        print(json.dumps(payload), file=sys.stderr)
        _write_termination(termination, payload)
        return 1
    except Exception as exc:  # a bug: keep the traceback, still end with one JSON line
        traceback.print_exc()
        payload = {
            "error": f"{kind} failed unexpectedly: {type(exc).__name__}: {exc}",
            "reason": "InternalError",
        }
        print(json.dumps(payload), file=sys.stderr)
        _write_termination(termination, payload)
        return 1
    except KeyboardInterrupt as exc:
        by = "SIGTERM" if isinstance(exc, _Terminated) else "Ctrl-C"
        payload = {"error": f"{kind} interrupted by {by}; nothing was published", "reason": "Interrupted"}
        print(json.dumps(payload), file=sys.stderr)
        _write_termination(termination, payload)
        return 143 if isinstance(exc, _Terminated) else 130
    payload = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    print(json.dumps(payload))
    _write_termination(termination, payload)
    return 0


def backup_command(**overrides: Any) -> int:
    """Keys: index_dir, backup_uri, s3_endpoint, s3_region, backup_keep_last, termination_message_path."""
    return _run("backup", overrides)


def restore_command(**overrides: Any) -> int:
    """Keys: index_dir, restore_uri, s3_endpoint, s3_region, termination_message_path."""
    return _run("restore", overrides)
