"""`oozo backup`, `oozo restore` and `oozo verify-backup`: flags only (registered on the `oozo`
app by oozo_runtime.cli); backup/commands.py runs them, importing S3 and the index only then."""

from __future__ import annotations

from typing import Annotated

import typer

from oozo_runtime.cli_options import Opt


def backup(
    index: Annotated[str | None, Opt("--index", help="Index directory (env OOZO_INDEX_DIR).")] = None,
    to: Annotated[str | None, Opt("--to", help="s3://BUCKET/PREFIX (env OOZO_BACKUP_URI).")] = None,
    endpoint: Annotated[str | None, Opt(help="S3-compatible endpoint URL (env OOZO_S3_ENDPOINT).")] = None,
    region: Annotated[str | None, Opt(help="S3 region (env OOZO_S3_REGION).")] = None,
    keep_last: Annotated[int | None, Opt(help="Keep the newest N backups, 0 keeps all (default 7).")] = None,
    owner: Annotated[
        str | None,
        Opt(help="Who writes the prefix (default 'cli'; env OOZO_BACKUP_OWNER); another owner is refused."),
    ] = None,
) -> None:
    """Back up the current index version to S3 (tar + zstd, sha256-checked) and prune old ones."""
    from oozo_runtime.backup.commands import backup_command

    raise typer.Exit(
        backup_command(
            index_dir=index,
            backup_uri=to,
            s3_endpoint=endpoint,
            s3_region=region,
            backup_keep_last=keep_last,
            backup_owner=owner,
        )
    )


def restore(
    source: Annotated[
        str | None,
        Opt("--from", help="s3://BUCKET/PREFIX, optionally @VERSION or @latest (env OOZO_RESTORE_URI)."),
    ] = None,
    index: Annotated[str | None, Opt("--index", help="Index directory (env OOZO_INDEX_DIR).")] = None,
    endpoint: Annotated[str | None, Opt(help="S3-compatible endpoint URL (env OOZO_S3_ENDPOINT).")] = None,
    region: Annotated[str | None, Opt(help="S3 region (env OOZO_S3_REGION).")] = None,
    from_owner: Annotated[
        str | None,
        Opt(help="Only restore backups of this owner (id or namespace/name); env OOZO_RESTORE_FROM_OWNER."),
    ] = None,
) -> None:
    """Restore an index version from S3, verify every file, then publish it as current."""
    from oozo_runtime.backup.commands import restore_command

    raise typer.Exit(
        restore_command(
            index_dir=index,
            restore_uri=source,
            s3_endpoint=endpoint,
            s3_region=region,
            restore_from_owner=from_owner,
        )
    )


def verify_backup(
    source: Annotated[
        str | None,
        Opt("--from", help="s3://BUCKET/PREFIX, optionally @VERSION or @latest (env OOZO_RESTORE_URI)."),
    ] = None,
    scratch: Annotated[
        str | None,
        Opt(
            "--scratch", help="Scratch directory to restore into; never a serving index (env OOZO_INDEX_DIR)."
        ),
    ] = None,
    endpoint: Annotated[str | None, Opt(help="S3-compatible endpoint URL (env OOZO_S3_ENDPOINT).")] = None,
    region: Annotated[str | None, Opt(help="S3 region (env OOZO_S3_REGION).")] = None,
    model: Annotated[str | None, Opt(help="Embedding model the server uses (env OOZO_MODEL).")] = None,
    questions: Annotated[
        str | None,
        Opt(
            "--questions", help="Golden questions file (env OOZO_EVALUATION_QUESTIONS); else sampled chunks."
        ),
    ] = None,
    samples: Annotated[
        int | None, Opt("--samples", help="Chunks sampled as queries without questions (5).")
    ] = None,
) -> None:
    """Restore drill: restore a backup into scratch space, check every checksum, load it as the
    server would and answer the golden questions (or sampled chunks); exit 1 naming what failed."""
    from oozo_runtime.backup.commands import verify_command

    raise typer.Exit(
        verify_command(
            restore_uri=source,
            index_dir=scratch,
            s3_endpoint=endpoint,
            s3_region=region,
            model=model,
            evaluation_questions=questions,
            verify_samples=samples,
        )
    )
