"""Backup and restore of index versions to and from S3 (or any S3-compatible store).

`run_backup` / `run_restore` are the Python API; `commands` holds the CLI bodies. boto3 and
zstandard are imported only when a backup or restore actually runs.
"""

from oozo_runtime.backup.errors import BackupError

__all__ = ["BackupError"]
