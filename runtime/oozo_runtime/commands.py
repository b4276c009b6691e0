"""Bodies of `oozo index`, `oozo fetch`, `oozo serve` and `oozo query`; cli.py only declares the
flags.

Flags given on the command line override the `OOZO_*` environment, which overrides defaults:
the CLI passes only the flags the user set into the settings model.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import typer

from oozo_contract.fetch import FetchResult
from oozo_contract.index_settings import IndexSettings
from oozo_contract.results import IndexBuildResult, ShardResult
from oozo_contract.serve_settings import ServeSettings
from oozo_contract.settings import FetchSettings
from oozo_runtime import logs, runner
from oozo_runtime.errors import BUILD_FAILED, OozoError

log = logging.getLogger("oozo_runtime.cli")


# How a user spells each fetch setting, for "invalid settings: --into (...)" messages.
FETCH_FLAGS = {
    "source": "URI",
    "into": "--into",
    "state_dir": "--state-dir",
    "s3_endpoint": "--s3-endpoint",
    "s3_region": "--s3-region",
    "max_object_bytes": "OOZO_MAX_OBJECT_BYTES",
    "http_timeout_seconds": "OOZO_HTTP_TIMEOUT_SECONDS",
    "http_max_redirects": "OOZO_HTTP_MAX_REDIRECTS",
}
# How a user spells the index settings that are easy to get wrong.
INDEX_FLAGS = {
    "evaluation_questions": "--evaluation-questions",
    "evaluation_min_hit_at5": "--min-hit-at-5",
    "evaluation_max_regression": "--max-regression",
    "shard": "--shard",
    "shards": "--shards",
    "staging_dir": "--staging",
}
# Where `oozo index URI --out INDEX_DIR` keeps a fetched source: next to the versions, outside them.
SOURCE_CACHE = "source-cache"


def run_fetch(flags: dict[str, Any]) -> None:
    logs.configure()
    command = runner.Command("fetch", FetchSettings, _fetch, flags=FETCH_FLAGS)
    raise typer.Exit(runner.run(command, flags))


def _fetch(settings: FetchSettings) -> FetchResult:
    from oozo_runtime.sources.fetch import fetch

    return fetch(settings)


def run_index(flags: dict[str, Any], fetch_flags: dict[str, Any]) -> None:
    """`oozo index SOURCE`: a folder is indexed in place; any other source is fetched first into
    INDEX_DIR/source-cache/files (its state in INDEX_DIR/source-cache/state), then indexed."""
    logs.configure()

    def fetch_then_build(settings: IndexSettings) -> IndexBuildResult | ShardResult:
        from oozo_runtime.model_files import is_s3_model, sync_s3_model
        from oozo_runtime.sources.fetch import fetch, source_kind

        fetched = _fetch_result_file(settings.fetch_result_file)
        if settings.embedding_provider == "local" and is_s3_model(settings.model):
            sync_s3_model(settings, fetch_flags)  # once; a rebuild downloads only changed objects
        if settings.source and source_kind(settings.source)[0] != "folder":
            cache = Path(settings.index_dir) / SOURCE_CACHE
            given = {**fetch_flags, "source": settings.source, "into": cache / "files"}
            fetched = fetch(runner.load_settings(FetchSettings, {**given, "state_dir": cache / "state"}))
            log.info("fetched the source", extra=runner.result_payload(fetched))
            settings = settings.model_copy(update={"source": str(cache / "files")})
        return _build_with_progress(settings, fetched, fetch_flags)

    command = runner.Command(
        "index", IndexSettings, fetch_then_build, crash_reason=BUILD_FAILED, flags=INDEX_FLAGS
    )
    raise typer.Exit(runner.run(command, flags))


def _fetch_result_file(path: Path | None) -> FetchResult | None:
    """The result the fetch step left for this build (OOZO_FETCH_RESULT_FILE). Missing or
    unreadable: the documents are indexed as they are, only without a recorded revision."""
    if path is None:
        return None
    try:
        return FetchResult.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning(
            "no usable fetch result: building without a source revision",
            extra={"path": str(path), "error": type(exc).__name__},
        )
        return None


def run_merge(flags: dict[str, Any], s3_flags: dict[str, Any]) -> None:
    """`oozo merge --staging STAGING --out INDEX_DIR`: publish the staged shards' build."""
    logs.configure()

    def merge_staged(settings: IndexSettings) -> IndexBuildResult:
        from oozo_runtime.indexing.merge import merge

        if settings.embedding_api_key:
            logs.configure(secrets=[settings.embedding_api_key.get_secret_value()])
        # the shards' source is theirs: the merge reads only STAGING, whatever OOZO_SOURCE says
        settings = settings.model_copy(update={"source": None, "shard": None})
        return merge(settings, staging=_staging(settings, s3_flags))

    command = runner.Command(
        "merge", IndexSettings, merge_staged, crash_reason=BUILD_FAILED, flags=INDEX_FLAGS
    )
    raise typer.Exit(runner.run(command, flags))


def _staging(settings: IndexSettings, s3_flags: dict[str, Any]) -> Any:
    from oozo_runtime.indexing.staging import open_staging

    return open_staging(settings, s3_flags.get("s3_endpoint"), s3_flags.get("s3_region"))


def _build_with_progress(
    settings: IndexSettings, fetched: FetchResult | None = None, s3_flags: dict[str, Any] | None = None
) -> IndexBuildResult | ShardResult:
    from oozo_runtime.indexing.build import Progress, build

    if settings.embedding_api_key:  # a second line of defence: the key is never logged anyway
        logs.configure(secrets=[settings.embedding_api_key.get_secret_value()])
    if settings.shard is not None:  # one pod of a parallel build: stage its shard
        from oozo_runtime.indexing.shards import claim_merge, stage_shard

        staging = _staging(settings, s3_flags or {})
        staged, embedder = stage_shard(settings, staging=staging)
        if not (settings.merge and claim_merge(settings, staged.build, staging)):
            return staged
        from oozo_runtime.indexing.merge import merge

        log.info("every shard is staged: this one merges", extra={"shard": settings.shard})
        return merge(settings, fetched=fetched, embedder=embedder, staging=staging)
    if settings.merge:
        from oozo_runtime.indexing.merge import merge

        return merge(settings, fetched=fetched, staging=_staging(settings, s3_flags or {}))
    if not sys.stderr.isatty():
        return build(settings, fetched=fetched)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    with Bar(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task: dict[str, Any] = {}

        def on_stage(stage: str, total: int) -> None:
            if "id" in task:
                bar.update(task["id"], completed=bar.tasks[-1].total)
            task["id"] = bar.add_task(stage, total=total)

        return build(settings, Progress(on_stage, lambda n: bar.advance(task["id"], n)), fetched=fetched)


def serve_settings(flags: dict[str, Any]) -> ServeSettings:
    try:
        return runner.load_settings(ServeSettings, flags)
    except OozoError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(runner.EXIT_INVALID_SETTINGS) from exc


def run_serve(flags: dict[str, Any]) -> None:
    from oozo_runtime.server import cpus, worker_metrics

    settings = serve_settings(flags)
    # Before the server's modules import prometheus_client: several workers share one /metrics.
    worker_metrics.prepare(cpus.worker_count(settings))

    from oozo_runtime import versions
    from oozo_runtime.embedding import expected_fingerprint
    from oozo_runtime.retrieval import ModelMismatch, check_fingerprint
    from oozo_runtime.server import memory, workers
    from oozo_runtime.server.app import create_app

    secrets = [k.get_secret_value() for k in settings.api_keys]
    for key in (settings.openai_api_key, settings.embedding_api_key, settings.answer_cache_redis_password):
        if key:
            secrets.append(key.get_secret_value())
    logs.configure(settings.log_level, secrets=secrets)
    try:  # refuse a mismatched model up front: a clear exit beats a pod that never turns ready
        manifest = versions.read_manifest(versions.resolve(settings.index_dir, settings.index_version))
        check_fingerprint(manifest, expected_fingerprint(settings))
    except ModelMismatch as exc:
        log.error("refusing to serve", extra={"reason": str(exc)})
        typer.echo(str(exc), err=True)
        raise typer.Exit(3) from exc
    except versions.VersionNotFound as exc:
        log.warning("no index yet; serving /health and waiting", extra={"reason": str(exc)})
    memory.limit_arenas()  # before any thread: a heap per pool thread held memory it no longer used
    code = workers.run(settings, lambda gate: create_app(settings, ready_gate=gate))
    if code:
        raise typer.Exit(code)


def run_query(question: str, top_k: int, flags: dict[str, Any], as_json: bool) -> None:
    from oozo_runtime.answers import extractive_answer
    from oozo_runtime.embedding import expected_fingerprint, make_embedder
    from oozo_runtime.retrieval import LoadedIndex, ModelMismatch, Retriever, check_dimension
    from oozo_runtime.versions import IndexCorrupt, VersionNotFound

    settings = serve_settings(flags)
    key = settings.embedding_api_key
    logs.configure("WARNING", secrets=[key.get_secret_value()] if key else [])
    try:
        index = LoadedIndex.load(settings.index_dir, settings.index_version, expected_fingerprint(settings))
        embedder = None
        if settings.retrieval_mode != "lexical":  # lexical ranks by words alone: no model to load
            built = index.manifest.embedding
            embedder = make_embedder(settings, built.model_revision if built else None)
            check_dimension(index.manifest, embedder.dimension)
    except (ModelMismatch, VersionNotFound, IndexCorrupt, OozoError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    hits, _ = Retriever(embedder, index, settings.retrieval_mode).retrieve(question, top_k)
    answer = extractive_answer(question, hits)
    if as_json:
        out = {
            "answer": answer,
            "sources": [h.as_dict() for h in hits],
            "index_version": index.version,
            "mode": settings.retrieval_mode,
        }
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    from rich.console import Console

    console = Console()
    console.print(answer, markup=False, highlight=False)
    console.print(f"\n[bold]Sources[/bold] (index {index.version}):")
    for rank, hit in enumerate(hits, start=1):
        where = f"{hit.document} — {hit.heading}" if hit.heading else hit.document
        console.print(
            f" {rank}. {where} · chunk {hit.chunk} · score {hit.score:.3f}", markup=False, highlight=False
        )
