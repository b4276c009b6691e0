"""Answers from retrieved passages: extractive (no LLM, the default) or an OpenAI-compatible LLM.

The extractive answer picks the sentences of the best passages that share the most words with the
question and names the documents they come from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from oozo_runtime.retrieval import Hit
from oozo_runtime.text import terms

NO_MATCH = "No indexed passage matches the question."
# Sentence ends in any script: . ! ? … (optionally closed by a quote or bracket) before a space;
# the Devanagari danda, Arabic and Greek question marks (";" after a Greek letter); and the CJK
# full stops, which need no space after them. A single letter before a dot is an abbreviation
# ("z. B.", "e. g.", Russian "t. e."), not an end. Line breaks always end a sentence.
_CLOSER = "\"'\u201d\u2019\u00bb)\\]"  # closing quotes and brackets
_SENTENCE = re.compile(
    r"(?<![\s(]\w\.)(?<!^\w\.)(?<=[.!?…])\s+"
    rf"|(?<=[.!?…][{_CLOSER}])\s+"
    r"|(?<=[।॥؟])\s*"
    r"|(?<=[\u0370-\u03ff\u1f00-\u1fff][;;])\s+"
    r"|(?<=[\u3002\uff01\uff1f])\s*"  # CJK full stop, exclamation and question marks
    r"|\n+"
)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def best_sentences(question: str, text: str, limit: int = 2, heading: str | None = None) -> list[str]:
    """The `limit` sentences sharing most question terms, in their original order (the heading
    line itself is named separately, not quoted)."""
    wanted = terms(question)
    sentences = [s for s in split_sentences(text) if s != heading] or split_sentences(text)
    if not sentences:
        return []
    scored = sorted(range(len(sentences)), key=lambda i: (-len(wanted & terms(sentences[i])), i))
    chosen = sorted(scored[:limit])
    return [sentences[i] for i in chosen]


def extractive_answer(question: str, hits: Sequence[Hit], max_documents: int = 3) -> str:
    """A readable answer from the best passages, one short paragraph per document."""
    if not hits:
        return NO_MATCH
    wanted = terms(question)
    parts: list[str] = []
    seen: set[str] = set()
    for rank, hit in enumerate(hits):
        if hit.document in seen or len(seen) >= max_documents:
            continue
        sentences = best_sentences(question, hit.text, 2 if rank == 0 else 1, hit.heading)
        if rank > 0 and not any(wanted & terms(s) for s in sentences):
            continue  # lower-ranked passages only when they say something about the question
        seen.add(hit.document)
        where = f"{hit.document} ({hit.heading})" if hit.heading else hit.document
        excerpt = " ".join(_shorten(s) for s in sentences)
        parts.append(f"According to {where}: {excerpt}" if rank == 0 else f"See also {where}: {excerpt}")
    return "\n\n".join(parts)


def _shorten(sentence: str, limit: int = 400) -> str:
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rsplit(" ", 1)[0] + "…"


SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources provided by the user. "
    "Cite sources by their number in square brackets, e.g. [1]. If the sources do not contain the "
    "answer, say that you cannot find it in the indexed documents; do not guess or use outside "
    "knowledge. Keep the answer concise."
)


def grounded_prompt(question: str, hits: Sequence[Hit]) -> str:
    blocks = [
        f"[{i}] {h.document}" + (f" — {h.heading}" if h.heading else "") + f"\n{h.text}"
        for i, h in enumerate(hits, start=1)
    ]
    return "Sources:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"
