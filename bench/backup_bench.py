"""Backup and restore throughput against a real MinIO on loopback, next to a raw boto3 copy of the
same bytes in the same run (same server, same TransferConfig), so the ratio shows what packing,
hashing and verification cost on top of moving the bytes.

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
    """A version `bench` under index_dir (flat files + manifest), `current` pointing at it."""
    import hashlib

    vdir = index_dir / "versions" / "bench"
    vdir.mkdir(parents=True)
    vectors_mib = total_mib * 7 // 8
    with (vdir / "index.faiss").open("wb") as f:
        for _ in range(vectors_mib):
            f.write(os.urandom(MiB))
    line = json.dumps({"document": "handbook/chapter.docx", "text": "Employees accrue leave monthly. " * 20})
    with (vdir / "chunks.jsonl").open("w") as f:
        written, i = 0, 0
        while written < (total_mib - vectors_mib) * MiB:
            row = f'{{"id": {i}, {line[1:]}\n'
            f.write(row)
            written += len(row)
            i += 1

    def digest(p: Path) -> str:
        h = hashlib.sha256()
        with p.open("rb") as fh:
            while chunk := fh.read(MiB):
                h.update(chunk)
        return h.hexdigest()

    files = {p.name: digest(p) for p in sorted(vdir.iterdir())}
    manifest = {"version": "bench", "model": "synthetic", "dimension": 384, "files": files}
    (vdir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.symlink("versions/bench", index_dir / "current")
    return sum(p.stat().st_size for p in vdir.iterdir())


def run(total_mib: int = 1024, workdir: Path | None = None) -> dict[str, Any]:
    from oozo_runtime.backup.backup import run_backup, transfer_config
    from oozo_runtime.backup.restore import run_restore
    from oozo_runtime.backup.uri import parse_s3_uri
    from tests.harness.s3server import S3Server

    own = workdir is None
    root = Path(tempfile.mkdtemp(prefix="oozo-backup-bench-")) if own else Path(workdir)  # type: ignore[arg-type]
    server = S3Server(root / "s3")
    try:
        index = root / "index"
        size = make_index(index, total_mib)
        server.start()
        os.environ.update(server.env())
        client = server.client()
        server.make_bucket("bench")
        config = transfer_config()
        vdir = index / "versions" / "bench"

        # Raw: the same bytes, file by file, with the same client settings and transfer config.
        t = time.monotonic()
        for p in sorted(vdir.iterdir()):
            client.upload_file(str(p), "bench", f"raw/{p.name}", Config=config)
        raw_up = time.monotonic() - t
        raw_dir = root / "raw-download"
        raw_dir.mkdir()
        t = time.monotonic()
        for p in sorted(vdir.iterdir()):
            client.download_file("bench", f"raw/{p.name}", str(raw_dir / p.name), Config=config)
        raw_down = time.monotonic() - t
        shutil.rmtree(raw_dir)

        t = time.monotonic()
        made = run_backup(
            index, parse_s3_uri("s3://bench/oozo", allow_version=False), endpoint=server.endpoint
        )
        backup_s = time.monotonic() - t
        t = time.monotonic()
        run_restore(
            root / "restored", parse_s3_uri("s3://bench/oozo", allow_version=True), endpoint=server.endpoint
        )
        restore_s = time.monotonic() - t

        mb = size / 1e6
        return {
            "name": "backup",
            "indexBytes": size,
            "artifactBytes": made["sizeBytes"],
            "cpus": os.cpu_count(),
            "backupMBps": round(mb / backup_s, 1),
            "restoreMBps": round(mb / restore_s, 1),
            "rawUploadMBps": round(mb / raw_up, 1),
            "rawDownloadMBps": round(mb / raw_down, 1),
            "backupRatio": round(raw_up / backup_s, 2),
            "restoreRatio": round(raw_down / restore_s, 2),
            "seconds": {
                "backup": round(backup_s, 2),
                "restore": round(restore_s, 2),
                "rawUpload": round(raw_up, 2),
                "rawDownload": round(raw_down, 2),
            },
        }
    finally:
        server.stop()
        if own:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the synthetic index in MiB")
    print(json.dumps(run(parser.parse_args().mib), indent=2))
