"""The pool that encodes and searches questions is as wide as the CPUs the server may use: with
one CPU, sixteen questions at once are all answered, one at a time through the pool."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

import httpx

from tests.runtime.conftest import Built


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


async def ask_at_once(url: str, questions: list[str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        return await asyncio.gather(
            *(client.post("/api/query", json={"question": q, "top_k": 5}) for q in questions)
        )


def test_the_query_pool_is_bounded_by_the_cpus_the_server_may_use(built: Built, serve: Any) -> None:
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})  # the server process inherits one CPU
    try:
        # the answer cache off: every question is encoded and searched
        server = serve(built.index_dir, {"OOZO_ANSWER_CACHE_SIZE": "0"})
    finally:
        os.sched_setaffinity(0, allowed)
    server.wait_ready()
    facts = [built.corpus.facts[i % 8] for i in range(16)]  # each asked twice, all at once

    replies = asyncio.run(ask_at_once(server.url, [f.question for f in facts]))

    assert [r.status_code for r in replies] == [200] * 16
    for reply, fact in zip(replies, facts, strict=True):  # each its own answer, none mixed up
        assert fact.answer in reply.json()["answer"], (fact.question, reply.json()["answer"])
    metrics = httpx.get(server.url + "/metrics").text
    assert metric(metrics, "rag_query_pool_size") == 1
    assert metric(metrics, "rag_query_pool_in_flight_peak") == 1
    assert metric(metrics, "rag_query_pool_in_flight") == 0
