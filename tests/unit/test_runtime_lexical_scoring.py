"""The server scores questions on the stored BM25 matrix with numpy alone: the same scores as
bm25s's own scoring, and neither bm25s nor scipy is imported to load and search a version."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from oozo_runtime.lexical import LexicalIndex, tokenize

pytestmark = pytest.mark.unit

WORDS = ["budget", "office", "river", "travel", "report", "alpha", "beta", "gamma", "delta", "city"]
WORDS += ["number", "project", "the", "a", "of"]


def corpus(n: int = 200) -> list[str]:
    rng = random.Random(7)
    return [" ".join(rng.choices(WORDS, k=rng.randint(3, 30))) for _ in range(n)]


def test_scores_are_bm25s_scores(tmp_path: Path) -> None:
    import bm25s

    texts = corpus()
    info = LexicalIndex.build(texts).save(tmp_path)
    index = LexicalIndex.load(tmp_path, info, texts)
    reference = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    reference.scores = {"data": index.data, "indices": index.indices, "indptr": index.indptr,
                        "num_docs": index.num_docs}  # fmt: skip
    reference.vocab_dict = index.vocabulary
    reference.nonoccurrence_array = None
    rng = random.Random(3)
    questions = [" ".join(rng.choices(WORDS, k=rng.randint(1, 8))) for _ in range(200)]
    for question in [*questions, "budget budget river", "unknown words only"]:
        ids = reference.get_tokens_ids(tokenize(question))
        ours = index.scores(question)
        if not ids:
            assert ours is None and index.search(question, 5) == []
            continue
        assert ours is not None
        assert np.array_equal(ours, reference.get_scores_from_ids(ids)), question


def test_a_stored_index_loads_and_searches_without_bm25s_or_scipy(tmp_path: Path) -> None:
    texts = corpus()
    info = LexicalIndex.build(texts).save(tmp_path)
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    script = f"""
import json, sys
from pathlib import Path
from oozo_contract.manifest import LexicalIndexInfo
from oozo_runtime.lexical import LexicalIndex
folder = Path({str(tmp_path)!r})
info = LexicalIndexInfo.model_validate_json({info.model_dump_json()!r})
index = LexicalIndex.load(folder, info, json.loads((folder / "texts.json").read_text()))
found = len(index.search("budget river", 5))
print(json.dumps([index.stored, found, "bm25s" in sys.modules, "scipy" in sys.modules]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [True, 5, False, False]
