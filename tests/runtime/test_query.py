"""Retrieval quality on the generated corpus, the extractive answer, `oozo query`, and the
refusal of an index built with another model."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from oozo_runtime.answers import extractive_answer
from oozo_runtime.retrieval import LoadedIndex, ModelMismatch
from tests.runtime.conftest import Built, oozo


def test_fact_questions_find_the_right_document_first(built: Built, retriever: Any) -> None:
    misses = []
    for fact in built.corpus.facts:
        hits, _ = retriever.retrieve(fact.question, 5)
        if hits[0].document != fact.document:
            misses.append((fact.question, fact.document, [h.document for h in hits]))
    assert not misses, misses


def test_extractive_answer_contains_the_fact_and_names_the_document(built: Built, retriever: Any) -> None:
    for fact in built.corpus.facts[:10]:
        hits, _ = retriever.retrieve(fact.question, 5)
        answer = extractive_answer(fact.question, hits)
        assert fact.answer in answer, (fact.question, answer)
        assert answer.startswith(f"According to {fact.document}")


def test_scores_are_sorted_cosines(retriever: Any) -> None:
    hits, timings = retriever.retrieve("budget of the project in 2026", 10)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0001 for s in scores)
    assert set(timings) == {"embed_ms", "search_ms"}


def test_index_built_with_another_model_is_refused_naming_both(built: Built) -> None:
    with pytest.raises(ModelMismatch) as exc:
        LoadedIndex.load(built.index_dir, None, "intfloat/e5-small-v2")
    assert "sentence-transformers/all-MiniLM-L6-v2" in str(exc.value)
    assert "intfloat/e5-small-v2" in str(exc.value)


def test_oozo_serve_refuses_a_model_mismatch_at_start(built: Built) -> None:
    out = subprocess.run(
        oozo("serve", "--index", str(built.index_dir), "--model", "intfloat/e5-small-v2", "--port", "1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 3
    assert "intfloat/e5-small-v2" in out.stderr and "all-MiniLM-L6-v2" in out.stderr


def test_oozo_query_prints_answer_and_sources(built: Built) -> None:
    fact = built.corpus.facts[4]
    out = subprocess.run(
        [sys.executable, "-m", "oozo_runtime.cli", "query", fact.question, "--index", str(built.index_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert fact.answer in out.stdout
    assert "Sources" in out.stdout and fact.document in out.stdout
