"""`bench.run --only scale`: the FAISS index types at 100k and 1M chunks (docs/indexes.md).

Synthetic vectors of the default model's dimension (384), drawn like real embeddings: normalised
points around 2,000 centres (a Gaussian mixture, noise 0.6 of the centre spread), so neighbours
exist and clusters are uneven in the way a document corpus's are; uniform noise would make every
approximate index look worse than it does on text. For each size and type the index is built by
the code `oozo index` uses (`plan_index` + `build_vector_index`, auto's parameters for the type),
written, and loaded by a fresh process as a replica loads it (`read_vector_index`, memory-mapped),
which then answers 300 held-out questions: one at a time on one thread (search p50/p99), then
from 32 threads at once, one OpenMP thread each as the server's workers search (p50/p99 of each
question's own time), and reports its resident memory (anonymous, and mapped file pages it
touched). Recall@5 and recall@10 are those of the held-out questions against exact search over
the same vectors (faiss.knn); `build recall@10` is the build's own measurement stored in the
manifest (`measure_recall`, 256 of the corpus's vectors as questions).

HNSW (both storages) at 1M is skipped unless OOZO_BENCH_SCALE_HNSW_1M=1: its build alone took
231 s on two shared cores (the whole suite with it, 10 minutes), too long for every `make bench`.
OOZO_BENCH_SCALE_TYPES=hnswfp16,... measures only those types (all of them by default).

OOZO_BENCH_SCALE_REAL_INDEX=PATH (a flat index.faiss of a real corpus, e.g. the runtime
benchmark's 10,808 chunks) adds rows for each type over those real vectors, 300 of them held out
as questions: whether the synthetic vectors are harder or easier for an index type than text.
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
TYPES = ("flat", "hnsw", "hnswfp16", "ivfpq")
CENTRES = 2_000
QUESTIONS = 300

REPLICA = """
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
import numpy as np
import faiss
from oozo_runtime.retrieval import one_openmp_thread, read_vector_index

def memory():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {k: int(fields[k].split()[0]) // 1024 for k in ("VmRSS", "RssAnon", "RssFile")}

faiss.omp_set_num_threads(1)  # as the server searches
started = time.perf_counter()
index = read_vector_index(sys.argv[1])
load_seconds = time.perf_counter() - started
questions = np.load(sys.argv[2])
truth = np.load(sys.argv[3])

def ask(q):
    one_openmp_thread()  # as a server worker searches
    t = time.perf_counter()
    _, found = index.search(q[None, :], 10)
    return (time.perf_counter() - t) * 1000, found[0]

def percentiles(took):
    took = sorted(took)
    return round(took[len(took) // 2], 3), round(took[int(len(took) * 0.99)], 3)

answers = [ask(q) for q in questions]
found = [f for _, f in answers]
with ThreadPoolExecutor(32) as pool:
    concurrent = list(pool.map(ask, questions))

def recall(k):
    hits = sum(len(set(t[:k].tolist()) & set(f[:k].tolist())) for t, f in zip(truth, found))
    return round(hits / (k * len(truth)), 4)

p50, p99 = percentiles([t for t, _ in answers])
c32p50, c32p99 = percentiles([t for t, _ in concurrent])
print(json.dumps({
    "loadSeconds": round(load_seconds, 3),
    "recallAt5": recall(5),
    "recallAt10": recall(10),
    "p50ms": p50, "p99ms": p99, "c32p50ms": c32p50, "c32p99ms": c32p99,
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


def exact_top10(vectors: np.ndarray, questions: Path, folder: Path) -> Path:
    """The exact top 10 of the held-out questions over `vectors`: what recall is counted against."""
    import faiss

    _, truth = faiss.knn(np.load(questions), vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
    path = folder / f"truth-{len(vectors)}.npy"
    np.save(path, truth)
    return path


def measure(vectors: np.ndarray, questions: Path, truth: Path, kind: str, folder: Path) -> dict[str, Any]:
    import faiss

    from oozo_contract.index_settings import IndexSettings
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
        [sys.executable, "-c", REPLICA, str(path), str(questions), str(truth)],
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
        "buildRecallAt10": facts.recall_at10,
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
    chosen = os.environ.get("OOZO_BENCH_SCALE_TYPES")
    types = [t for t in TYPES if not chosen or t in chosen.split(",")]
    with tempfile.TemporaryDirectory(prefix="oozo-scale-") as scratch:
        folder = Path(scratch)
        questions = folder / "questions.npy"
        np.save(questions, mixture(QUESTIONS, 1, centres))  # held out: not in any corpus
        for size in SIZES:
            vectors = mixture(size, 2, centres)
            truth = exact_top10(vectors, questions, folder)
            for kind in types:
                if kind.startswith("hnsw") and size >= 1_000_000 and not hnsw_at_1m:
                    rows.append(
                        {"chunks": size, "type": kind, "skipped": "opt in with OOZO_BENCH_SCALE_HNSW_1M=1"}
                    )
                    continue
                rows.append(measure(vectors, questions, truth, kind, folder))
            del vectors
        real = os.environ.get("OOZO_BENCH_SCALE_REAL_INDEX")
        if real:
            rows += real_vector_rows(Path(real), folder, types)
    return {"dimension": DIMENSION, "centres": CENTRES, "questions": QUESTIONS, "rows": rows}


def real_vector_rows(flat_index: Path, folder: Path, types: list[str]) -> list[dict[str, Any]]:
    """Each type over the vectors of a real corpus's flat index, 300 of them held out as questions
    (seeded), labelled `real`: the same measurement as the synthetic rows."""
    import faiss

    everything = faiss.read_index(str(flat_index))
    vectors = everything.reconstruct_n(0, everything.ntotal)
    held = np.zeros(len(vectors), dtype=bool)
    held[np.random.default_rng(7).choice(len(vectors), QUESTIONS, replace=False)] = True
    questions = folder / "real-questions.npy"
    np.save(questions, vectors[held])
    corpus = np.ascontiguousarray(vectors[~held])
    truth = exact_top10(corpus, questions, folder)
    return [{**measure(corpus, questions, truth, kind, folder), "vectors": "real"} for kind in types]


def markdown_rows(result: dict[str, Any]) -> list[str]:
    rows = [
        "| chunks | type (parameters) | build s | recall@5 / @10 vs flat (build's @10) | index MiB "
        "| replica load s | search p50 / p99 ms, 1 client | p50 / p99 ms, 32 clients "
        "| replica RSS MiB (anonymous + mapped file) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        if "skipped" in r:
            rows.append(f"| {r['chunks']:,} | {r['type']} | not run: {r['skipped']} | | | | | | |")
            continue
        params = ", ".join(f"{k} {v}" for k, v in r["params"].items())
        kind = f"{r['type']} ({params})" if params else r["type"]
        chunks = f"{r['chunks']:,} real" if r.get("vectors") == "real" else f"{r['chunks']:,}"
        rows.append(
            f"| {chunks} | {kind} | {r['buildSeconds']} | {r['recallAt5']} / {r['recallAt10']} "
            f"({r['buildRecallAt10']}) | {r['indexMiB']} | {r['loadSeconds']} | {r['p50ms']} / {r['p99ms']} "
            f"| {r['c32p50ms']} / {r['c32p99ms']} | {r['VmRSSMiB']} ({r['RssAnonMiB']} + {r['RssFileMiB']}) |"
        )
    rows += [
        "",
        f"Synthetic {result['dimension']}-d vectors around {result['centres']:,} centres "
        f"(bench/scale_bench.py says how); {result['questions']} held-out questions, one at a time "
        "and from 32 threads; rows marked real are the vectors of a real corpus's index.",
    ]
    return rows
