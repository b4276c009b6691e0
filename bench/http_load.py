"""A lean concurrent load generator for `/api/query`: HTTP/1.1 keep-alive connections on asyncio
streams (on uvloop), one request at a time per connection, the request bytes built once.

Why not httpx.AsyncClient: the load runs on the same cores as the server it measures, and httpx
spent 3 to 7 ms of CPU per request at concurrency 32 on this 2-core machine (measured with
os.times() around the load, 2026-11-30), against the server's own 10 to 12 ms: at 165 req/s the
client held most of a core the server needed. A load generator on another machine (wrk, hey, a
real client fleet) costs the server nothing; this one costs it as little as a Python client can.
It speaks only what `oozo serve` answers: a status line, headers with Content-Length, a JSON body.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import time
from typing import Any
from urllib.parse import urlsplit


class LoadError(RuntimeError):
    pass


def _request(host: str, path: str, payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        raise LoadError(f"response without Content-Length (status {status})")
    return status, await reader.readexactly(length)


async def _load(url: str, path: str, payloads: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [_request(f"{host}:{port}", path, p) for p in payloads]
    samples: list[float] = []
    server_ms: list[float] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while requests:
                request = requests.pop()
                started = time.perf_counter()
                writer.write(request)
                status, body = await _read_response(reader)
                samples.append(time.perf_counter() - started)
                if status != 200:
                    raise LoadError(f"{path} answered {status}: {body[:200]!r}")
                server_ms.append(json.loads(body)["timings"]["total_ms"])
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "rps": round(len(samples) / elapsed, 1),
        "server_p50_ms": round(statistics.median(server_ms), 2),
    }


def query_load(url: str, questions: list[str], concurrency: int, top_k: int = 5) -> dict[str, Any]:
    """POST each question to /api/query over `concurrency` connections: latency percentiles,
    req/s, the server's own p50 (`timings.total_ms`) and this client's CPU per request."""
    import uvloop

    payloads = [{"question": q, "top_k": top_k} for q in questions]
    before = os.times()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(_load(url, "/api/query", payloads, concurrency))
    after = os.times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return {**result, "client_cpu_ms_per_request": round(cpu / len(questions) * 1000, 2)}
