"""The bodies of `oozo backup`, `oozo restore` and `oozo verify-backup`: settings in, result out.

Starting, the one JSON line, the termination message and the exit code are the runner's, the
same as for `oozo index`.
"""

from __future__ import annotations

from typing import Any

from oozo_contract.backup_settings import BackupSettings, RestoreSettings, VerifySettings
from oozo_contract.results import BackupResult, BackupVerifyResult, RestoreResult
from oozo_runtime import runner

# Invalid settings are reported by the flag a user typed, with the variable a Job sets.
_FLAGS = {
    "backup_uri": "--to (OOZO_BACKUP_URI)",
    "restore_uri": "--from (OOZO_RESTORE_URI)",
    "index_dir": "--index (OOZO_INDEX_DIR)",
    "backup_keep_last": "--keep-last (OOZO_BACKUP_KEEP_LAST)",
    "backup_owner": "--owner (OOZO_BACKUP_OWNER)",
    "restore_from_owner": "--from-owner (OOZO_RESTORE_FROM_OWNER)",
    "backup_signing_key": "OOZO_BACKUP_SIGNING_KEY",
    "evaluation_questions": "--questions (OOZO_EVALUATION_QUESTIONS)",
}


def _signing_key(settings: BackupSettings | RestoreSettings | VerifySettings) -> bytes | None:
    key = settings.backup_signing_key
    return key.get_secret_value().encode() if key is not None else None


def _backup(settings: BackupSettings) -> BackupResult:
    from oozo_runtime.backup.backup import run_backup
    from oozo_runtime.backup.ownership import Owner
    from oozo_runtime.backup.uri import parse_s3_uri

    return run_backup(
        settings.index_dir,
        parse_s3_uri(settings.backup_uri, allow_version=False),
        endpoint=settings.s3_endpoint,
        region=settings.s3_region,
        keep_last=settings.backup_keep_last,
        level=settings.backup_compression_level,
        upload_checksum=settings.backup_upload_checksum,
        owner=Owner(settings.backup_owner, settings.backup_owner_corpus),
        signing_key=_signing_key(settings),
    )


def _restore(settings: RestoreSettings) -> RestoreResult:
    from oozo_runtime.backup.ownership import Owner
    from oozo_runtime.backup.restore import run_restore
    from oozo_runtime.backup.uri import parse_s3_uri

    return run_restore(
        settings.index_dir,
        parse_s3_uri(settings.restore_uri, allow_version=True),
        endpoint=settings.s3_endpoint,
        region=settings.s3_region,
        owner=Owner(settings.restore_owner, settings.restore_owner_corpus)
        if settings.restore_owner
        else None,
        from_owner=settings.restore_from_owner,
        signing_key=_signing_key(settings),
    )


def backup_command(**overrides: Any) -> int:
    """Keys: index_dir, backup_uri, s3_endpoint, s3_region, backup_keep_last, termination_message_path."""
    return runner.run(runner.Command("backup", BackupSettings, _backup, flags=_FLAGS), overrides)


def restore_command(**overrides: Any) -> int:
    """Keys: index_dir, restore_uri, s3_endpoint, s3_region, termination_message_path."""
    return runner.run(runner.Command("restore", RestoreSettings, _restore, flags=_FLAGS), overrides)


def _verify(settings: VerifySettings) -> BackupVerifyResult:
    from oozo_runtime.backup.verify import run_verify

    return run_verify(settings, signing_key=_signing_key(settings))


def verify_command(**overrides: Any) -> int:
    """Keys: restore_uri, index_dir (the scratch space), s3_endpoint, s3_region,
    evaluation_questions, verify_samples, termination_message_path."""
    flags = {
        **_FLAGS,
        "index_dir": "--scratch (OOZO_INDEX_DIR)",
        "verify_samples": "--samples (OOZO_VERIFY_SAMPLES)",
    }
    return runner.run(runner.Command("verify-backup", VerifySettings, _verify, flags=flags), overrides)
