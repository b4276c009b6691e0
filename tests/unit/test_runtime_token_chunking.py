"""Token-aware chunking with the bundled model's own tokenizer (a real file, no model weights):
every chunk fits the token budget, prefix and special tokens included, while the windows still
end at paragraph and sentence boundaries and no text is lost between them."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from oozo_contract.defaults import DEFAULT_MODEL
from oozo_contract.index_settings import IndexSettings
from oozo_runtime.errors import OozoError
from oozo_runtime.indexing.chunking import chunk_blocks
from oozo_runtime.indexing.parsing import Block
from oozo_runtime.indexing.tokens import TOKENIZER_FILES, TokenCounter, chunking_info, token_counter
from oozo_runtime.model_files import local_model_folder, resolve_model_path

ENGLISH = " ".join(
    f"Clause {i} of the travel policy says that receipts over {i * 7} euros need a manager's signature."
    for i in range(120)
)
# MiniLM reads Cyrillic as about one token per character: 1000-character windows are ~900 tokens.
RUSSIAN = " ".join(
    f"Пункт {i} правил гласит, что чеки свыше {i * 7} евро подписывает руководитель." for i in range(80)
)


def counter(**settings: object) -> TokenCounter:
    s = IndexSettings(**settings)  # type: ignore[arg-type]
    made = token_counter(s, local_model_folder(s, TOKENIZER_FILES))
    assert made is not None
    return made


def test_the_default_budget_is_the_models_max_sequence_length() -> None:
    c = counter()
    assert c.budget == c.max_seq_length == 256
    assert chunking_info(IndexSettings(), c).model_dump() == {"size": 1000, "overlap": 200, "max_tokens": 256}


@pytest.mark.parametrize("text", [ENGLISH, RUSSIAN], ids=["english", "russian"])
def test_every_chunk_fits_the_budget_and_ends_on_a_sentence(text: str) -> None:
    c = counter()
    chunks = chunk_blocks("a.txt", [Block(text)], size=1000, overlap=200, counter=c)
    counts = c.counts([ch.text for ch in chunks])
    assert max(counts) <= 256 and c.truncated([ch.text for ch in chunks]) == 0
    assert all(len(ch.text) <= 1000 for ch in chunks)
    assert all(ch.text.endswith(".") for ch in chunks[:-1])
    # nothing lost: every sentence is in some chunk, and neighbours still overlap
    for sentence in text.split(". "):
        assert any(sentence.rstrip(".") in ch.text for ch in chunks), sentence
    for left, right in itertools.pairwise(chunks):
        assert right.text.split(". ")[0] in left.text


def test_without_a_counter_long_windows_exceed_the_model() -> None:
    c = counter()
    chunks = chunk_blocks("a.txt", [Block(RUSSIAN)], size=1000, overlap=200)
    assert c.truncated([ch.text for ch in chunks]) > 0


def test_a_shrunk_window_shrinks_its_overlap_too() -> None:
    """Russian windows of ~250 characters must not step back 200 of them each time."""
    c = counter()
    chunks = chunk_blocks("a.txt", [Block(RUSSIAN)], size=1000, overlap=200, counter=c)
    covered = sum(len(ch.text) for ch in chunks)
    assert covered < 1.6 * len(RUSSIAN)


def e5_folder(tmp_path: Path) -> str:
    """The bundled model's files under an e5-family name: a model given as a folder path, whose
    name gives it the e5 prefixes."""
    folder = tmp_path / "e5-minilm"
    folder.symlink_to(resolve_model_path(DEFAULT_MODEL), target_is_directory=True)
    return str(folder)


def test_the_e5_passage_prefix_counts_against_the_budget(tmp_path: Path) -> None:
    plain, e5 = counter(chunk_max_tokens=64), counter(chunk_max_tokens=64, model=e5_folder(tmp_path))
    assert e5.passage_prefix == "passage: " and e5.count("") == plain.count("") + 2
    chunks = chunk_blocks("a.txt", [Block(ENGLISH)], size=1000, overlap=0, counter=e5)
    assert max(e5.counts([ch.text for ch in chunks])) <= 64


def test_a_missing_model_folder_is_named() -> None:
    with pytest.raises(OozoError, match="model folder /nowhere/model does not exist"):
        counter(model="/nowhere/model")


def test_a_remote_model_keeps_character_windows() -> None:
    s = IndexSettings(embedding_provider="openai", model="text-embedding-3-small")
    assert token_counter(s, local_model_folder(s, TOKENIZER_FILES)) is None
    assert chunking_info(s, None).max_tokens is None


def test_a_folder_model_has_a_content_revision_that_follows_its_files(tmp_path: Path) -> None:
    """A model on a PVC (a folder path) is named by its path: the revision tells new weights at
    the same path apart, so the build rebuilds instead of mixing vectors of two models."""
    from oozo_runtime.model_files import model_revision

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "weights.bin").write_bytes(b"\0" * 1024)
    settings = IndexSettings(model=str(folder))
    first = model_revision(settings)
    assert first is not None and first.startswith("sha256:") and model_revision(settings) == first
    (folder / "weights.bin").write_bytes(b"\1" * 1024)
    assert model_revision(settings) not in (None, first)
    assert model_revision(IndexSettings()) is None  # the bundled model: its id names it
