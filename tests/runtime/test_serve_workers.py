"""`oozo serve` with OOZO_SERVER_WORKERS=2: two worker processes on one port, each mapping the
same FAISS file (one copy in the page cache), ready only once both have loaded; SIGTERM stops
them all, and a worker that dies takes the pod's server down instead of serving on half-size."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.runtime.conftest import Built
from tests.runtime.test_query_pool import ask_at_once


def workers_of(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children]


def maps_index_file(pid: int) -> bool:
    return any(
        line.rstrip().endswith("/index.faiss") for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
    )


def test_two_workers_share_the_port_and_the_mapped_index(built: Built, serve: Any) -> None:
    server = serve(built.index_dir, {"OOZO_SERVER_WORKERS": "2", "OOZO_ANSWER_CACHE_SIZE": "0"})
    server.wait_ready()
    workers = workers_of(server.proc.pid)
    assert len(workers) == 2
    assert all(maps_index_file(w) for w in workers)  # the vectors are mapped, not copied

    facts = [built.corpus.facts[i % 8] for i in range(16)]
    replies = asyncio.run(ask_at_once(server.url, [f.question for f in facts]))
    assert [r.status_code for r in replies] == [200] * 16
    for reply, fact in zip(replies, facts, strict=True):
        assert fact.answer in reply.json()["answer"]

    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(30) == 0
    assert not any(Path(f"/proc/{w}").exists() and "zombie" not in Path(f"/proc/{w}/status").read_text()
                   for w in workers)  # fmt: skip


def test_a_worker_that_dies_stops_the_server(built: Built, serve: Any) -> None:
    server = serve(built.index_dir, {"OOZO_SERVER_WORKERS": "2"})
    server.wait_ready()
    first, second = workers_of(server.proc.pid)
    os.kill(first, signal.SIGKILL)
    try:
        code = server.proc.wait(30)
    except subprocess.TimeoutExpired:
        raise AssertionError("the server kept running with one worker dead") from None
    assert code != 0
    assert not Path(f"/proc/{second}").exists() or "zombie" in Path(f"/proc/{second}/status").read_text()
    assert "server worker exited" in server.logs()
    try:
        httpx.get(server.url + "/health", timeout=2)
        raise AssertionError("the port still answers")
    except httpx.HTTPError:
        pass
