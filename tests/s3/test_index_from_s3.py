"""`oozo index s3://BUCKET/PREFIX --out INDEX_DIR`: the source is fetched into
INDEX_DIR/source-cache/files and indexed with the real model; an unchanged bucket publishes
nothing new."""

from __future__ import annotations

import json
from pathlib import Path

from devcluster.s3server import S3Server
from tests.s3.helpers import oozo

DOCS = {
    "handbook/hr/leave.md": "# Leave\n\nEvery employee has 27 days of paid leave a year.\n",
    "handbook/travel.md": "# Travel\n\nBook trains for trips under 600 km; flights need approval.\n",
    "handbook/it/laptops.txt": "Laptops are replaced every four years.\n",
}


def test_oozo_index_of_an_s3_prefix_publishes_a_version_and_an_unchanged_bucket_none(
    s3_server: S3Server, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    client = s3_server.client()
    for key, text in DOCS.items():
        client.put_object(Bucket=bucket, Key=key, Body=text.encode())
    index = tmp_path / "index"
    args = ("index", f"s3://{bucket}/handbook", "--out", str(index), "--s3-endpoint", s3_server.endpoint)
    env = {**s3_server.env(), "HF_HUB_OFFLINE": "1"}

    built = oozo(*args, env=env)
    assert built.code == 0, built.stderr
    assert built.result["documents"] == 3 and built.result["unchanged"] is False
    manifest = json.loads((index / "current" / "manifest.json").read_text())
    assert sorted(manifest["documents"]) == ["hr/leave.md", "it/laptops.txt", "travel.md"]
    assert sorted(p.name for p in (index / "source-cache").iterdir()) == ["files", "state"]

    again = oozo(*args, env=env)
    assert again.code == 0, again.stderr
    assert (again.result["version"], again.result["unchanged"]) == (built.result["version"], True)
    fetched = [json.loads(line) for line in again.stderr.splitlines() if '"fetched the source"' in line]
    assert fetched and (fetched[0]["fetched"], fetched[0]["unchanged"]) == (0, 3)

    answer = oozo("query", "How many days of paid leave?", "--index", str(index), "--json", env=env)
    assert json.loads(answer.stdout)["sources"][0]["document"] == "hr/leave.md"
