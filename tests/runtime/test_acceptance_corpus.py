"""The runtime issue's acceptance, as a test: `oozo index` over a folder of a few hundred real
.docx files, then `oozo serve`, answers questions whose answers lie in those documents with the
right document among the sources."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.runtime.corpus import make_corpus, with_corrupt

DOCUMENTS = 300


def test_a_few_hundred_docx_indexed_served_and_answered(tmp_path: Path, serve: Any) -> None:
    corpus = make_corpus(tmp_path / "docs", DOCUMENTS, with_corrupt(), filler=1)
    index_dir = tmp_path / "index"
    oozo = Path(sys.executable).with_name("oozo")
    done = subprocess.run(
        [str(oozo), "index", str(corpus.root), "--out", str(index_dir)],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["documents"] == DOCUMENTS
    assert summary["skippedDocuments"] == 1 and summary["skipped"][0]["document"] == "broken/corrupt.docx"

    server = serve(index_dir)
    server.wait_ready()
    # Facts from every part of the corpus, including the projects that share a colour and an
    # animal and differ only by region.
    sample = corpus.facts[::13]
    assert len(sample) >= 40
    misses = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for fact in sample:
            r = client.post("/api/query", json={"question": fact.question, "top_k": 5})
            assert r.status_code == 200, r.text
            body = r.json()
            if fact.document not in [s["document"] for s in body["sources"]]:
                misses.append((fact.question, [s["document"] for s in body["sources"]]))
            assert body["index_version"] == summary["version"]
    assert not misses, misses
