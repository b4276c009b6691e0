"""Chunking: windows of about `size` characters that end on paragraph or sentence boundaries,
overlap their neighbours and remember their heading."""

from __future__ import annotations

import itertools

import pytest

from oozo_runtime.indexing.chunking import ChunkingError, chunk_blocks
from oozo_runtime.indexing.parsing import Block


def sentences(n: int, prefix: str = "Sentence") -> str:
    return " ".join(f"{prefix} number {i} says something useful about the topic." for i in range(n))


def test_short_document_is_one_chunk_with_its_heading() -> None:
    blocks = [Block("Intro", "Intro", True), Block("Hello world.", "Intro")]
    chunks = chunk_blocks("a.md", blocks, size=1000, overlap=200)
    assert [(c.document, c.ordinal, c.heading) for c in chunks] == [("a.md", 0, "Intro")]
    assert chunks[0].text == "Intro\n\nHello world."


def test_windows_respect_size_and_end_on_sentence_boundaries() -> None:
    chunks = chunk_blocks("a.txt", [Block(sentences(60))], size=300, overlap=60)
    assert len(chunks) > 5
    for c in chunks:
        assert len(c.text) <= 300
        assert c.text.endswith(".")
        assert c.text.startswith("Sentence")
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_neighbours_overlap() -> None:
    chunks = chunk_blocks("a.txt", [Block(sentences(60))], size=300, overlap=120)
    for left, right in itertools.pairwise(chunks):
        first_sentence = right.text.split(". ")[0]
        assert first_sentence in left.text


def test_zero_overlap_covers_every_sentence_once() -> None:
    text = sentences(40)
    chunks = chunk_blocks("a.txt", [Block(text)], size=250, overlap=0)
    assert " ".join(c.text for c in chunks) == text


def test_paragraph_boundary_preferred_over_sentence() -> None:
    blocks = [Block(sentences(3, "Alpha")), Block(sentences(3, "Beta"))]
    size = len(blocks[0].text) + 40
    chunks = chunk_blocks("a.txt", blocks, size=size, overlap=20)
    assert chunks[0].text == blocks[0].text


def test_each_chunk_keeps_the_heading_in_force_where_it_starts() -> None:
    blocks = [
        Block("Leave", "Leave", True),
        Block(sentences(8, "Leave"), "Leave"),
        Block("Parking", "Parking", True),
        Block(sentences(8, "Parking"), "Parking"),
    ]
    chunks = chunk_blocks("h.docx", blocks, size=400, overlap=50)
    assert chunks[0].heading == "Leave"
    parking = [c for c in chunks if c.text.startswith("Parking")]
    assert parking and all(c.heading == "Parking" for c in parking)


def test_long_word_without_boundaries_is_cut_hard() -> None:
    chunks = chunk_blocks("a.txt", [Block("x" * 2500)], size=1000, overlap=100)
    assert [len(c.text) for c in chunks][:2] == [1000, 1000]
    assert sum(len(c.text) for c in chunks) >= 2500


@pytest.mark.parametrize(("size", "overlap"), [(100, 100), (100, 150), (0, 0), (100, -1)])
def test_invalid_parameters_are_refused_with_a_clear_error(size: int, overlap: int) -> None:
    with pytest.raises(ChunkingError, match=r"overlap|size"):
        chunk_blocks("a.txt", [Block("text")], size=size, overlap=overlap)


def test_overlap_error_names_both_numbers() -> None:
    with pytest.raises(ChunkingError, match=r"overlap \(200\) must be smaller than chunk size \(200\)"):
        chunk_blocks("a.txt", [Block("text")], size=200, overlap=200)
