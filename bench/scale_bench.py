"""`bench.run --only scale`: the FAISS index types at 100k and 1M chunks (docs/indexes.md).

Synthetic vectors of the default model's dimension (384), drawn like real embeddings: normalised
points around 2,000 centres (a Gaussian mixture, noise 0.6 of the centre spread), so neighbours
exist and clusters are uneven in the way a document corpus's are; uniform noise would make every
approximate index look worse than it does on text. For each size and type the index is built by
the code `oozo index` uses (`plan_index` + `build_vector_index`, auto's parameters for the type),
written, and loaded by a fresh process as a replica loads it (`read_vector_index`, memory-mapped),
which then answers 300 held-out questions one at a time on one thread: search p50/p99, and its
resident memory (anonymous, and mapped file pages it touched). Recall@10 is the build's own
measurement against exact search (`measure_recall`, 256 of the corpus's vectors as questions).

HNSW at 1M is skipped unless OOZO_BENCH_SCALE_HNSW_1M=1: its build takes well over the suite's
ten minutes on two shared cores; the 100k row and its build rate say what to expect.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DIMENSION = 384
SIZES = (100_000, 1_000_000)
TYPES = ("flat", "hnsw", "ivfpq")
CENTRES = 2_000
QUESTIONS = 300

REPLICA = """
import json, sys, time
import numpy as np
import faiss
from oozo_runtime.retrieval import read_vector_index

def memory():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {k: int(fields[k].split()[0]) // 1024 for k in ("VmRSS", "RssAnon", "RssFile")}

faiss.omp_set_num_threads(1)  # as the server searches
started = time.perf_counter()
index = read_vector_index(sys.argv[1])
load_seconds = time.perf_counter() - started
questions = np.load(sys.argv[2])
took = []
for q in questions:
    t = time.perf_counter()
    index.search(q[None, :], 10)
    took.append((time.perf_counter() - t) * 1000)
took.sort()
print(json.dumps({
    "loadSeconds": round(load_seconds, 3),
    "p50ms": round(took[len(took) // 2], 3),
    "p99ms": round(took[int(len(took) * 0.99)], 3),
    **{k + "MiB": v for k, v in memory().items()},
}))
"""


def mixture(count: int, seed: int, centres: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((count, DIMENSION), dtype=np.float32)
    step = 100_000
    for start in range(0, count, step):
        n = min(step, count - start)
        picked = centres[rng.integers(0, len(centres), n)]
        out[start : start + n] = picked + 0.6 * rng.standard_normal((n, DIMENSION), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def measure(vectors: np.ndarray, questions: Path, kind: str, folder: Path) -> dict[str, Any]:
    import faiss

    from oozo_contract.settings import IndexSettings
    from oozo_runtime.indexing.index_plan import plan_index
    from oozo_runtime.indexing.vector_index import build_vector_index

    plan = plan_index(IndexSettings(index_type=kind), len(vectors), DIMENSION)
    started = time.perf_counter()
    index, facts = build_vector_index(vectors, plan)
    seconds = time.perf_counter() - started  # recall measurement included, as in a build
    path = folder / f"{kind}-{len(vectors)}.faiss"
    faiss.write_index(index, str(path))
    del index
    replica = subprocess.run(
        [sys.executable, "-c", REPLICA, str(path), str(questions)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    loaded = json.loads(replica.stdout.strip().splitlines()[-1])
    row = {
        "chunks": len(vectors),
        "type": kind,
        "params": plan.params,
        "buildSeconds": round(seconds, 1),
        "recallAt10": facts.recall_at10,
        "indexMiB": round(path.stat().st_size / 2**20, 1),
        **loaded,
    }
    path.unlink()
    print(json.dumps(row), flush=True)
    return row


def run(out: Path) -> dict[str, Any]:
    rng = np.random.default_rng(2026)
    centres = rng.standard_normal((CENTRES, DIMENSION)).astype(np.float32)
    rows = []
    hnsw_at_1m = os.environ.get("OOZO_BENCH_SCALE_HNSW_1M") == "1"
    with tempfile.TemporaryDirectory(prefix="oozo-scale-") as scratch:
        folder = Path(scratch)
        questions = folder / "questions.npy"
        np.save(questions, mixture(QUESTIONS, 1, centres))  # held out: not in any corpus
        for size in SIZES:
            vectors = mixture(size, 2, centres)
            for kind in TYPES:
                if kind == "hnsw" and size >= 1_000_000 and not hnsw_at_1m:
                    rows.append(
                        {"chunks": size, "type": kind, "skipped": "build longer than the suite's budget"}
                    )
                    continue
                rows.append(measure(vectors, questions, kind, folder))
            del vectors
    return {"dimension": DIMENSION, "centres": CENTRES, "questions": QUESTIONS, "rows": rows}


def markdown_rows(result: dict[str, Any]) -> list[str]:
    rows = [
        "| chunks | type (parameters) | build s | recall@10 vs flat | index MiB | replica load s "
        "| search p50 / p99 ms (1 thread) | replica RSS MiB (anonymous + mapped file) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        if "skipped" in r:
            rows.append(f"| {r['chunks']:,} | {r['type']} | not run: {r['skipped']} | | | | | |")
            continue
        params = ", ".join(f"{k} {v}" for k, v in r["params"].items())
        kind = f"{r['type']} ({params})" if params else r["type"]
        rows.append(
            f"| {r['chunks']:,} | {kind} | {r['buildSeconds']} | {r['recallAt10']} | {r['indexMiB']} "
            f"| {r['loadSeconds']} | {r['p50ms']} / {r['p99ms']} | {r['VmRSSMiB']} ({r['RssAnonMiB']} + "
            f"{r['RssFileMiB']}) |"
        )
    rows += [
        "",
        f"Synthetic {result['dimension']}-d vectors around {result['centres']:,} centres "
        f"(bench/scale_bench.py says how); {result['questions']} held-out questions, one at a time.",
    ]
    return rows
