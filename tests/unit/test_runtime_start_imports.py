"""What `oozo serve` imports before /ready is its start time (docs/benchmarks.md): the clients of
things a server may not be configured to use (Redis for a shared answer cache, the OpenAI client
for an LLM, boto3 for S3), the MCP SDK and torch load only when a request or setting needs them."""

from __future__ import annotations

import json
import subprocess
import sys

ONLY_WHEN_NEEDED = (
    "redis",
    "openai",
    "boto3",
    "botocore",
    "mcp",
    "torch",
    "sentence_transformers",
    "rich",
    "jinja2",
)


def test_a_server_with_the_default_settings_imports_none_of_the_optional_clients() -> None:
    probe = (
        "import json, sys\n"
        "import oozo_runtime.cli, oozo_runtime.commands\n"
        "from oozo_contract.serve_settings import ServeSettings\n"
        "from oozo_runtime.server.app import create_app\n"
        "create_app(ServeSettings(), load=False)\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({ONLY_WHEN_NEEDED!r}))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_redis_client_is_imported_once_a_shared_cache_is_configured() -> None:
    """The probe above could pass by never loading anything: with Redis configured, it does."""
    probe = (
        "import sys\n"
        "from oozo_contract.serve_settings import ServeSettings\n"
        "from oozo_runtime.server.app import create_app\n"
        "create_app(ServeSettings(answer_cache_redis_url='redis://127.0.0.1:1/0'), load=False)\n"
        "print('redis' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True"
