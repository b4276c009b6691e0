"""`oozo serve` with two workers answers one /metrics for the pod: the workers write their
samples to files in one folder (prometheus_client's multiprocess mode), and a scrape, whichever
worker answers it, counts the queries of both; the folder goes when the server stops."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from oozo_runtime.server.worker_metrics import folder_for
from tests.runtime.conftest import Built
from tests.runtime.test_query_pool import ask_at_once
from tests.runtime.test_serve_workers import workers_of

QUERY_200 = {"endpoint": "/api/query", "status": "200"}


def queries_counted_by(folder: Path, pid: int) -> float:
    """The /api/query requests one worker has counted, read from its own file."""
    total = 0.0
    for key, value, _, _ in MmapedDict.read_all_values_from_file(str(folder / f"counter_{pid}.db")):
        _, sample, labels, _ = json.loads(key)
        if sample == "rag_requests_total" and labels == QUERY_200:
            total += value
    return total


def scrape(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics", timeout=10).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "rag_requests_total" and sample.labels == QUERY_200:
                samples["requests"] = sample.value
            elif sample.name == "rag_retrieval_duration_seconds_count":
                samples["retrievals"] = sample.value
            elif sample.name == "rag_ready":
                samples["ready"] = sample.value
            elif sample.name == "rag_chunks_total":
                samples["chunks"] = sample.value
    return samples


def test_one_scrape_counts_the_queries_of_every_worker(built: Built, serve: Any) -> None:
    server = serve(built.index_dir, {"OOZO_SERVER_WORKERS": "2", "OOZO_ANSWER_CACHE_SIZE": "0"})
    server.wait_ready()
    workers = workers_of(server.proc.pid)
    folder = folder_for(server.proc.pid)
    assert len(workers) == 2 and folder.is_dir()

    # Waves of questions at once until each worker has answered some (the kernel picks the
    # worker that accepts a connection), so the sum below is over two workers, not one.
    questions = [f.question for f in built.corpus.facts]
    sent = 0
    for _ in range(20):
        replies = asyncio.run(ask_at_once(server.url, questions[:8]))
        assert [r.status_code for r in replies] == [200] * 8
        sent += 8
        if all(queries_counted_by(folder, pid) > 0 for pid in workers):
            break
    # A request is counted just after its response is sent: the last ones may lag the client.
    deadline = time.monotonic() + 30
    while sum(queries_counted_by(folder, pid) for pid in workers) < sent and time.monotonic() < deadline:
        time.sleep(0.1)
    per_worker = [queries_counted_by(folder, pid) for pid in workers]
    assert all(n > 0 for n in per_worker) and sum(per_worker) == sent

    for _ in range(4):  # every scrape, whichever worker answers it, sums both
        samples = scrape(server.url)
        assert samples["requests"] == sent and samples["retrievals"] == sent
        assert samples["ready"] == 1 and samples["chunks"] == built.result.chunks

    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(30) == 0
    assert not folder.exists()
