"""No silent truncation: chunks are cut to fit the embedding model's maximum sequence length in
its own tokens, and the build reports how many chunks the model would cut (target 0).

The corpus is bench/eval_corpus.py's English one: Python standard-library docstrings as .docx,
whose 1,000-character windows reach 377 MiniLM tokens. Tokens are counted here with the
tokenizer sentence-transformers itself embeds with (transformers), not the `tokenizers` file the
chunker reads, so the two agree or the test fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import eval_corpus
from oozo_contract.index_settings import IndexSettings
from oozo_runtime import versions
from oozo_runtime.indexing.build import build

MAX_SEQ_LENGTH = 256  # all-MiniLM-L6-v2's sentence_bert_config.json


@pytest.fixture(scope="module")
def docstring_docx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("docstrings") / "docs"
    eval_corpus.english(root)
    return root


def model_token_counts(embedder: Any, index_dir: Path) -> list[int]:
    """Tokens of every chunk of the current version as the model receives it (specials included)."""
    path = versions.resolve(index_dir) / versions.CHUNKS_FILE
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    tokenizer = embedder.model.tokenizer
    return [len(tokenizer(t, add_special_tokens=True)["input_ids"]) for t in texts]


def test_default_chunks_fit_the_model_and_none_is_truncated(
    docstring_docx: Path, embedder: Any, tmp_path: Path
) -> None:
    result = build(IndexSettings(source=str(docstring_docx), index_dir=tmp_path), embedder=embedder)
    counts = model_token_counts(embedder, tmp_path)
    assert result.chunks_truncated == 0
    assert len(counts) == result.chunks and max(counts) <= MAX_SEQ_LENGTH
    manifest = versions.read_manifest(versions.resolve(tmp_path))
    assert manifest.chunking is not None and manifest.chunking.max_tokens == MAX_SEQ_LENGTH
    assert manifest.counts is not None and manifest.counts.chunks_truncated == 0


def test_a_token_budget_above_the_model_reports_the_truncated_chunks(
    docstring_docx: Path, embedder: Any, tmp_path: Path
) -> None:
    settings = IndexSettings(source=str(docstring_docx), index_dir=tmp_path, chunk_max_tokens=512)
    result = build(settings, embedder=embedder)
    counts = model_token_counts(embedder, tmp_path)
    too_long = sum(n > MAX_SEQ_LENGTH for n in counts)
    assert too_long > 0
    assert result.chunks_truncated == too_long


def test_a_changed_token_budget_rechunks_and_publishes_a_new_version(
    docstring_docx: Path, embedder: Any, tmp_path: Path
) -> None:
    first = build(IndexSettings(source=str(docstring_docx), index_dir=tmp_path), embedder=embedder)
    smaller = IndexSettings(source=str(docstring_docx), index_dir=tmp_path, chunk_max_tokens=128)
    second = build(smaller, embedder=embedder)
    assert not second.unchanged and second.version != first.version
    assert second.chunks > first.chunks and second.chunks_truncated == 0
    assert max(model_token_counts(embedder, tmp_path)) <= 128
    again = build(smaller, embedder=embedder)
    assert again.unchanged and again.version == second.version and again.chunks_truncated == 0
