"""`make bench`: run every benchmark suite, keep the raw results in bench-results/, and rewrite
the measured section of docs/benchmarks.md so the docs carry the numbers and the command.

Every number is a ratio against a baseline measured in the same run on the same machine
(machines are noisy; absolute numbers from another day mean little)."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def backup_rows(r: dict[str, Any]) -> list[str]:
    """One row per index shape and topology (see bench/backup_bench.py), backup then restore."""
    rows = [
        "| backup benchmark (1 GiB index, MinIO on loopback, RAM-backed) | backup | raw boto3 upload "
        "| ratio (target >= 0.8) | restore | raw boto3 download | ratio (target >= 0.8) |",
        "|---|---|---|---|---|---|---|",
    ]
    for shape, by_topology in r["shapes"].items():
        for topology, m in by_topology.items():
            rows.append(
                f"| {shape} index (artifact {m['artifactRatio']} of it), MinIO on {topology} CPUs "
                f"| {m['backupMBps']} MB/s | {m['rawUploadMBps']} MB/s | **{m['backupRatio']}** "
                f"| {m['restoreMBps']} MB/s | {m['rawDownloadMBps']} MB/s | **{m['restoreRatio']}** |"
            )
    return rows


def runtime_suite(out: Path) -> tuple[dict[str, Any], list[str]]:
    from bench import runtime_bench

    result = runtime_bench.run(out)
    return result, runtime_bench.markdown_rows(result)


def serving_suite(out: Path) -> tuple[dict[str, Any], list[str]]:
    from bench import serving_bench

    result = serving_bench.run(out)
    return result, serving_bench.markdown_rows(result)


def backup_suite(out: Path) -> tuple[dict[str, Any], list[str]]:
    from bench import backup_bench

    result = backup_bench.run()
    return result, backup_rows(result)


def fetch_suite(out: Path) -> tuple[dict[str, Any], list[str]]:
    from bench import fetch_bench

    result = fetch_bench.run()
    return result, fetch_bench.markdown_rows(result)


def operator_suite(out: Path) -> tuple[dict[str, Any], list[str]]:
    module = importlib.import_module("bench.operator_bench")
    result = module.run()
    return result, module.markdown_rows(result)


def multilingual_suite(out: Path) -> tuple[dict[str, Any], list[str]]:
    from bench import multilingual_bench

    result = multilingual_bench.run(out)
    return result, multilingual_bench.markdown_rows(result)


def scale_suite(out: Path) -> tuple[dict[str, Any], list[str]]:
    from bench import scale_bench

    result = scale_bench.run(out)
    return result, scale_bench.markdown_rows(result)


def build_suite(out: Path) -> tuple[dict[str, Any], list[str]]:
    from bench import build_bench

    result = build_bench.run(out)
    return result, build_bench.markdown_rows(result)


SUITES: dict[str, Callable[[Path], tuple[dict[str, Any], list[str]]]] = {
    "runtime": runtime_suite,
    "multilingual": multilingual_suite,
    "serving": serving_suite,
    "backup": backup_suite,
    "fetch": fetch_suite,
    "operator": operator_suite,
    "scale": scale_suite,
    "build": build_suite,
}


def write_doc(sections: dict[str, list[str]], command: str) -> None:
    """Rewrite only the sections of the suites that ran, so `--only X` keeps the others' numbers
    (each section says when and by which command it was measured)."""
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{os.cpu_count()} cores ({platform.machine()}, Python {platform.python_version()})"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    for name, rows in sections.items():
        begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
        block = "\n".join(
            [begin, f"### {name}", "", f"Measured {when} by `{command}` on {machine}.", "", *rows, end]
        )
        if begin in text:
            head, _, rest = text.partition(begin)
            _, _, tail = rest.partition(end)
            text = head + block + tail
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SUITES), action="append", help="run only these suites")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.only or [n for n in SUITES if n != "operator" or (ROOT / "bench/operator_bench.py").exists()]
    sections: dict[str, list[str]] = {}
    for name in names:
        print(f"== {name} benchmark", flush=True)
        result, rows = SUITES[name](args.out)
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        sections[name] = rows
        print("\n".join(rows), flush=True)
    only = " ".join(f"--only {n}" for n in names)
    command = "make bench" if not args.only else f".venv/bin/python -m bench.run {only}"
    write_doc(sections, command)
    print(f"results in {args.out}; {DOC.relative_to(ROOT)} updated")


if __name__ == "__main__":
    main()
