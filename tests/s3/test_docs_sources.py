"""Every command in docs/sources.md runs as written, against the real MinIO for its s3:// lines
and a loopback HTTP server for its https:// lines (the documented hosts are swapped for them),
and prints the result of the kind it promises."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from devcluster.s3server import S3Server
from tests.doc_commands import documented_all
from tests.runtime.http_docs import serve_docs
from tests.s3.helpers import oozo


def test_the_commands_of_docs_sources_md_work_as_documented(
    s3_server: S3Server, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    # Each `$ oozo ...` line of the page with the JSON line printed under it.
    commands = [
        (shlex.split(c.text), c.shown_output[0])
        for c in documented_all("docs/sources.md", startswith="oozo ")
    ]
    assert [args[:2] for args, _ in commands] == [["oozo", "fetch"]] * 3 + [["oozo", "index"]]
    (tmp_path / "handbook").mkdir()
    for name in ("leave.md", "travel.md"):
        (tmp_path / "handbook" / name).write_text(f"# {name}\n\nA page of the handbook.\n")
    client = s3_server.client()
    for key in ("handbook/leave.md", "handbook/travel.md", "handbook/it/laptops.txt"):
        client.put_object(Bucket=bucket, Key=key, Body=b"# A page\n\nOf the handbook in S3.\n")
    site_docs = serve_docs()
    site = next(site_docs)
    site.put("/hr/leave.md", b"# Leave\n\n27 days.\n")
    site.put("/it/laptops.txt", b"Every four years.\n")
    try:
        for args, printed in commands:
            swapped = [
                a.replace("http://127.0.0.1:9000", s3_server.endpoint)
                .replace("docs-bucket", bucket)
                .replace("https://intranet.example.com", site.url(""))
                .replace("./", f"{tmp_path}/")
                for a in args[1:]
            ]
            run = oozo(*swapped, env={**s3_server.env(), "HF_HUB_OFFLINE": "1"})
            assert run.code == 0, (args, run.stderr)
            for field in ("kind", "fetched", "unchanged", "removed", "documents"):
                shown = re.search(rf'"{field}":("?\w+"?)', printed)
                if shown:
                    assert str(run.result[field]).lower() == shown.group(1).strip('"'), (args, field)
    finally:
        site_docs.close()
