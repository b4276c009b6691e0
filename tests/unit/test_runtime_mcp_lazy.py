"""The MCP SDK stays off the server's start-up path: importing and building the app imports no
`mcp` module (the SDK's import is about 1.5 s of the start to /ready); the first /mcp request
builds the SDK's app, which leaves the process's logging alone."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.server.app import create_app


def test_building_the_app_imports_no_mcp_sdk() -> None:
    probe = (
        "import json, sys\n"
        "from oozo_runtime.server.app import create_app\n"
        "create_app(load=False)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types')"
        " or m == 'oozo_runtime.server.routes.mcp_endpoint')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_building_the_mcp_app_leaves_the_root_logger_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from oozo_runtime.server.routes.mcp_endpoint import asgi_app

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.ERROR)
    asgi_app(create_app(ServeSettings(), load=False).state.oozo)
    assert root.handlers == [] and root.level == logging.ERROR
