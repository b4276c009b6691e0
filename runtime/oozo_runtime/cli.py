"""The `oozo` command line of the runtime. Heavy imports (torch, FAISS) happen inside the
commands, so `oozo --help` and `oozo version` stay fast. The operator has its own entry point,
`oozo-operator` (oozo_operator.cli): the runtime never imports the operator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oozo_runtime import __version__
from oozo_runtime.backup import cli as backup_cli
from oozo_runtime.cli_options import (
    BaseUrlOpt,
    DimensionsOpt,
    HttpRefusePrivate,
    Opt,
    PrefixesOpt,
    ProviderOpt,
    RetrievalModeOpt,
    S3Endpoint,
    S3PathStyle,
    S3Region,
    StagingOpt,
    embedding_flags,
    shard_option,
)

app = typer.Typer(
    name="oozo",
    help="Oozo: retrieval-augmented generation on Kubernetes. Index documents, serve queries, "
    "back up and restore indexes.",
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


# The backup commands are defined with the rest of backup (backup/cli.py), registered here so
# `oozo --help` lists them in this order.
app.command()(backup_cli.backup)
app.command()(backup_cli.restore)
app.command("verify-backup")(backup_cli.verify_backup)


@app.command()
def fetch(
    source: Annotated[
        list[str] | None,
        typer.Argument(
            help="A folder, s3://BUCKET/PREFIX, git+https://HOST/PATH.git@REF#SUBDIR, or http(s):// URLs "
            "[env OOZO_SOURCE, URLs separated by spaces]",
            metavar="URI...",
            show_default=False,
        ),
    ] = None,
    into: Annotated[
        Path | None, Opt("--into", help="Folder that receives the documents [env OOZO_INTO]")
    ] = None,
    state_dir: Annotated[
        Path | None,
        Opt("--state-dir", help="What the fetch keeps between runs (INTO.fetch-state) [env OOZO_STATE_DIR]"),
    ] = None,
    s3_endpoint: S3Endpoint = None,
    s3_region: S3Region = None,
    s3_path_style: S3PathStyle = None,
    http_refuse_private: HttpRefusePrivate = None,
    unless_revision: Annotated[
        str | None,
        Opt(
            help="When the source is still at this revision, leave --into alone and report "
            "skippedBecauseUnchanged [env OOZO_UNLESS_REVISION]"
        ),
    ] = None,
    termination_message_path: Annotated[
        Path | None, Opt(help="Also write the JSON result here [env OOZO_TERMINATION_MESSAGE_PATH]")
    ] = None,
) -> None:
    """Bring the documents of URI into --into (only what changed) and print the source revision."""
    from oozo_runtime.commands import run_fetch

    run_fetch(
        {
            "source": " ".join(source) if source else None,
            "into": into,
            "state_dir": state_dir,
            "s3_endpoint": s3_endpoint,
            "s3_region": s3_region,
            "s3_path_style": s3_path_style,
            "http_refuse_private": http_refuse_private,
            "unless_revision": unless_revision,
            "termination_message_path": termination_message_path,
        }
    )


@app.command()
def index(
    source: Annotated[
        str | None,
        typer.Argument(help="Folder with the documents, or a URI as for `oozo fetch` [env OOZO_SOURCE]"),
    ] = None,
    out: Annotated[Path | None, Opt("--out", "-o", help="Index directory [env OOZO_INDEX_DIR]")] = None,
    model: Annotated[str | None, Opt(help="Embedding model id or path [env OOZO_MODEL]")] = None,
    chunk_size: Annotated[int | None, Opt(help="Characters per chunk (1000) [env OOZO_CHUNK_SIZE]")] = None,
    chunk_overlap: Annotated[
        int | None, Opt(help="Characters shared by neighbouring chunks (200) [env OOZO_CHUNK_OVERLAP]")
    ] = None,
    chunk_max_tokens: Annotated[
        int | None,
        Opt(
            help="Tokens per chunk, prefix and special tokens included (the model's max sequence "
            "length) [env OOZO_CHUNK_MAX_TOKENS]"
        ),
    ] = None,
    batch_size: Annotated[int | None, Opt(help="Chunks per encode batch (64) [env OOZO_BATCH_SIZE]")] = None,
    include: Annotated[
        list[str] | None, Opt("--include", help="Glob of files to index, repeatable [env OOZO_INCLUDE]")
    ] = None,
    index_type: Annotated[
        str | None,
        Opt(help="auto (by size), flat, hnsw, hnswfp16 or ivfpq: docs/indexes.md [env OOZO_INDEX_TYPE]"),
    ] = None,
    termination_message_path: Annotated[
        Path | None, Opt(help="Also write the JSON result here [env OOZO_TERMINATION_MESSAGE_PATH]")
    ] = None,
    s3_endpoint: S3Endpoint = None,
    s3_region: S3Region = None,
    s3_path_style: S3PathStyle = None,
    http_refuse_private: HttpRefusePrivate = None,
    embedding_provider: ProviderOpt = None,
    embedding_base_url: BaseUrlOpt = None,
    embedding_dimensions: DimensionsOpt = None,
    embedding_prefixes: PrefixesOpt = None,
    evaluation_questions: Annotated[
        Path | None,
        Opt(
            help="Golden questions (YAML/JSON) the new version must answer before it becomes current "
            "[env OOZO_EVALUATION_QUESTIONS]"
        ),
    ] = None,
    min_hit_at_5: Annotated[
        float | None,
        Opt("--min-hit-at-5", help="Least hit@5 on them, 0..1 (0) [env OOZO_EVALUATION_MIN_HIT_AT5]"),
    ] = None,
    max_regression: Annotated[
        float | None,
        Opt(help="Most hit@5 below the serving version's, 0..1 (0) [env OOZO_EVALUATION_MAX_REGRESSION]"),
    ] = None,
    shard: Annotated[
        str | None,
        Opt(
            help="Stage only shard K of N: K/N, K from 0 (or K with --shards N) [env OOZO_SHARD or "
            "JOB_COMPLETION_INDEX]",
            metavar="K/N",
        ),
    ] = None,
    shards: Annotated[int | None, Opt(help="Shards of a parallel build (1) [env OOZO_SHARDS]")] = None,
    merge: Annotated[
        bool | None, Opt("--merge", help="Merge the N staged shards and publish one version [env OOZO_MERGE]")
    ] = None,
    staging: StagingOpt = None,
) -> None:
    """Index SOURCE into a new immutable version under --out and make it current. A source
    that is not a folder is fetched first into INDEX_DIR/source-cache/files. With
    --evaluation-questions, a version that fails the quality gate is not published (exit 3).
    With --shard K/N, only shard K of N is built into --staging; `oozo merge` then publishes
    one version from all N (docs/runtime.md, "Parallel builds")."""
    from oozo_runtime.commands import run_index

    shard_number, shards = shard_option(shard, shards)

    run_index(
        {
            "source": source,
            "index_dir": out,
            "model": model,
            "chunk_size": chunk_size,
            "chunk_overlap": chunk_overlap,
            "chunk_max_tokens": chunk_max_tokens,
            "batch_size": batch_size,
            "include": include,
            "index_type": index_type,
            "termination_message_path": termination_message_path,
            "evaluation_questions": evaluation_questions,
            "evaluation_min_hit_at5": min_hit_at_5,
            "evaluation_max_regression": max_regression,
            "shard": shard_number,
            "shards": shards,
            "merge": merge,
            "staging_dir": staging,
            **embedding_flags(
                embedding_provider, embedding_base_url, embedding_dimensions, embedding_prefixes
            ),
        },
        {
            "s3_endpoint": s3_endpoint,
            "s3_region": s3_region,
            "s3_path_style": s3_path_style,
            "http_refuse_private": http_refuse_private,
        },
    )


@app.command("merge")
def merge_command(
    staging: StagingOpt = None,
    out: Annotated[Path | None, Opt("--out", "-o", help="Index directory [env OOZO_INDEX_DIR]")] = None,
    model: Annotated[str | None, Opt(help="Embedding model the shards used [env OOZO_MODEL]")] = None,
    chunk_size: Annotated[int | None, Opt(help="The shards' --chunk-size [env OOZO_CHUNK_SIZE]")] = None,
    chunk_overlap: Annotated[
        int | None, Opt(help="The shards' --chunk-overlap [env OOZO_CHUNK_OVERLAP]")
    ] = None,
    chunk_max_tokens: Annotated[
        int | None, Opt(help="The shards' --chunk-max-tokens [env OOZO_CHUNK_MAX_TOKENS]")
    ] = None,
    index_type: Annotated[
        str | None,
        Opt(help="auto (by size), flat, hnsw, hnswfp16 or ivfpq: docs/indexes.md [env OOZO_INDEX_TYPE]"),
    ] = None,
    evaluation_questions: Annotated[
        Path | None,
        Opt(help="Golden questions the merged version must answer [env OOZO_EVALUATION_QUESTIONS]"),
    ] = None,
    min_hit_at_5: Annotated[
        float | None,
        Opt("--min-hit-at-5", help="Least hit@5 on them, 0..1 (0) [env OOZO_EVALUATION_MIN_HIT_AT5]"),
    ] = None,
    termination_message_path: Annotated[
        Path | None, Opt(help="Also write the JSON result here [env OOZO_TERMINATION_MESSAGE_PATH]")
    ] = None,
    s3_endpoint: S3Endpoint = None,
    s3_region: S3Region = None,
    embedding_provider: ProviderOpt = None,
    embedding_base_url: BaseUrlOpt = None,
    embedding_dimensions: DimensionsOpt = None,
    embedding_prefixes: PrefixesOpt = None,
) -> None:
    """Publish one version under --out from the shards staged in --staging by `oozo index SOURCE
    --shard K/N --staging STAGING` (the newest build whose N shards are all there), then remove
    that build's staging. Give it the model and chunking flags the shards had."""
    from oozo_runtime.commands import run_merge

    run_merge(
        {
            "staging_dir": staging,
            "index_dir": out,
            "model": model,
            "chunk_size": chunk_size,
            "chunk_overlap": chunk_overlap,
            "chunk_max_tokens": chunk_max_tokens,
            "index_type": index_type,
            "evaluation_questions": evaluation_questions,
            "evaluation_min_hit_at5": min_hit_at_5,
            "termination_message_path": termination_message_path,
            **embedding_flags(
                embedding_provider, embedding_base_url, embedding_dimensions, embedding_prefixes
            ),
        },
        {"s3_endpoint": s3_endpoint, "s3_region": s3_region},
    )


@app.command()
def serve(
    index_dir: Annotated[Path | None, Opt("--index", help="Index directory [env OOZO_INDEX_DIR]")] = None,
    host: Annotated[str | None, Opt(help="Bind address (0.0.0.0) [env OOZO_HOST]")] = None,
    port: Annotated[int | None, Opt(help="Port (8000) [env OOZO_PORT]")] = None,
    version: Annotated[
        str | None, Opt("--version", help="Serve this version, not current [env OOZO_INDEX_VERSION]")
    ] = None,
    model: Annotated[str | None, Opt(help="Embedding model id or path [env OOZO_MODEL]")] = None,
    embedding_provider: ProviderOpt = None,
    embedding_base_url: BaseUrlOpt = None,
    embedding_dimensions: DimensionsOpt = None,
    embedding_prefixes: PrefixesOpt = None,
    answer_cache_size: Annotated[
        int | None, Opt(help="Answers kept in memory, 0 for none (1024) [env OOZO_ANSWER_CACHE_SIZE]")
    ] = None,
    answer_cache_ttl_seconds: Annotated[
        int | None, Opt(help="Seconds a cached answer is reused (3600) [env OOZO_ANSWER_CACHE_TTL_SECONDS]")
    ] = None,
    answer_cache_redis_url: Annotated[
        str | None,
        Opt(
            help="redis://HOST[:PORT][/DB] shared by replicas; the password only from "
            "OOZO_ANSWER_CACHE_REDIS_PASSWORD [env OOZO_ANSWER_CACHE_REDIS_URL]"
        ),
    ] = None,
    retrieval_mode: RetrievalModeOpt = None,
) -> None:
    """Serve the query API (POST /api/query, /health, /ready, /metrics, /api/info, /), MCP at /mcp and
    OpenAI-compatible chat at /v1/chat/completions."""
    from oozo_runtime.commands import run_serve

    run_serve(
        {
            "index_dir": index_dir,
            "host": host,
            "port": port,
            "index_version": version,
            "model": model,
            "answer_cache_size": answer_cache_size,
            "answer_cache_ttl_seconds": answer_cache_ttl_seconds,
            "answer_cache_redis_url": answer_cache_redis_url,
            "retrieval_mode": retrieval_mode,
            **embedding_flags(
                embedding_provider, embedding_base_url, embedding_dimensions, embedding_prefixes
            ),
        }
    )


@app.command()
def query(
    question: Annotated[str, typer.Argument(help="The question")],
    index_dir: Annotated[Path | None, Opt("--index", help="Index directory [env OOZO_INDEX_DIR]")] = None,
    top_k: Annotated[int, Opt("--top-k", "-k", min=1, max=50, help="Passages to retrieve")] = 5,
    version: Annotated[
        str | None, Opt("--version", help="Query this version [env OOZO_INDEX_VERSION]")
    ] = None,
    model: Annotated[str | None, Opt(help="Embedding model id or path [env OOZO_MODEL]")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the answer and sources as JSON")] = False,
    embedding_provider: ProviderOpt = None,
    embedding_base_url: BaseUrlOpt = None,
    embedding_dimensions: DimensionsOpt = None,
    embedding_prefixes: PrefixesOpt = None,
    retrieval_mode: RetrievalModeOpt = None,
) -> None:
    """Answer QUESTION locally from the index (extractive) and print the sources."""
    from oozo_runtime.commands import run_query

    flags = {
        "index_dir": index_dir,
        "index_version": version,
        "model": model,
        "retrieval_mode": retrieval_mode,
        **embedding_flags(embedding_provider, embedding_base_url, embedding_dimensions, embedding_prefixes),
    }
    run_query(question, top_k, flags, as_json)


if __name__ == "__main__":  # pragma: no cover
    app()
