"""Backup and restore throughput against a real MinIO on loopback, next to a raw boto3 copy of the
same bytes in the same run (same server, same TransferConfig, boto3's plain SigV4 client), so the
ratio shows what packing, hashing and verification cost on top of moving the bytes. Each shape is
measured in two topologies (see `topologies`): MinIO on its own CPU, and MinIO sharing the
client's; in RAM when there is room (`ram_dir`), in paired rounds of alternating order
(`measure`). docs/backup.md#performance has the method and the numbers.

    python -m bench.backup_bench [--mib 1024] [--rounds 6] [--shape typical] [--topology shared]

Two synthetic 1 GiB indexes, because what zstd can take out decides how many bytes go over the
wire (and a raw copy always moves all of them):
- `typical` is laid out like an index `oozo index` writes with the default model (384 float32
  dimensions) and chunk size (1000 characters). Measured on the index built from
  bench.runtime_bench's 200-document corpus: index.faiss holds 63.5% of the bytes, chunks.jsonl
  36.5%. The vectors are random bytes (real float32 embeddings do not shrink at zstd -1 either:
  7,265,325 -> 7,265,507 bytes on that index). The chunk text is words drawn at random from
  Python's own documentation (pydoc_data), which compresses worse at zstd -1 (0.49) than every
  real prose measured (that documentation itself 0.34, GPL-3 0.47): a conservative stand-in.
- `incompressible` is random bytes only: the worst case, where packing saves nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

MiB = 1024 * 1024

# Share of the index bytes that are vectors (the rest is the JSON-lines chunk store).
SHAPES = {"typical": 0.635, "incompressible": 1.0}


def _chunk_records(total_bytes: int, seed: int = 7) -> Any:
    """JSON lines shaped like the indexer's chunk store (~890 bytes each), from a real vocabulary."""
    import pydoc_data.topics

    words = re.findall(r"\S+", "\n".join(pydoc_data.topics.topics.values()))
    rng = random.Random(seed)
    written, i = 0, 0
    while written < total_bytes:
        record = {
            "document": f"handbook/section-{i // 24:05d}.docx",
            "chunk": i % 24,
            "heading": " ".join(rng.choices(words, k=4)),
            "text": " ".join(rng.choices(words, k=120)),
        }
        row = json.dumps(record) + "\n"
        yield row
        written += len(row)
        i += 1


def make_index(index_dir: Path, total_mib: int, shape: str = "typical") -> int:
    """A version `bench` under index_dir (flat files + the manifest the indexer writes),
    `current` pointing at it. Returns the bytes of its files."""
    from oozo_contract.manifest import EmbeddingInfo, Manifest
    from oozo_runtime import versions

    vdir = index_dir / "versions" / "bench"
    vdir.mkdir(parents=True)
    vectors_mib = round(total_mib * SHAPES[shape])
    with (vdir / "index.faiss").open("wb") as vectors:
        for _ in range(vectors_mib):
            vectors.write(os.urandom(MiB))
    with (vdir / "chunks.jsonl").open("w") as chunks:
        chunks.writelines(_chunk_records((total_mib - vectors_mib) * MiB))

    synthetic = EmbeddingInfo(model="synthetic", dimension=384)
    versions.write_manifest(vdir, Manifest(version="bench", embedding=synthetic))
    os.symlink("versions/bench", index_dir / "current")
    return sum(p.stat().st_size for p in vdir.iterdir())


def ram_dir(total_mib: int) -> str | None:
    """/dev/shm when it holds everything a run keeps at once (the index, a round's raw copy and
    artifact in MinIO, a restored copy of each side), else None (the system's temp dir).

    In RAM, the disk's own variance stays out of the ratios: on the development VM one GB takes
    0.5 to 1.7 s to reach the disk (`dd bs=4M count=256 conv=fdatasync`), more than the whole
    difference being measured. What remains is what oozo adds on top of moving the bytes, the
    CPU and the pipeline; a slower disk would only dilute it, as both sides wait on it alike."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return None
    stats = os.statvfs(shm)
    needed = total_mib * MiB * 5
    return str(shm) if stats.f_bavail * stats.f_frsize > needed * 1.2 else None


def topologies() -> dict[str, tuple[set[int] | None, set[int] | None]]:
    """Where MinIO and the client run: (server CPUs, client CPUs), None meaning all of them.

    - `separate`: MinIO on the first half of the CPUs, the client on the rest. The server's work
      is not the client's, as with any real S3 (remote, with its own CPUs), and the client gets
      what a backup pod with a CPU limit of half the machine would.
    - `shared`: both on every CPU, so every CPU-second the client spends is taken from the
      server: the pessimistic case, where CPU, not the pipeline, sets the pace.
    """
    cpus = sorted(os.sched_getaffinity(0))
    half = len(cpus) // 2
    out: dict[str, tuple[set[int] | None, set[int] | None]] = {}
    if half:
        out["separate"] = (set(cpus[:half]), set(cpus[half:]))
    out["shared"] = (None, None)
    return out


def run(
    total_mib: int = 1024,
    rounds: int = 6,
    shapes: tuple[str, ...] = tuple(SHAPES),
    workdir: Path | None = None,
    only_topologies: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Each shape's index, in each topology, against a MinIO started for it (a fresh server, so
    none inherits another's background work)."""
    from devcluster.s3server import S3Server

    if rounds % 2:
        raise ValueError("rounds must be even: each side goes second in half of them (see measure)")
    root = Path(workdir or tempfile.mkdtemp(prefix="oozo-backup-bench-", dir=ram_dir(total_mib)))
    everything = os.sched_getaffinity(0)
    results: dict[str, dict[str, Any]] = {}
    try:
        for shape in shapes:
            index = root / shape / "index"
            size = make_index(index, total_mib, shape)
            results[shape] = {}
            for topology, (server_cpus, client_cpus) in topologies().items():
                if only_topologies and topology not in only_topologies:
                    continue
                server = S3Server(root / shape / f"s3-{topology}", cpus=server_cpus)
                server.start()
                os.environ.update(server.env())
                # Threads inherit the affinity of the thread that starts them: every transfer
                # thread of this topology runs on client_cpus.
                os.sched_setaffinity(0, client_cpus or everything)
                try:
                    measured = measure(server, index, root / shape / topology, rounds)
                finally:
                    os.sched_setaffinity(0, everything)
                    server.stop()
                    shutil.rmtree(root / shape / f"s3-{topology}", ignore_errors=True)
                results[shape][topology] = {"indexBytes": size, **measured}
            shutil.rmtree(root / shape)
    finally:
        if not workdir:
            shutil.rmtree(root, ignore_errors=True)
    return {
        "name": "backup",
        "rounds": rounds,
        "cpus": len(everything),
        "loadAverage": round(os.getloadavg()[0], 2),
        "storage": "tmpfs" if str(root).startswith("/dev/shm") else "disk",
        "shapes": results,
    }


def _settle(server_pid: int, timeout: float = 15.0) -> None:
    """Wait until MinIO is idle (under 2% of a CPU for a quarter of a second), so no transfer
    pays for work the server still does for the one before."""
    from devcluster.procs import cpu_seconds

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(server_pid)
        time.sleep(0.25)
        if cpu_seconds(server_pid) - before < 0.005:
            return


def _empty_bucket(client: Any, bucket: str) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})


def measure(server: Any, index: Path, work: Path, rounds: int) -> dict[str, Any]:
    """`rounds` runs of each of the four transfers, each of ours next to its raw counterpart (in
    alternating order), so that a noisy neighbour hurts both sides alike."""
    from oozo_runtime.backup import s3
    from oozo_runtime.backup.backup import run_backup, transfer_config
    from oozo_runtime.backup.restore import run_restore
    from oozo_runtime.backup.uri import parse_s3_uri

    times: dict[str, list[float]] = {"rawUpload": [], "backup": [], "rawDownload": [], "restore": []}

    def timed(name: str, fn: Any) -> Any:
        # Every transfer is timed until its bytes are on disk, and starts with no dirty pages
        # left by the one before. A restore fsyncs every file before it publishes (it must
        # survive a crash); a raw download_file does not, and on a machine with free memory
        # its 1 GB would only reach the page cache in the timed region. MinIO's writes are
        # counted the same way on both sides of an upload.
        os.sync()
        _settle(server.proc.pid)
        t = time.monotonic()
        out = fn()
        os.sync()
        times[name].append(time.monotonic() - t)
        return out

    work.mkdir(parents=True)
    files = sorted((index / "versions" / "bench").iterdir())
    size = sum(p.stat().st_size for p in files)
    # A plain client: SigV4-signed bodies, botocore's default over HTTP. Backup's own client sends
    # a CRC32 per part instead (OOZO_BACKUP_UPLOAD_CHECKSUM); restore's is this one.
    client = s3.make_client(server.endpoint)
    config = transfer_config()
    artifact = 0
    for n in range(rounds):
        bucket = server.make_bucket(f"bench-{n}")

        # Raw: the same bytes, file by file, with the same transfer config.
        def raw_up(bucket: str = bucket) -> None:
            for p in files:
                client.upload_file(str(p), bucket, f"raw/{p.name}", Config=config)

        def raw_down(bucket: str = bucket, n: int = n) -> None:
            out = work / f"raw-{n}"
            out.mkdir()
            for p in files:
                client.download_file(bucket, f"raw/{p.name}", str(out / p.name), Config=config)

        loc = parse_s3_uri(f"s3://{bucket}/oozo", allow_version=True)

        def backup(loc: Any = loc) -> Any:
            return run_backup(index, loc, endpoint=server.endpoint)

        def restore(loc: Any = loc, n: int = n) -> Any:
            return run_restore(work / f"restored-{n}", loc, endpoint=server.endpoint)

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
        artifact = made.size_bytes
        # Free this round's memory (objects and copies live in RAM), so that every round works
        # in the same footprint; MinIO's background part of the deletes ends before the next
        # transfer starts (`_settle`).
        _empty_bucket(client, bucket)
        shutil.rmtree(work / f"raw-{n}")
        shutil.rmtree(work / f"restored-{n}")

    # Each round's ratio pairs two transfers run back to back, so a slow minute of the machine
    # slows both. On the development VM the second of two uploads in a row is often the slower
    # by a third, whichever it is (the kernel's cost of fresh memory varies; see `ram_dir`):
    # the order alternates over an even number of rounds, so each side goes second equally
    # often, and the geometric mean of the paired ratios cancels that factor. MB/s are medians.
    backup_ratios = [raw / ours for raw, ours in zip(times["rawUpload"], times["backup"], strict=True)]
    restore_ratios = [raw / ours for raw, ours in zip(times["rawDownload"], times["restore"], strict=True)]
    mb = size / 1e6
    return {
        "artifactBytes": artifact,
        "artifactRatio": round(artifact / size, 3),
        **{f"{name}MBps": round(mb / statistics.median(t), 1) for name, t in times.items()},
        "backupRatio": round(statistics.geometric_mean(backup_ratios), 2),
        "restoreRatio": round(statistics.geometric_mean(restore_ratios), 2),
        "backupRatios": [round(r, 2) for r in backup_ratios],
        "restoreRatios": [round(r, 2) for r in restore_ratios],
        "seconds": {name: [round(s, 2) for s in t] for name, t in times.items()},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the synthetic index in MiB")
    parser.add_argument("--rounds", type=int, default=6, help="runs of each transfer (even: see measure)")
    parser.add_argument("--shape", action="append", choices=list(SHAPES), help="default: every shape")
    parser.add_argument("--topology", action="append", choices=["separate", "shared"], help="default: both")
    args = parser.parse_args()
    shapes = tuple(args.shape or SHAPES)
    measured = run(args.mib, args.rounds, shapes, only_topologies=tuple(args.topology or ()))
    print(json.dumps(measured, indent=2))
