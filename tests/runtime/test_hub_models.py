"""Any Hugging Face model id: `oozo index --model ORG/NAME` downloads it once through the hub
endpoint (OOZO_HUB_ENDPOINT, a mirror) into the model cache beside the index, records the commit
as the manifest's modelRevision, and `oozo query`/`oozo serve` load that commit offline.

No Hugging Face Hub is reachable here: the hub is olah (a real hub mirror server, offline,
serving local git repositories: devcluster/hubserver.py) holding the bundled all-MiniLM-L6-v2's
real files under other ids, behind a token gate that answers as the hub does for gated models."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.hubserver import HubServer, TokenGate
from devcluster.ports import free_port
from oozo_contract.defaults import DEFAULT_MODEL
from oozo_runtime.model_files import resolve_model_path
from tests.doc_commands import documented
from tests.model_steps import HANDBOOK, OFFLINE, assert_answers_from_the_cached_model, write_docs
from tests.s3.helpers import Run, oozo

MODEL, GATED = "oozo-test/minilm", "oozo-test/gated-minilm"
TOKEN = "hf_oozo_test_token_0123456789"  # a test value; must never be printed
# what docs/operator.md's commands name, swapped for this test's hub and model
DOCUMENTED_MODEL, DOCUMENTED_HUB = "intfloat/multilingual-e5-small", "http://127.0.0.1:8090"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubServer, TokenGate, dict[str, str]]]:
    server = HubServer(tmp_path_factory.mktemp("hub")).start()
    bundled = Path(resolve_model_path(DEFAULT_MODEL))
    commits = {MODEL: server.add_model(MODEL, bundled), GATED: server.add_model(GATED, bundled)}
    gate = TokenGate(server.url, TOKEN, {GATED}).start()
    yield server, gate, commits
    gate.stop()
    server.stop()


def online(gate: TokenGate, **extra: str) -> dict[str, str]:
    # olah reads the weights out of git on first request: on a busy machine that can take longer
    # than huggingface_hub's default 10 s without a byte
    return {
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DOWNLOAD_TIMEOUT": "120",
        "TOKENIZERS_PARALLELISM": "false",
        "OOZO_HUB_ENDPOINT": gate.url,
        **extra,
    }


def docs_in(tmp_path: Path) -> Path:
    return write_docs(tmp_path / "docs", HANDBOOK)


def downloads(gate: TokenGate, since: int) -> list[str]:
    return [path for _, path, _ in gate.requests[since:] if "/resolve/" in path]


def as_run(command: str, gate: TokenGate, tmp_path: Path) -> tuple[dict[str, str], list[str]]:
    """A documented `VAR=value ... oozo ARGS` line as (env, args), with the page's model id, hub
    and relative paths swapped for this test's."""
    words = [
        w.replace(DOCUMENTED_MODEL, MODEL).replace(DOCUMENTED_HUB, gate.url).replace("./", f"{tmp_path}/")
        for w in shlex.split(command)
    ]
    program = words.index("oozo")
    env = dict(w.split("=", 1) for w in words[:program])
    return env, words[program + 1 :]


def test_a_hub_model_is_downloaded_once_its_commit_recorded_and_served_offline(
    hub: tuple[HubServer, TokenGate, dict[str, str]], tmp_path: Path
) -> None:
    server, gate, commits = hub
    docs_in(tmp_path).rename(tmp_path / "handbook")
    index = tmp_path / "index"
    # docs/operator.md, "Any Hugging Face model": its two commands, as the page shows them
    index_env, index_args = as_run(
        documented("docs/operator.md", contains="oozo index ./handbook"), gate, tmp_path
    )
    query_env, query_args = as_run(
        documented("docs/operator.md", contains='oozo query "How many days'), gate, tmp_path
    )
    args = tuple(index_args)
    assert args[-2:] == ("--model", MODEL) and index_env["HF_HUB_OFFLINE"] == "0"

    seen = len(gate.requests)
    built = oozo(*args, env={**online(gate), **index_env})
    assert built.code == 0, built.stderr
    assert downloads(gate, seen), "the first build downloads the model's files"
    assert not any(name.endswith((".h5", ".onnx")) for name in downloads(gate, seen))
    manifest = json.loads((index / "current" / "manifest.json").read_text())
    assert manifest["embedding"]["modelRevision"] == commits[MODEL]
    assert built.result["chunksTruncated"] == 0  # the downloaded tokenizer fitted the chunks
    assert (index / "models" / "hub" / "models--oozo-test--minilm" / "snapshots" / commits[MODEL]).is_dir()

    seen = len(gate.requests)  # a later build: one question for the revision, no download
    again = oozo(*args, env=online(gate))
    assert again.code == 0, again.stderr
    assert downloads(gate, seen) == [] and len(gate.requests) - seen == 1
    assert (again.result["version"], again.result["unchanged"]) == (built.result["version"], True)

    # Strictly offline, with no endpoint that answers: the recorded commit from the cache.
    dead = {**OFFLINE, "OOZO_HUB_ENDPOINT": f"http://127.0.0.1:{free_port()}", **query_env}
    assert query_env["HF_HUB_OFFLINE"] == "1"
    assert_answers_from_the_cached_model(query_args, index, MODEL, dead, tmp_path / "serve.log")

    # A new upstream commit on main is a new index input: rebuilt, the new commit recorded.
    (tmp_path / "card").mkdir()
    (tmp_path / "card" / "README.md").write_text("# retrained\n")
    new_commit = server.add_model(MODEL, tmp_path / "card")
    changed = oozo(*args, env=online(gate))
    assert changed.code == 0, changed.stderr
    assert changed.result["unchanged"] is False and changed.result["version"] != built.result["version"]
    manifest = json.loads((index / "current" / "manifest.json").read_text())
    assert manifest["embedding"]["modelRevision"] == new_commit != commits[MODEL]


@pytest.fixture
def index_step_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process, as in the index Job (HF_HUB_OFFLINE=0): the runtime tier runs offline."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_a_pinned_commit_already_cached_costs_no_request(
    hub: tuple[HubServer, TokenGate, dict[str, str]], tmp_path: Path, index_step_online: None
) -> None:
    from oozo_contract.index_settings import IndexSettings
    from oozo_runtime.hub_models import download_hub_model

    _, gate, commits = hub
    settings = IndexSettings(model=MODEL, hub_endpoint=gate.url, hub_revision=commits[MODEL])
    root = tmp_path / "models"
    folder, commit = download_hub_model(settings, root)
    assert commit == commits[MODEL] and (folder / "model.safetensors").is_file()
    seen = len(gate.requests)
    assert download_hub_model(settings, root) == (folder, commit)
    assert len(gate.requests) == seen


def test_a_gated_model_downloads_with_its_token_only(
    hub: tuple[HubServer, TokenGate, dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    index_step_online: None,
) -> None:
    from oozo_contract.index_settings import IndexSettings
    from oozo_runtime.hub_models import download_hub_model

    _, gate, commits = hub
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    folder, commit = download_hub_model(IndexSettings(model=GATED, hub_endpoint=gate.url), tmp_path)
    assert commit == commits[GATED] and (folder / "tokenizer.json").is_file()


@pytest.mark.parametrize(
    ("model", "token", "says"),
    [
        ("oozo-test/no-such-model", None, "was not found"),
        (GATED, None, "is gated"),
        (GATED, "hf_wrong_token_value", "refused the token"),
    ],
    ids=["unknown-repository", "token-required", "wrong-token"],
)
def test_hub_errors_fail_the_build_as_model_unavailable_naming_the_model_never_the_token(
    hub: tuple[HubServer, TokenGate, dict[str, str]], tmp_path: Path, model: str, token: str | None, says: str
) -> None:
    _, gate, _ = hub
    env = online(gate, **({"HF_TOKEN": token} if token else {}))
    run = oozo("index", str(docs_in(tmp_path)), "--out", str(tmp_path / "index"), "--model", model, env=env)
    assert_model_unavailable(run, model, says)
    assert TOKEN not in run.stderr + run.stdout and "hf_wrong_token_value" not in run.stderr + run.stdout


def test_an_unreachable_hub_fails_the_build_as_model_unavailable(tmp_path: Path) -> None:
    env = {"HF_HUB_OFFLINE": "0", "OOZO_HUB_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    run = oozo("index", str(docs_in(tmp_path)), "--out", str(tmp_path / "index"), "--model", MODEL, env=env)
    assert_model_unavailable(run, MODEL, "cannot be reached")


def assert_model_unavailable(run: Run, model: str, says: str) -> None:
    assert run.code != 0
    assert run.error["reason"] == "ModelUnavailable", run.stderr
    assert model in run.error["error"] and says in run.error["error"], run.error


def test_a_commit_no_kept_version_records_is_pruned_from_the_index_folders_model_cache(
    hub: tuple[HubServer, TokenGate, dict[str, str]], tmp_path: Path
) -> None:
    """Retention removes a hub commit with the last version that recorded it; the commit still
    served stays whole (the weights blobs both commits share are kept) and loads offline."""
    server, gate, _ = hub
    model = "oozo-test/pruned-minilm"
    old = server.add_model(model, Path(resolve_model_path(DEFAULT_MODEL)))
    index = tmp_path / "index"
    args = ("index", str(docs_in(tmp_path)), "--out", str(index), "--model", model)
    env = online(gate, OOZO_KEEP_VERSIONS="1")
    assert oozo(*args, env=env).code == 0
    (tmp_path / "card").mkdir()
    (tmp_path / "card" / "README.md").write_text("# retrained\n")
    new = server.add_model(model, tmp_path / "card")
    rebuilt = oozo(*args, env=env)
    assert rebuilt.code == 0, rebuilt.stderr
    repo = index / "models" / "hub" / ("models--" + model.replace("/", "--"))
    # the old version was serving while the new one rolled out: kept, and so is its commit
    assert (repo / "snapshots" / old).is_dir() and (repo / "snapshots" / new).is_dir()

    again = oozo(*args, env=env)  # the next build: the old version goes, and its commit with it
    assert again.code == 0 and again.result["prunedVersions"] == 1, again.stderr
    assert not (repo / "snapshots" / old).exists() and not (repo / "oozo-complete" / old).exists()
    assert (repo / "snapshots" / new / "model.safetensors").resolve().is_file()
    answer = oozo(
        "query",
        "How many days of paid leave?",
        "--index",
        str(index),
        "--json",
        env={**OFFLINE, "OOZO_MODEL": model},
    )
    assert answer.code == 0 and json.loads(answer.stdout)["sources"][0]["document"] == "leave.md"


def test_a_model_cache_outside_the_index_folder_is_never_pruned(
    hub: tuple[HubServer, TokenGate, dict[str, str]], tmp_path: Path, index_step_online: None
) -> None:
    """A cache given with OOZO_MODEL_CACHE_DIR may serve other indexes on the same laptop: the
    commits in it stay whatever this index's versions record."""
    from oozo_contract.index_settings import IndexSettings
    from oozo_runtime.hub_models import download_hub_model
    from oozo_runtime.indexing.retention import retain

    _, gate, commits = hub
    shared = tmp_path / "shared-models"
    folder, _ = download_hub_model(
        IndexSettings(model=MODEL, hub_endpoint=gate.url, hub_revision=commits[MODEL]), shared
    )
    (tmp_path / "index").mkdir()
    retain(tmp_path / "index", 1, set(), shared)
    assert (folder / "model.safetensors").is_file()
