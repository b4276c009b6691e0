"""Running the app under uvicorn with every connection bounded: a keep-alive timeout, a deadline
for each request head, a cap on connections and on the size of a request head.

uvicorn's h11 protocol arms its keep-alive timer only once a response has been sent, and any
byte received cancels it: a client that opens a connection, sends half a request head and then
nothing holds that connection (and a slot of `max_connections`) for ever. Fifty of those would
starve the server (slowloris). `HeadDeadlineProtocol` gives every request head a deadline,
armed when a connection opens or a new request's first bytes arrive, and closes the connection
when the head is still incomplete at that time."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from oozo_contract.serve_settings import ServeSettings


class HeadDeadlineProtocol(H11Protocol):
    head_seconds: float = 10.0  # set per server by `protocol_for`

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.head_deadline: asyncio.TimerHandle | None = None
        # asyncio turns Nagle off only for sockets created with proto IPPROTO_TCP; a socket bound
        # before forking workers (server/workers.py) has proto 0, and h11 writes a response's
        # head and body in two sends: each answer then waited for the client's delayed ACK
        # (about 40 ms per request, measured).
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._awaiting_head():
            self._arm_head_deadline()
        else:
            self._cancel_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def _awaiting_head(self) -> bool:
        """h11 stays IDLE on the client's side until a whole request head has been parsed."""
        return self.conn.their_state is h11.IDLE and not self.transport.is_closing()

    def _arm_head_deadline(self) -> None:
        if self.head_deadline is None:
            self.head_deadline = self.loop.call_later(self.head_seconds, self._head_overdue)

    def _cancel_head_deadline(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _head_overdue(self) -> None:
        self.head_deadline = None
        if self._awaiting_head():
            # A connection idle between requests is the keep-alive timer's; closing it here
            # is the same outcome a little later, and never cuts a request being served.
            self.conn.send(h11.ConnectionClosed())
            self.transport.close()


def protocol_for(settings: ServeSettings) -> type[HeadDeadlineProtocol]:
    """A protocol class with this server's head deadline (uvicorn instantiates it per connection)."""
    return type(
        "HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"head_seconds": settings.request_head_seconds}
    )


def uvicorn_options(settings: ServeSettings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "http": protocol_for(settings),
        # libuv's loop: less CPU per request than asyncio's own (select, self-pipe wake-ups), which
        # the encoder thread's and the query pool's results wake for every request
        "loop": "uvloop",
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "log_config": None,
        "access_log": False,
        "server_header": False,  # no version banner for scanners
    }


def run(app: Any, settings: ServeSettings) -> None:
    uvicorn.run(app, **uvicorn_options(settings))
