"""Split a document's blocks into overlapping windows of at most `size` characters and, with a
token counter (oozo_runtime.indexing.tokens), at most its token budget: the window is cut back
until the model reads all of it, at the same kinds of boundary, and the overlap shrinks in the
same proportion as the window (Russian text is about one MiniLM token per character, so a
200-character overlap of a 250-character window would make four times the chunks).

A window ends at the last paragraph break in its second half if there is one, else at the last
sentence end, else at the last space; the next window starts `overlap` characters earlier, moved
forward to the next sentence start (else a slightly earlier sentence start, else a word start), so
chunks rarely begin mid-sentence and never mid-word.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass

from oozo_contract.defaults import check_overlap_below_size
from oozo_runtime.indexing.parsing import Block
from oozo_runtime.indexing.tokens import TokenCounter

PARAGRAPH_SEP = "\n\n"
_SENTENCE_END = re.compile(r"[.!?…:;](?=[\s\"')\]]|$)|\n")


class ChunkingError(ValueError):
    """Invalid chunking parameters."""


@dataclass(frozen=True)
class Chunk:
    document: str
    ordinal: int
    text: str
    heading: str | None

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def validate(size: int, overlap: int) -> None:
    if size < 1:
        raise ChunkingError(f"chunk size must be positive, got {size}")
    if overlap < 0:
        raise ChunkingError(f"chunk overlap must not be negative, got {overlap}")
    try:
        check_overlap_below_size(size, overlap, "chunk size", "chunk overlap")
    except ValueError as exc:
        raise ChunkingError(str(exc)) from exc


def chunk_blocks(
    document: str,
    blocks: list[Block],
    size: int = 1000,
    overlap: int = 200,
    counter: TokenCounter | None = None,
) -> list[Chunk]:
    validate(size, overlap)
    text, starts, headings = _join(blocks)
    chunks: list[Chunk] = []
    start, n = 0, len(text)
    while start < n:
        end = n if n - start <= size else _break_before(text, start, start + size)
        window = size
        if counter is not None:
            end, window = _fit_tokens(text, start, end, size, counter)
        piece = text[start:end].strip()
        if piece:
            chunks.append(Chunk(document, len(chunks), piece, _heading_at(starts, headings, start, end)))
        if end >= n:
            break
        step_back = overlap * window // size
        if step_back == 0:
            start = _skip_space(text, end, n)
        else:
            start = _start_after(text, max(end - step_back, start + 1), end, window)
    return chunks


def _fit_tokens(text: str, start: int, end: int, size: int, counter: TokenCounter) -> tuple[int, int]:
    """The end of the window [start, end) cut back until it fits the token budget, and the width
    in characters the budget allowed (`size` when it did not cut)."""
    window = size
    while (cut := counter.fit_end(text, start, end)) is not None:
        window = min(window, cut - start)
        # Strictly shorter each round, and never empty: one character always fits a budget
        # larger than the prefix and special tokens (tokens.token_counter refuses smaller).
        end = max(min(_break_before(text, start, cut), end - 1), start + 1)
    return end, max(window, 1)


def _join(blocks: list[Block]) -> tuple[str, list[int], list[str | None]]:
    parts: list[str] = []
    starts: list[int] = []
    headings: list[str | None] = []
    pos = 0
    for block in blocks:
        if not block.text.strip():
            continue
        if parts:
            pos += len(PARAGRAPH_SEP)
        starts.append(pos)
        headings.append(block.heading)
        parts.append(block.text)
        pos += len(block.text)
    return PARAGRAPH_SEP.join(parts), starts, headings


def _heading_at(starts: list[int], headings: list[str | None], start: int, end: int) -> str | None:
    """The heading in force where the chunk's text begins (skipping leading whitespace)."""
    i = bisect.bisect_right(starts, start) - 1
    if i + 1 < len(starts) and starts[i + 1] < end and starts[i + 1] - start <= len(PARAGRAPH_SEP):
        i += 1
    return headings[i] if i >= 0 else None


def _break_before(text: str, start: int, limit: int) -> int:
    """Best end of a window [start, limit): paragraph > sentence > word > hard cut."""
    floor = start + (limit - start) // 2
    para = text.rfind(PARAGRAPH_SEP, floor, limit)
    if para > floor:
        return para
    best = -1
    for match in _SENTENCE_END.finditer(text, floor, limit):
        best = match.end()
    if best > floor:
        return best
    space = text.rfind(" ", floor, limit)
    if space > floor:
        return space
    return limit


def _start_after(text: str, lo: int, end: int, size: int) -> int:
    """Start of the next window: the first sentence start in [lo, end); else the last sentence
    start a little before lo (overlap grows to at most half a window); else the next word."""
    starts = [_skip_space(text, m.end(), end) for m in _SENTENCE_END.finditer(text, lo, end)]
    starts = [s for s in starts if s < end]
    if starts:
        return starts[0]
    floor = max(end - size // 2, 0)
    earlier = [_skip_space(text, m.end(), end) for m in _SENTENCE_END.finditer(text, floor, lo)]
    earlier = [s for s in earlier if floor < s < lo]
    if earlier:
        return earlier[-1]
    if lo > 0 and not text[lo - 1].isspace():
        space = text.find(" ", lo, end)
        if space != -1:
            return space + 1
    return lo


def _skip_space(text: str, pos: int, end: int) -> int:
    while pos < end and text[pos].isspace():
        pos += 1
    return pos
