"""The `oozo` command line. Heavy imports (torch, FAISS, kopf) happen inside the commands, so
`oozo --help` and `oozo version` stay fast and the operator image needs no runtime extras."""

from __future__ import annotations

import typer

from oozo_runtime import __version__

app = typer.Typer(
    name="oozo",
    help="Oozo: retrieval-augmented generation on Kubernetes. Index documents, serve queries, "
    "run the operator.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Oozo: retrieval-augmented generation on Kubernetes."""


@app.command()
def version() -> None:
    """Print the Oozo version."""
    typer.echo(__version__)


@app.command()
def operator(
    namespace: list[str] = typer.Option(  # noqa: B008
        [], "--namespace", "-n", help="Watch only these namespaces (default: all)."
    ),
    liveness_port: int = typer.Option(8080, help="Port of the /healthz liveness endpoint."),
    metrics_port: int = typer.Option(9090, help="Port of the Prometheus /metrics endpoint."),
) -> None:
    """Run the RagCorpus operator against the current kubeconfig (or in-cluster config)."""
    from oozo_operator.main import run

    run(namespaces=namespace, liveness_port=liveness_port, metrics_port=metrics_port)


@app.command()
def backup(
    index: str = typer.Option(None, "--index", help="Index directory (env OOZO_INDEX_DIR)."),
    to: str = typer.Option(None, "--to", help="s3://BUCKET/PREFIX (env OOZO_BACKUP_URI)."),
    endpoint: str = typer.Option(None, help="S3-compatible endpoint URL (env OOZO_S3_ENDPOINT)."),
    region: str = typer.Option(None, help="S3 region (env OOZO_S3_REGION)."),
    keep_last: int = typer.Option(None, help="Keep the newest N backups, 0 keeps all (default 7)."),
) -> None:
    """Back up the current index version to S3 (tar + zstd, sha256-checked) and prune old ones."""
    from oozo_runtime.backup.commands import backup_command

    raise typer.Exit(
        backup_command(
            index_dir=index, backup_uri=to, s3_endpoint=endpoint, s3_region=region, backup_keep_last=keep_last
        )
    )


@app.command()
def restore(
    source: str = typer.Option(
        None, "--from", help="s3://BUCKET/PREFIX, optionally @VERSION or @latest (env OOZO_RESTORE_URI)."
    ),
    index: str = typer.Option(None, "--index", help="Index directory (env OOZO_INDEX_DIR)."),
    endpoint: str = typer.Option(None, help="S3-compatible endpoint URL (env OOZO_S3_ENDPOINT)."),
    region: str = typer.Option(None, help="S3 region (env OOZO_S3_REGION)."),
) -> None:
    """Restore an index version from S3, verify every file, then publish it as current."""
    from oozo_runtime.backup.commands import restore_command

    raise typer.Exit(
        restore_command(index_dir=index, restore_uri=source, s3_endpoint=endpoint, s3_region=region)
    )


if __name__ == "__main__":  # pragma: no cover
    app()
