"""`oozo-operator`: the operator's own command line (the operator image's entry point).

It lives in the operator package so the runtime's `oozo` command never imports the operator.
kopf and the handlers are imported only when the operator runs, so `--help` stays instant.
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(name="oozo-operator", add_completion=False)


@app.command()
def operator(
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", "-n", help="Watch only these namespaces (default: all)."),
    ] = None,
    liveness_port: Annotated[int, typer.Option(help="Port of the /healthz liveness endpoint.")] = 8080,
    metrics_port: Annotated[int, typer.Option(help="Port of the Prometheus /metrics endpoint.")] = 9090,
) -> None:
    """Run the RagCorpus operator against the current kubeconfig (or in-cluster config)."""
    from oozo_operator.main import run

    run(namespaces=namespace or [], liveness_port=liveness_port, metrics_port=metrics_port)


if __name__ == "__main__":  # pragma: no cover
    app()
