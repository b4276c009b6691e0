"""`kubectl oozo status` shows the served version's vector index: its type, recall@10 against
exact search, size and the memory a replica needs (status.index.vectorIndex)."""

from __future__ import annotations

from rich.console import Console

from oozo_kubectl import screen

MI = 2**20


def text_of(renderable: object) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_status_shows_the_vector_index_type_recall_size_and_memory_per_replica() -> None:
    facts = {"type": "hnsw", "recallAt10": 0.9969, "sizeBytes": 110 * MI, "memoryBytes": 134 * MI}
    shown = text_of(screen.index_section({"index": {"version": "v1", "vectorIndex": facts}}))
    assert "hnsw, recall@10 0.9969, 110 MiB, 134 MiB per replica" in shown


def test_an_index_built_before_it_was_measured_shows_no_vector_index_row() -> None:
    assert "Vector index" not in text_of(screen.index_section({"index": {"version": "v1"}}))
