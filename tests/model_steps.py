"""Steps shared by the tests of models fetched from elsewhere at index time, a Hugging Face Hub
model (tests/runtime/test_hub_models.py) and a model from an S3 prefix
(tests/s3/test_model_from_s3.py): the same small handbook to index, and the check that the
built index answers with nothing but the cached model, through `oozo query` and `oozo serve`
alike (the pods that serve never reach the hub or the bucket)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import httpx

from tests.runtime.conftest import Server
from tests.s3.helpers import oozo

HANDBOOK = {
    "leave.md": "# Leave\n\nEvery employee has 27 days of paid leave a year.\n",
    "travel.md": "# Travel\n\nBook trains for trips under 600 km; flights need approval.\n",
}
OFFLINE = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def write_docs(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in docs.items():
        (folder / name).write_text(text)
    return folder


def assert_answers_from_the_cached_model(
    query: Sequence[str], index: Path, model: str, env: dict[str, str], serve_log: Path
) -> None:
    """`oozo query` (its arguments `query`, asking about paid leave) and `oozo serve` (asked
    about trips by train) answer from `index` with `model` loaded from the cache beside it, in
    `env`: an environment that reaches no hub and no bucket."""
    answer = oozo(*query, "--json", env=env)
    assert answer.code == 0, answer.stderr
    assert json.loads(answer.stdout)["sources"][0]["document"] == "leave.md"
    server = Server(index, serve_log, {**env, "OOZO_MODEL": model})
    try:
        server.wait_ready()
        reply = httpx.post(
            server.url + "/api/query", json={"question": "Which trips go by train?"}, timeout=30
        )
        assert reply.status_code == 200 and reply.json()["sources"][0]["document"] == "travel.md"
    finally:
        server.stop()
