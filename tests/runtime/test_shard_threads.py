"""A shard pod embeds with the thread count the operator renders from its CPU (OMP_NUM_THREADS,
render/job.py `shard_threads`): `oozo index --shard K/N` in a real process with the real model
takes the count it is given instead of a thread per core of the node."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.doc_commands import VENV_BIN
from tests.runtime.corpus import make_corpus


def model_threads(stderr: str) -> int:
    """The torch thread count of the 'loading embedding model' log line."""
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    (loading,) = [line for line in lines if line.get("message") == "loading embedding model"]
    return int(loading["threads"])


@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_shard_embeds_with_the_omp_num_threads_it_is_given(tmp_path: Path, threads: str) -> None:
    docs = make_corpus(tmp_path / "docs", 6).root
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    shard = subprocess.run(
        [
            str(VENV_BIN / "oozo"),
            "index",
            str(docs),
            "--shard",
            "0/2",
            "--staging",
            str(tmp_path / "staging"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert shard.returncode == 0, shard.stderr
    assert model_threads(shard.stderr) == int(threads)
