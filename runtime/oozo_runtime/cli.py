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


if __name__ == "__main__":  # pragma: no cover
    app()
