"""Backup and restore throughput against a real MinIO on loopback, next to a raw boto3 copy of the
same bytes in the same run (same server, same client settings, same TransferConfig), so the ratio
shows what packing, hashing and verification cost on top of moving the bytes.

    python -m bench.backup_bench [--mib 1024]     # prints the JSON that run() returns

The synthetic index looks like a real one: an incompressible `index.faiss` (float32 vectors are
close to random for zstd) holding ~7/8 of the bytes and a JSON-lines chunk store for the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

MiB = 1024 * 1024


def make_index(index_dir: Path, total_mib: int) -> int:
    """A version `bench` under index_dir (flat files + the manifest the indexer writes),
    `current` pointing at it."""
    from oozo_runtime import versions

    vdir = index_dir / "versions" / "bench"
    vdir.mkdir(parents=True)
    vectors_mib = total_mib * 7 // 8
    with (vdir / "index.faiss").open("wb") as vectors:
        for _ in range(vectors_mib):
            vectors.write(os.urandom(MiB))
    line = json.dumps({"document": "handbook/chapter.docx", "text": "Employees accrue leave monthly. " * 20})
    with (vdir / "chunks.jsonl").open("w") as chunks:
        written, i = 0, 0
        while written < (total_mib - vectors_mib) * MiB:
            row = f'{{"id": {i}, {line[1:]}\n'
            chunks.write(row)
            written += len(row)
            i += 1

    versions.write_manifest(vdir, {"version": "bench", "model": "synthetic", "dimension": 384})
    os.symlink("versions/bench", index_dir / "current")
    return sum(p.stat().st_size for p in vdir.iterdir())


def run(total_mib: int = 1024, rounds: int = 3, workdir: Path | None = None) -> dict[str, Any]:
    """Best of `rounds` for each of the four transfers, interleaved (and in alternating order)
    so that a noisy neighbour hurts both sides alike."""
    from oozo_runtime.backup import s3
    from oozo_runtime.backup.backup import run_backup, transfer_config
    from oozo_runtime.backup.restore import run_restore
    from oozo_runtime.backup.uri import parse_s3_uri
    from tests.harness.s3server import S3Server

    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="oozo-backup-bench-"))
    server = S3Server(root / "s3")
    best: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        # Start every transfer with no dirty pages left by the one before, so none pays for
        # another's writeback (MinIO's 1 GB of parts, a restore's 1 GB of files).
        os.sync()
        t = time.monotonic()
        out = fn()
        best[name] = min(best.get(name, float("inf")), time.monotonic() - t)
        return out

    try:
        index = root / "index"
        size = make_index(index, total_mib)
        server.start()
        os.environ.update(server.env())
        client = s3.make_client(server.endpoint)  # the client backup and restore build for themselves
        config = transfer_config()
        vdir = index / "versions" / "bench"
        files = sorted(vdir.iterdir())
        artifact = 0
        for n in range(rounds):
            bucket = server.make_bucket(f"bench-{n}")

            # Raw: the same bytes, file by file, same client settings and transfer config.
            def raw_up(bucket: str = bucket) -> None:
                for p in files:
                    client.upload_file(str(p), bucket, f"raw/{p.name}", Config=config)

            def raw_down(bucket: str = bucket, n: int = n) -> None:
                out = root / f"raw-{n}"
                out.mkdir()
                for p in files:
                    client.download_file(bucket, f"raw/{p.name}", str(out / p.name), Config=config)

            loc = parse_s3_uri(f"s3://{bucket}/oozo", allow_version=True)

            def backup(loc: Any = loc) -> Any:
                return run_backup(index, loc, endpoint=server.endpoint)

            def restore(loc: Any = loc, n: int = n) -> Any:
                return run_restore(root / f"restored-{n}", loc, endpoint=server.endpoint)

            # Alternate which side goes first, so neither always inherits the other's leftovers.
            if n % 2 == 0:
                timed("rawUpload", raw_up)
                made = timed("backup", backup)
                timed("rawDownload", raw_down)
                timed("restore", restore)
            else:
                made = timed("backup", backup)
                timed("rawUpload", raw_up)
                timed("restore", restore)
                timed("rawDownload", raw_down)
            artifact = made["sizeBytes"]
            shutil.rmtree(root / f"raw-{n}")
            shutil.rmtree(root / f"restored-{n}")
            for obj in s3_keys(client, bucket):
                client.delete_object(Bucket=bucket, Key=obj)

        mb = size / 1e6
        return {
            "name": "backup",
            "indexBytes": size,
            "artifactBytes": artifact,
            "rounds": rounds,
            "cpus": os.cpu_count(),
            "loadAverage": round(os.getloadavg()[0], 2),
            "backupMBps": round(mb / best["backup"], 1),
            "restoreMBps": round(mb / best["restore"], 1),
            "rawUploadMBps": round(mb / best["rawUpload"], 1),
            "rawDownloadMBps": round(mb / best["rawDownload"], 1),
            "backupRatio": round(best["rawUpload"] / best["backup"], 2),
            "restoreRatio": round(best["rawDownload"] / best["restore"], 2),
            "seconds": {k: round(v, 2) for k, v in best.items()},
        }
    finally:
        server.stop()
        if not workdir:
            shutil.rmtree(root, ignore_errors=True)


def s3_keys(client: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the synthetic index in MiB")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs of each transfer")
    args = parser.parse_args()
    print(json.dumps(run(args.mib, args.rounds), indent=2))
