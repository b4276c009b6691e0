"""`bench.run --only build`: a parallel build against one pod on the same two cores
(docs/benchmarks.md, docs/capacity.md).

One real corpus (.docx files from bench/runtime_bench.py, a few thousand chunks) is indexed with
the bundled model on CPU, by the commands the index Job runs, as whole `oozo` processes:

- one pod: `oozo index SOURCE --out A` with 2 torch threads (OMP_NUM_THREADS=2);
- parallelism 2: `oozo index SOURCE --out B --shard K --shards 2 --merge` for K = 0 and 1,
  started together, 1 torch thread each, as the Indexed Job's two pods run; the shard that finds
  both staged merges and publishes (indexing/shards.py `claim_merge`).

Both index folders start warm the way a PVC is after its first build: a one-document version of
another corpus is current, so the model's ONNX graph is exported already (once per model
revision) and the embedding cache holds nothing of the measured corpus. The whole build is the
wall clock from starting the processes to the last one's exit (interpreter, imports and model
load included, as in a pod); the merge's time is the merging process's own `buildSeconds`.
Parallel efficiency is chunks/s per core of the two shards ÷ chunks/s per core of the one pod;
both use two cores, so it is the ratio of their chunks/s. The runs alternate (one pod, two
shards, one pod, two shards) and the medians are reported, with the load average before and
after, since the machine is shared. One more run starts the two shards without a thread count,
as the Job's pods run (torch then takes a thread per core in each: four on two cores).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.runtime_bench import make_corpus

DOCUMENTS = 84  # about 2,000 chunks at the default chunking
SHARDS = 2
ROUNDS = 2


def _oozo(*args: str) -> list[str]:
    return [sys.executable, "-m", "oozo_runtime.cli", *args]


def _env(threads: int | None) -> dict[str, str]:
    """torch reads OMP_NUM_THREADS when it starts; MKL the other, in builds linked against it.
    None: neither is set, as in the index Job's pods, and torch takes a thread per core."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if threads is None:
        return env
    return {**env, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def _last_json(stdout: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return result


def _warm(seed: Path, folder: Path) -> None:
    """A one-document version current in `folder`: its ONNX graph is what a build reuses."""
    subprocess.run(
        _oozo("index", str(seed), "--out", str(folder)), env=_env(2), capture_output=True, check=True
    )


def one_pod(source: Path, folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.run(
        _oozo("index", str(source), "--out", str(folder)),
        env=_env(2),
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    result = _last_json(proc.stdout)
    return {
        "chunks": result["chunks"],
        "wallSeconds": round(wall, 2),
        "buildSeconds": result["buildSeconds"],
        # What a replica needs for this version (docs/indexes.md), for the capacity page.
        "memoryBytes": result["vectorIndex"]["memoryBytes"],
        "versionBytes": result["sizeBytes"],
    }


def sharded(source: Path, folder: Path, threads: int | None = 1) -> dict[str, Any]:
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            _oozo(
                "index",
                str(source),
                "--out",
                str(folder),
                "--shard",
                str(k),
                "--shards",
                str(SHARDS),
                "--merge",
            ),
            env=_env(threads),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(SHARDS)
    ]
    outputs = []
    for proc in procs:
        stdout, stderr = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"shard exited {proc.returncode}: {stderr[-2000:]}")
        outputs.append((_last_json(stdout), time.perf_counter() - started))
    wall = max(ended for _, ended in outputs)
    merged = [result for result, _ in outputs if "version" in result]
    if len(merged) != 1:
        raise RuntimeError(f"expected one shard to merge, got {[r for r, _ in outputs]}")
    shard_seconds = [r["seconds"] for r, _ in outputs if "version" not in r]
    return {
        "chunks": merged[0]["chunks"],
        "wallSeconds": round(wall, 2),
        "mergeSeconds": merged[0]["buildSeconds"],
        "mergeFraction": round(merged[0]["buildSeconds"] / wall, 4),
        "otherShardSeconds": shard_seconds,
    }


def run(out: Path) -> dict[str, Any]:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="oozo-build-bench-") as scratch:
        root = Path(scratch)
        make_corpus(root / "source", DOCUMENTS)
        make_corpus(root / "seed", 1, seed=99)
        (root / "seed" / "doc0000.docx").rename(root / "seed" / "seed.docx")  # a path not in the corpus
        _warm(root / "seed", root / "warm")
        single: list[dict[str, Any]] = []
        parallel: list[dict[str, Any]] = []
        for n in range(ROUNDS):
            for folder, measure, rows in (("one", one_pod, single), ("two", sharded, parallel)):
                target = root / f"{folder}-{n}"
                shutil.copytree(root / "warm", target, symlinks=True)
                rows.append(measure(root / "source", target))
                print(json.dumps({folder: rows[-1]}), flush=True)
                shutil.rmtree(target)
        # As the Job runs its pods today: no thread count set, so each shard takes every core.
        target = root / "unpinned"
        shutil.copytree(root / "warm", target, symlinks=True)
        unpinned = sharded(root / "source", target, threads=None)
        print(json.dumps({"unpinned": unpinned}), flush=True)
    load_after = os.getloadavg()
    chunks = single[0]["chunks"]
    if any(r["chunks"] != chunks for r in single + parallel):
        raise RuntimeError("the one-pod and the sharded builds indexed different chunks")
    one_wall = statistics.median(r["wallSeconds"] for r in single)
    two_wall = statistics.median(r["wallSeconds"] for r in parallel)
    merge_fraction = statistics.median(r["mergeFraction"] for r in parallel)
    return {
        "documents": DOCUMENTS,
        "chunks": chunks,
        "cores": os.cpu_count(),
        "loadAverage1mBefore": round(load_before[0], 2),
        "loadAverage1mAfter": round(load_after[0], 2),
        "onePod": single,
        "twoShards": parallel,
        "onePodChunksPerSecond": round(chunks / one_wall, 1),
        "twoShardsChunksPerSecond": round(chunks / two_wall, 1),
        "mergeSeconds": round(statistics.median(r["mergeSeconds"] for r in parallel), 2),
        "mergeFraction": merge_fraction,
        "parallelEfficiency": round(one_wall / two_wall, 3),  # same two cores: the chunks/s ratio
        "twoShardsUnpinned": unpinned,
        "twoShardsUnpinnedChunksPerSecond": round(chunks / unpinned["wallSeconds"], 1),
        "unpinnedEfficiency": round(one_wall / unpinned["wallSeconds"], 3),
        "replicaMemoryBytesPerChunk": round(single[0]["memoryBytes"] / chunks),
    }


def _verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def markdown_rows(r: dict[str, Any]) -> list[str]:
    return [
        f"| build benchmark ({r['documents']} .docx, {r['chunks']:,} chunks, bundled model, CPU) "
        "| measured (median of alternating runs) | target |",
        "|---|---|---|",
        f"| one pod, 2 torch threads | {r['onePodChunksPerSecond']} chunks/s (whole build "
        f"{statistics.median(x['wallSeconds'] for x in r['onePod'])} s) | baseline |",
        f"| parallelism 2: two shards at 1 thread each, then the merge | {r['twoShardsChunksPerSecond']} "
        f"chunks/s (whole build {statistics.median(x['wallSeconds'] for x in r['twoShards'])} s) | |",
        f"| merge | {r['mergeSeconds']} s = **{r['mergeFraction']:.1%}** of the build "
        f"| ≤ 5 %: {_verdict(r['mergeFraction'] <= 0.05)} |",
        f"| parallel efficiency (chunks/s per core, two shards ÷ one pod) | **{r['parallelEfficiency']}** "
        f"| ≥ 0.9: {_verdict(r['parallelEfficiency'] >= 0.9)} |",
        f"| the same two shards without a thread count (as the Job's pods run: each takes every core) "
        f"| {r['twoShardsUnpinnedChunksPerSecond']} chunks/s, efficiency {r['unpinnedEfficiency']} "
        f"(one run) | |",
        f"| replica memory the version reports (`memoryBytes`, flat index) | "
        f"{r['replicaMemoryBytesPerChunk']:,} bytes per chunk | for docs/capacity.md |",
        "",
        f"Load average (1 min) {r['loadAverage1mBefore']} before, {r['loadAverage1mAfter']} after, on "
        f"{r['cores']} cores shared with other work. Both index folders warm (ONNX graph exported, "
        "no vector of this corpus cached); whole builds are the processes' wall clock, model load "
        "included (bench/build_bench.py says how).",
    ]
