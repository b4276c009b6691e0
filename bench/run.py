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
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def backup_rows(r: dict[str, Any]) -> list[str]:
    gb = r["indexBytes"] / 1e9
    return [
        "| backup benchmark | measured | baseline in the same run | ratio (target >= 0.8) |",
        "|---|---|---|---|",
        f"| backup of a {gb:.2f} GB index (tar + zstd + sha256 + upload) | {r['backupMBps']} MB/s "
        f"| raw boto3 upload {r['rawUploadMBps']} MB/s | **{r['backupRatio']}** |",
        f"| restore (download + verify + unpack + publish) | {r['restoreMBps']} MB/s "
        f"| raw boto3 download {r['rawDownloadMBps']} MB/s | **{r['restoreRatio']}** |",
    ]


def runtime_suite(out: Path) -> tuple[dict[str, Any], list[str]]:
    from bench import runtime_bench

    result = runtime_bench.run(out)
    return result, runtime_bench.markdown_rows(result)


def backup_suite(out: Path) -> tuple[dict[str, Any], list[str]]:
    from bench import backup_bench

    result = backup_bench.run()
    return result, backup_rows(result)


def operator_suite(out: Path) -> tuple[dict[str, Any], list[str]]:
    module = importlib.import_module("bench.operator_bench")
    result = module.run()
    return result, module.markdown_rows(result)


SUITES: dict[str, Callable[[Path], tuple[dict[str, Any], list[str]]]] = {
    "runtime": runtime_suite,
    "backup": backup_suite,
    "operator": operator_suite,
}


def write_doc(sections: dict[str, list[str]], command: str) -> None:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        BEGIN,
        f"Measured {when} by `{command}` on {os.cpu_count()} cores ({platform.machine()}, "
        f"Python {platform.python_version()}).",
        "",
    ]
    for name, rows in sections.items():
        body += [f"### {name}", "", *rows, ""]
    body.append(END)
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + "\n".join(body) + tail)


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
