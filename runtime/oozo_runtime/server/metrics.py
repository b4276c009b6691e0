"""Prometheus metrics. Each app has its own CollectorRegistry, so tests can build several apps in
one process without duplicate-metric errors. Seed metric names are kept.

With several server workers (server/worker_metrics.py) a scrape sums every worker's files:
counters and histograms add up; each gauge says how its workers' values combine
(`multiprocess_mode`, ignored with one worker): `livesum` for what the pod does now (requests and
questions in flight, the pool's size), `livemax` for what every worker holds alike (the served
version, its size, the encoder), `livemin` for rag_ready (the pod is ready once every worker
is), and the live modes drop a worker that has exited."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# questions per ONNX Runtime call of the encoder thread (server/encode_batcher.py): up to its 32
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32)
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ENDPOINTS = frozenset(
    {"/", "/api/query", "/api/info", "/health", "/ready", "/metrics"}
    | {"/mcp", "/v1/chat/completions", "/v1/models"}  # the agent and chat interfaces
)


def endpoint_label(path: str) -> str:
    """Known routes by name, everything else as 'other' (keeps label cardinality bounded)."""
    return path if path in ENDPOINTS else "other"


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "rag_requests_total",
            "HTTP requests by endpoint and status code",
            ["endpoint", "status"],
            registry=r,
        )
        self.request_duration = Histogram(
            "rag_request_duration_seconds",
            "HTTP request latency",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.active = Gauge(
            "rag_active_connections", "HTTP requests in progress", registry=r, multiprocess_mode="livesum"
        )
        self.documents = Gauge(
            "rag_documents_total",
            "documents in the served index version",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.chunks = Gauge(
            "rag_chunks_total", "chunks in the served index version", registry=r, multiprocess_mode="livemax"
        )
        self.retrieval = Histogram(
            "rag_retrieval_duration_seconds",
            "question embedding + vector search",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.generation = Histogram(
            "rag_generation_duration_seconds",
            "answer generation",
            ["provider"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.llm_tokens = Counter("rag_llm_tokens_total", "LLM tokens used", ["kind"], registry=r)
        self.llm_errors = Counter("rag_llm_errors_total", "failed LLM calls", ["status"], registry=r)
        self.index_info = Gauge(
            "rag_index_info",
            "the served index version (value 1)",
            ["version", "model"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.query_encoder = Gauge(
            "rag_query_encoder_info",
            "question encoder in use (value 1): onnx, or torch when the version has no ONNX graph",
            ["backend"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.pool_size = Gauge(
            "rag_query_pool_size",
            "questions encoded and searched at once at most (the CPU limit; summed over the workers)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.pool_in_flight = Gauge(
            "rag_query_pool_in_flight",
            "questions being encoded and searched now",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.pool_peak = Gauge(
            "rag_query_pool_in_flight_peak",
            "the most questions encoded and searched at once since the process started (with "
            "several workers: the busiest worker's)",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.encode_batch_size = Histogram(
            "rag_query_encode_batch_size",
            "questions encoded together in one call of the encoder thread (dynamic batching: the "
            "questions that arrived while the previous batch was encoded)",
            buckets=BATCH_SIZE_BUCKETS,
            registry=r,
        )
        self.encode_batch_retries = Counter(
            "rag_query_encode_batch_retries_total",
            "batches that failed and were encoded again question by question",
            registry=r,
        )
        self.encode_errors = Counter(
            "rag_query_encode_errors_total",
            "questions that could not be encoded (the caller got a 500 with reason QueryEncodeFailed)",
            registry=r,
        )
        self.ready = Gauge(
            "rag_ready",
            "1 when an index is loaded (by every worker)",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.answer_cache = Counter(
            "rag_answer_cache_requests_total",
            "answer cache lookups (/api/query, MCP ask, chat): hit (answered from the cache) or miss",
            ["result"],
            registry=r,
        )
        self.answer_cache_errors = Counter(
            "rag_answer_cache_errors_total",
            "failed answer cache calls by backend; the query answered without the cache",
            ["backend"],
            registry=r,
        )
        for result in ("hit", "miss"):  # both series exist from the start: rates need no absent()
            self.answer_cache.labels(result)
        self.answer_cache_errors.labels("redis")
        self.rerank = Counter(
            "rag_rerank_total",
            "queries sent to the reranker (spec.retrieval.rerank) by outcome: applied, or skipped "
            "(timeout, unreachable, refused, malformed) and answered in the fused order",
            ["outcome"],
            registry=r,
        )
        self.rerank_duration = Histogram(
            "rag_rerank_duration_seconds",
            "time the reranker took per query, skipped calls included",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.index_built = Gauge(
            "rag_index_built_timestamp_seconds",
            "when the served index version was built (Unix time); dashboards show its age",
            registry=r,
            multiprocess_mode="livemax",
        )
