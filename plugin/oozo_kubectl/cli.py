"""`kubectl-oozo`, run by kubectl as `kubectl oozo ...`: operate RagCorpus resources.

The connection flags (--kubeconfig, --context, -n/--namespace) work before or after the command,
as kubectl's own do."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from oozo_kubectl import actions, logs, query, report, screen, summary
from oozo_kubectl.kube import Cluster, PluginError, Target
from oozo_kubectl.status import observe

app = typer.Typer(
    name="kubectl oozo",
    help="Operate Oozo RagCorpus resources: status, query, reindex, backup, versions, rollback, "
    "logs and support bundles. Uses your kubeconfig and your RBAC permissions, like kubectl.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
out = Console()
err = Console(stderr=True)


class Output(StrEnum):
    text = "text"
    json = "json"
    yaml = "yaml"


Kubeconfig = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig", envvar="KUBECONFIG", help="Path to the kubeconfig file.", show_default=False
    ),
]
Context = Annotated[str | None, typer.Option("--context", help="The kubeconfig context to use.")]
Namespace = Annotated[
    str | None,
    typer.Option("-n", "--namespace", help="Namespace of the corpus (default: the context's namespace)."),
]
ENDPOINT_HELP = (
    "Base URL that reaches the corpus's Service (an Ingress, or a `kubectl port-forward svc/NAME 8080:80` "
    "as http://127.0.0.1:8080). Needed when auth is on; without it the query goes through the API "
    "server's service proxy."
)
Name = Annotated[str, typer.Argument(help="Name of the RagCorpus.", show_default=False)]
OutputOpt = Annotated[Output, typer.Option("-o", "--output", help="Output format.")]


@app.callback()
def main(
    ctx: typer.Context, kubeconfig: Kubeconfig = None, context: Context = None, namespace: Namespace = None
) -> None:
    ctx.obj = Target(kubeconfig, context, namespace)


def connect(
    ctx: typer.Context, kubeconfig: str | None, context: str | None, namespace: str | None
) -> Cluster:
    """Flags after the command win over flags before it."""
    before: Target = ctx.obj or Target()
    return Cluster(
        Target(kubeconfig or before.kubeconfig, context or before.context, namespace or before.namespace)
    )


def emit(data: object, output: Output, text: object) -> None:
    if output is Output.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    elif output is Output.yaml:
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
    else:
        out.print(text)


@app.command()
def status(
    ctx: typer.Context, name: Name, output: OutputOpt = Output.text,
    kubeconfig: Kubeconfig = None, context: Context = None, namespace: Namespace = None,
) -> None:  # fmt: skip
    """Show a corpus on one screen: conditions, index, build, backup, serving, events.

    Conditions with reasons, the serving index version and the build in progress, the source
    revision, the last build (documents, chunks, skipped documents
    with reasons), the last backup and restore, the endpoint, replicas and autoscaling, and the
    corpus's recent events.

    Example: kubectl oozo status handbook -n docs -o json
    """
    cluster = connect(ctx, kubeconfig, context, namespace)
    data = summary.status_summary(observe(cluster, name))
    emit(data, output, screen.status_screen(data))


@app.command("query")
def query_cmd(
    ctx: typer.Context,
    name: Name,
    question: Annotated[str, typer.Argument(help="The question to ask.", show_default=False)],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="How many sources to retrieve.")] = 5,
    endpoint: Annotated[str | None, typer.Option(help=ENDPOINT_HELP)] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(help="Read the API key from this file instead of the corpus's Secret.", exists=True),
    ] = None,
    output: OutputOpt = Output.text,
    kubeconfig: Kubeconfig = None, context: Context = None, namespace: Namespace = None,
) -> None:  # fmt: skip
    """Ask a corpus a question and print the answer and its sources.

    When auth is on, the API key is read from the corpus's Secret (spec.runtime.auth.apiKeySecretRef,
    or the generated NAME-api-key) with your permissions; if you may not read it, pass
    --api-key-file.

    Example: kubectl oozo query handbook "How many vacation days?" --top-k 3
    """
    cluster = connect(ctx, kubeconfig, context, namespace)
    key = api_key_file.read_text().strip() if api_key_file else None
    result = query.ask(cluster, name, question, top_k, endpoint=endpoint, api_key=key)
    emit(result, output, screen.answer_screen(result))


@app.command()
def reindex(
    ctx: typer.Context, name: Name,
    kubeconfig: Kubeconfig = None, context: Context = None, namespace: Namespace = None,
) -> None:  # fmt: skip
    """Build a new index version now, from the current source, even if nothing changed.

    Sets the annotation rag.oozo.dev/reindex-requested-at to the current time; the operator
    starts a new index Job, and the current version keeps serving until the new one is ready.

    Example: kubectl oozo reindex handbook
    """
    cluster = connect(ctx, kubeconfig, context, namespace)
    value = actions.reindex(cluster, name)
    out.print(f"ragcorpus/{name} reindex requested at {value}")


@app.command("backup")
def backup_cmd(
    ctx: typer.Context, name: Name,
    job_name: Annotated[str | None, typer.Option(help="Job name (default: NAME-backup-manual-TIME).")] = None,
    kubeconfig: Kubeconfig = None, context: Context = None, namespace: Namespace = None,
) -> None:  # fmt: skip
    """Back up the serving index now, with an on-demand Job from the backup CronJob's template.

    Like `kubectl create job --from=cronjob/NAME-backup`: the Job is owned by the CronJob and
    reported in status.lastBackup like a scheduled one. Refused when the corpus has no
    spec.backup.

    Example: kubectl oozo backup handbook
    """
    cluster = connect(ctx, kubeconfig, context, namespace)
    job = actions.backup(cluster, name, job_name)
    out.print(f"job.batch/{job} created")


@app.command("verify")
def verify_cmd(
    ctx: typer.Context, name: Name,
    job_name: Annotated[str | None, typer.Option(help="Job name (default: NAME-verify-manual-TIME).")] = None,
    kubeconfig: Kubeconfig = None, context: Context = None, namespace: Namespace = None,
) -> None:  # fmt: skip
    """Run a restore drill now, with an on-demand Job from the drill CronJob's template.

    The drill restores the newest backup into scratch space, checks every checksum, loads it as
    the server would and answers the golden questions (or sampled chunks); its verdict lands in
    the BackupVerified condition and status.lastVerifiedBackup like a scheduled drill's. Refused
    when the corpus has no spec.backup.verify.

    Example: kubectl oozo verify handbook
    """
    cluster = connect(ctx, kubeconfig, context, namespace)
    job = actions.verify(cluster, name, job_name)
    out.print(f"job.batch/{job} created")


@app.command()
def versions(
    ctx: typer.Context, name: Name, output: OutputOpt = Output.text,
    kubeconfig: Kubeconfig = None, context: Context = None, namespace: Namespace = None,
) -> None:  # fmt: skip
    """List the index versions on the corpus's volume, newest first.

    Each with its build time, documents and chunks (status.index.available), marked serving,
    newest and pinned, and the build in progress. Any of them can be served with `rollback`.

    Example: kubectl oozo versions handbook
    """
    cluster = connect(ctx, kubeconfig, context, namespace)
    data = summary.versions_summary(cluster.corpus(name))
    emit(data, output, screen.versions_screen(data))


@app.command()
def rollback(
    ctx: typer.Context, name: Name,
    version: Annotated[
        str | None,
        typer.Argument(
            help="The version to serve (default: the one before the serving one).", show_default=False
        ),
    ] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Remove the pin: serve the newest version again.")
    ] = False,
    kubeconfig: Kubeconfig = None, context: Context = None, namespace: Namespace = None,
) -> None:  # fmt: skip
    """Serve an earlier index version, without rebuilding; --latest returns to the newest.

    Sets spec.index.pinnedVersion to VERSION, which must be one of the versions on the volume
    (`kubectl oozo versions NAME`); without VERSION, to the one built before the version being
    served, so repeating the command steps further back. The operator rolls the server to it
    with a rolling update that drops no query; builds go on, and never delete the pinned
    version. --latest removes the pin.

    GitOps: the pin is a change to the RagCorpus spec. If Argo CD or Flux manage the corpus,
    they will undo it at their next sync unless you commit spec.index.pinnedVersion to git
    (or make them ignore that field).

    Example: kubectl oozo rollback handbook 20261124t120301z-1a2b3c4d
    """
    if latest and version:
        raise PluginError("give a VERSION or --latest, not both")
    cluster = connect(ctx, kubeconfig, context, namespace)
    if latest:
        was = actions.unpin(cluster, name)
        out.print(
            f"ragcorpus/{name} unpinned from {was}: serving the newest version"
            if was
            else f"ragcorpus/{name} has no pinned version: it serves the newest already"
        )
        return
    target = actions.rollback(cluster, name, version)
    out.print(f"ragcorpus/{name} pinned to index version {target}")


@app.command("logs")
def logs_cmd(
    ctx: typer.Context, name: Name,
    build: Annotated[bool, typer.Option("--build", help="The latest build's pods (shards, merge).")] = False,
    serve: Annotated[bool, typer.Option("--serve", help="The server pods (the default).")] = False,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Stream new lines as they come.")] = False,
    tail: Annotated[int | None, typer.Option(help="Lines from the end of each log (default: all).")] = None,
    kubeconfig: Kubeconfig = None, context: Context = None, namespace: Namespace = None,
) -> None:  # fmt: skip
    """Print the logs of the latest index build (--build) or of the query servers (--serve).

    Example: kubectl oozo logs handbook --build --tail 50
    """
    if build and serve:
        raise PluginError("choose one of --build and --serve")
    cluster = connect(ctx, kubeconfig, context, namespace)
    sources = logs.build_sources(cluster, name) if build else logs.serve_sources(cluster, name)
    if follow:
        logs.follow(cluster, sources, tail, lambda line: print(line, flush=True))
        return
    for source in sources:
        text = logs.read_log(cluster, source, tail)
        prefix = f"[{source.pod}] " if len(sources) > 1 else ""
        for line in text.splitlines():
            print(prefix + line)


@app.command("report")
def report_cmd(
    ctx: typer.Context, name: Name,
    output_file: Annotated[Path | None, typer.Option("-o", "--output", help="The .tar.gz to write.")] = None,
    kubeconfig: Kubeconfig = None, context: Context = None, namespace: Namespace = None,
) -> None:  # fmt: skip
    """Write a support bundle (.tar.gz) of a corpus, without Secret values.

    The RagCorpus and its status, its events, the manifest of every object it owns, the names
    and types of the namespace's Secrets (never their values) and the recent logs of its pods.

    Example: kubectl oozo report handbook -o handbook-report.tar.gz
    """
    cluster = connect(ctx, kubeconfig, context, namespace)
    path, files = report.write_report(cluster, name, output_file)
    out.print(f"wrote {path} ({len(files)} files)")


def run() -> None:
    """The console script: PluginErrors print one line to stderr and exit 1, no traceback."""
    try:
        app(prog_name="kubectl oozo")
    except PluginError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(1)
