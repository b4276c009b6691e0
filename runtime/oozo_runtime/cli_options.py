"""The flags several `oozo` commands share (cli.py), and the parsing of `--shard K/N`."""

from __future__ import annotations

from typing import Annotated

import typer

Opt = typer.Option  # flags default to None: unset flags fall back to OOZO_* env, then defaults

# The embedder flags of `index`, `serve` and `query`; the key comes only from the environment
# (OOZO_EMBEDDING_API_KEY), never from a flag that `ps` would show.
ProviderOpt = Annotated[
    str | None, Opt(help="local or openai (an OpenAI-compatible server) [env OOZO_EMBEDDING_PROVIDER]")
]
BaseUrlOpt = Annotated[
    str | None, Opt(help="Embeddings server base URL, e.g. http://tei:8080/v1 [env OOZO_EMBEDDING_BASE_URL]")
]
DimensionsOpt = Annotated[
    int | None, Opt(help="Vector size to ask the server for [env OOZO_EMBEDDING_DIMENSIONS]")
]
PrefixesOpt = Annotated[
    str | None,
    Opt(help="Who adds e5 'query: '/'passage: ' prefixes: client or server [env OOZO_EMBEDDING_PREFIXES]"),
]
RetrievalModeOpt = Annotated[
    str | None,
    Opt(help="hybrid (BM25 + dense, default), dense or lexical [env OOZO_RETRIEVAL_MODE]"),
]


def embedding_flags(
    provider: str | None, base_url: str | None, dimensions: int | None, prefixes: str | None
) -> dict[str, object]:
    return {
        "embedding_provider": provider,
        "embedding_base_url": base_url,
        "embedding_dimensions": dimensions,
        "embedding_prefixes": prefixes,
    }


S3Endpoint = Annotated[
    str | None,
    Opt("--s3-endpoint", help="S3-compatible endpoint URL [env OOZO_S3_ENDPOINT, AWS_ENDPOINT_URL_S3]"),
]
S3Region = Annotated[str | None, Opt("--s3-region", help="S3 region [env OOZO_S3_REGION, AWS_REGION]")]
S3PathStyle = Annotated[
    bool | None,
    Opt("--s3-path-style/--no-s3-path-style", help="Path-style S3 addressing [env OOZO_S3_PATH_STYLE]"),
]
StagingOpt = Annotated[
    str | None,
    Opt(
        help="Where shards stage their results: a folder or s3://BUCKET/PREFIX (INDEX_DIR/staging) "
        "[env OOZO_STAGING_DIR]",
        metavar="STAGING",
    ),
]
HttpRefusePrivate = Annotated[
    bool | None,
    Opt(
        "--http-refuse-private/--no-http-refuse-private",
        help="Refuse private and loopback addresses too; link-local always is [env OOZO_HTTP_REFUSE_PRIVATE]",
    ),
]


def shard_option(value: str | None, shards: int | None) -> tuple[int | None, int | None]:
    """--shard K/N (or K, with --shards N) as (K, N); a usage error naming --shard otherwise."""
    if value is None:
        return None, shards
    number, slash, total = value.partition("/")
    try:
        k, n = int(number), int(total) if slash else shards
    except ValueError:
        message = f"{value!r} is not K/N with whole numbers, e.g. 0/3"
        raise typer.BadParameter(message, param_hint="'--shard'") from None
    if n is None:
        return k, None  # K alone: N from OOZO_SHARDS, checked by the settings
    if n < 1:
        raise typer.BadParameter(f"{value!r}: N must be at least 1", param_hint="'--shard'")
    if not 0 <= k < n:
        raise typer.BadParameter(
            f"{value!r}: K must be 0..{n - 1} (shards count from 0)", param_hint="'--shard'"
        )
    if slash and shards is not None and shards != n:
        raise typer.BadParameter(
            f"{value!r} says {n} shards but --shards says {shards}", param_hint="'--shard'"
        )
    return k, n
