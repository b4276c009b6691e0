"""The cost of refreshing an S3 source, against a full build of the same source (issue 14):

- full: `oozo index s3://BUCKET/handbook --out INDEX` into an empty index (fetch every object,
  parse, embed, publish), one process like the index Job;
- unchanged refresh: `oozo fetch` of the same prefix into the index's source cache, which is
  what a refresh asks first (equal revision: no build) — target < 5 % of the full build;
  and `oozo index s3://...` again, for when a build runs anyway (nothing fetched, nothing
  embedded, no new version);
- one changed document: `oozo index s3://...` after one object changed (one download, one
  document parsed and embedded, a new version) — target < 10 %.

All wall-clock seconds of whole processes, model load included, on the real MinIO on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.runtime_bench import make_corpus

DOCUMENTS = 200


def _oozo(*args: str, env: dict[str, str]) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "oozo_runtime.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"oozo {' '.join(args[:2])} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), seconds


def run(documents: int = DOCUMENTS, workdir: Path | None = None) -> dict[str, Any]:
    from devcluster.s3server import S3Server

    work = Path(workdir or tempfile.mkdtemp(prefix="oozo-fetch-bench-"))
    server = S3Server(work / "s3")
    server.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OOZO_"))}
        env.update(server.env(), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        bucket = server.make_bucket("bench-docs")
        source = work / "docs"
        make_corpus(source, documents)
        client = server.client()
        for path in sorted(source.iterdir()):
            client.upload_file(str(path), bucket, f"handbook/{path.name}")
        uri, index = f"s3://{bucket}/handbook", work / "index"
        index_args = ("index", uri, "--out", str(index), "--s3-endpoint", server.endpoint)
        cache = index / "source-cache"
        fetch_args = ("fetch", uri, "--into", str(cache / "files"), "--state-dir", str(cache / "state"))

        full, full_s = _oozo(*index_args, env=env)
        fetched, fetch_s = _oozo(*fetch_args, "--s3-endpoint", server.endpoint, env=env)
        unchanged, unchanged_s = _oozo(*index_args, env=env)

        import docx

        doc = docx.Document(str(source / "doc0000.docx"))
        doc.add_paragraph("Amendment: this section was revised for the benchmark.")
        doc.save(str(source / "doc0000.docx"))
        client.upload_file(str(source / "doc0000.docx"), bucket, "handbook/doc0000.docx")
        changed, changed_s = _oozo(*index_args, env=env)
        assert fetched["fetched"] == 0 and unchanged["unchanged"] and not changed["unchanged"]
        return {
            "documents": documents,
            "chunks": full["chunks"],
            "fullSeconds": round(full_s, 2),
            "unchangedFetchSeconds": round(fetch_s, 3),
            "unchangedFetchRatio": round(fetch_s / full_s, 4),
            "unchangedIndexSeconds": round(unchanged_s, 2),
            "unchangedIndexRatio": round(unchanged_s / full_s, 4),
            "oneChangedSeconds": round(changed_s, 2),
            "oneChangedRatio": round(changed_s / full_s, 4),
            "oneChangedEmbedded": changed["chunks"] - changed["reusedEmbeddings"],
        }
    finally:
        server.stop()
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def markdown_rows(r: dict[str, Any]) -> list[str]:
    corpus = f"{r['documents']} .docx in S3, {r['chunks']} chunks"
    return [
        "| fetch benchmark (MinIO on loopback, whole processes) | measured "
        "| ratio to the full build (target) |",
        "|---|---|---|",
        f"| full build: `oozo index s3://...` into an empty index ({corpus}) | {r['fullSeconds']} s | 1 |",
        f"| unchanged source, refresh check: `oozo fetch` (listing only, same revision) "
        f"| {r['unchangedFetchSeconds']} s | **{r['unchangedFetchRatio']}** (< 0.05) |",
        f"| unchanged source, `oozo index s3://...` anyway (nothing fetched or embedded, no new version) "
        f"| {r['unchangedIndexSeconds']} s | **{r['unchangedIndexRatio']}** (< 0.05) |",
        f"| one document changed: `oozo index s3://...` (1 download, "
        f"{r['oneChangedEmbedded']} chunks embedded) "
        f"| {r['oneChangedSeconds']} s | **{r['oneChangedRatio']}** (< 0.10) |",
    ]
