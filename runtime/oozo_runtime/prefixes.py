"""Instruction prefixes some embedding models were trained with (e5: `query: ` / `passage: `):
the local embedder, the ONNX query encoder and the remote embeddings client all add the same
ones, so they live below all three."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prefixes:
    query: str = ""
    passage: str = ""


def prefixes_for(model_id: str) -> Prefixes:
    """Models trained with instruction prefixes need them at encode time (e5: `query: `/`passage: `)."""
    name = model_id.rstrip("/").rsplit("/", 1)[-1].lower()
    if name.startswith(("e5-", "multilingual-e5")) or "-e5-" in name:
        return Prefixes(query="query: ", passage="passage: ")
    return Prefixes()
