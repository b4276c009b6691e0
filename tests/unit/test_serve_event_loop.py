"""`oozo serve` runs uvicorn on uvloop (server/http.py): the loop its options make is libuv's."""

from __future__ import annotations

import asyncio

import pytest
import uvicorn
import uvloop

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.server.http import uvicorn_options

pytestmark = pytest.mark.unit


def test_the_server_runs_on_uvloop() -> None:
    config = uvicorn.Config(app=lambda *_: None, **uvicorn_options(ServeSettings()))
    loop_factory = config.get_loop_factory()
    assert loop_factory is not None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        running = runner.run(_running_loop())
    assert isinstance(running, uvloop.Loop)


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()
