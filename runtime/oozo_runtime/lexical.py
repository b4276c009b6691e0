"""The BM25 index of a version's chunks: the lexical half of hybrid retrieval.

Built by `oozo index` next to the FAISS index and stored as one file of the version
(`lexical.bm25.npz`, listed in the manifest's checksums like every file), so the server loads it
without re-reading the text. The tokens are `text.content_words`: Unicode-aware and
language-neutral (casefolded words, CJK bigrams, the text's own language's stop words), the same
function for the chunks at build time and the question at query time. The manifest records the
tokeniser's name; a version whose stored index was made by another tokeniser (or none, a version
from before BM25) gets its index built in memory from its chunks at load instead, so an upgrade
never serves mismatched tokens and old versions keep their lexical ranking.

The index is built by bm25s (Lucene's BM25 variant with k1=1.5, b=0.75: no torch, fine for the
serve image); a question is scored with numpy alone on its stored score matrix. The file is an
uncompressed numpy archive read with `allow_pickle=False`: a tampered file is caught by its
checksum first, and even then cannot run code.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oozo_contract.manifest import LexicalIndexInfo
from oozo_runtime.text import content_words
from oozo_runtime.versions import IndexCorrupt

LEXICAL_FILE = "lexical.bm25.npz"
# Changes whenever content_words would split a text differently: a stored index made by another
# tokeniser is rebuilt at load rather than matched against differently split questions.
TOKENIZER = "oozo-content-words-1"
METHOD, K1, B = "lucene", 1.5, 0.75


def tokenize(text: str) -> list[str]:
    return content_words(text)


@dataclass
class LexicalIndex:
    """BM25 over the chunks of one version; `search` gives (score, chunk position) pairs.

    The index is bm25s's eager score matrix in compressed sparse columns, one column per word:
    `data[indptr[w]:indptr[w + 1]]` are word w's BM25 scores in the chunks `indices[...]` that hold
    it. bm25s builds it; scoring a question needs only numpy, so the server never imports bm25s
    (nor the scipy it loads: half a second of start-up and its memory)."""

    data: np.ndarray  # float32 scores
    indices: np.ndarray  # chunk positions
    indptr: np.ndarray  # column starts, one column per word
    num_docs: int
    vocabulary: dict[str, int]  # word -> column
    stored: bool  # read from the version's file (True) or built at load (False)

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        import bm25s

        bm25 = bm25s.BM25(method=METHOD, k1=K1, b=B)
        # An empty chunk list (or chunks without words) still indexes: bm25s adds its empty token.
        bm25.index([tokenize(t) for t in texts] or [[]], show_progress=False)
        scores = bm25.scores
        return cls(
            data=scores["data"],
            indices=scores["indices"],
            indptr=scores["indptr"],
            num_docs=int(scores["num_docs"]) if texts else 0,
            vocabulary=dict(bm25.vocab_dict),
            stored=False,
        )

    def save(self, version_dir: Path) -> LexicalIndexInfo:
        """Write the index into the version folder; the manifest entry that names it."""
        vocabulary = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            data=self.data,
            indices=self.indices,
            indptr=self.indptr,
            num_docs=np.array(self.num_docs, dtype=np.int64),
            # the words as one UTF-8 JSON list: a fixed-width numpy string array would pad every
            # word to the longest one
            vocabulary=np.frombuffer(json.dumps(vocabulary, ensure_ascii=False).encode(), dtype=np.uint8),
        )
        (version_dir / LEXICAL_FILE).write_bytes(buffer.getvalue())
        return LexicalIndexInfo(file=LEXICAL_FILE, tokenizer=TOKENIZER, method=METHOD, k1=K1, b=B)

    @classmethod
    def load(cls, version_dir: Path, info: LexicalIndexInfo | None, texts: list[str]) -> LexicalIndex:
        """The stored index when the version has one made by this tokeniser, else one built from
        `texts` (the chunks) now. The file's checksum has been checked with the others."""
        if info is None or info.tokenizer != TOKENIZER or info.method != METHOD:
            return cls.build(texts)
        with np.load(version_dir / info.file, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        vocabulary = json.loads(arrays["vocabulary"].tobytes().decode())
        index = cls(
            data=arrays["data"],
            indices=arrays["indices"],
            indptr=arrays["indptr"],
            num_docs=int(arrays["num_docs"]),
            vocabulary={word: position for position, word in enumerate(vocabulary)},
            stored=True,
        )
        # one column per word (bm25s's empty token has none): a query word maps to a column
        if index.num_docs != len(texts) or len(index.indptr) - 1 > len(vocabulary):
            raise IndexCorrupt(
                f"index version {version_dir.name}: its BM25 index covers {index.num_docs} "
                f"chunks, its chunks.jsonl holds {len(texts)}"
            )
        return index

    @property
    def size(self) -> int:
        return self.num_docs

    def scores(self, question: str) -> np.ndarray | None:
        """Every chunk's BM25 score for the question (Lucene's BM25 scores only the words a
        chunk holds, so a chunk without any scores 0), or None when no word of it is indexed.
        A word the question repeats counts each time, as bm25s counts it."""
        columns = len(self.indptr) - 1
        ids = [
            i for i in (self.vocabulary.get(w) for w in tokenize(question)) if i is not None and i < columns
        ]
        if not ids or self.num_docs == 0:
            return None
        scores = np.zeros(self.num_docs, dtype=self.data.dtype)
        for word in ids:
            start, end = self.indptr[word], self.indptr[word + 1]
            # a column holds each chunk once, so a fancy-index add equals bm25s's np.add.at
            scores[self.indices[start:end]] += self.data[start:end]
        return scores

    def search(self, question: str, k: int) -> list[tuple[float, int]]:
        """The `k` best chunks sharing at least one word with the question, best first (BM25
        scores, higher is better); fewer, or none, when fewer chunks share a word."""
        scores = self.scores(question) if k > 0 else None
        if scores is None:
            return []
        matching = np.flatnonzero(scores > 0)
        if len(matching) > k:
            matching = matching[np.argpartition(-scores[matching], k - 1)[:k]]
        order = sorted(matching.tolist(), key=lambda i: (-float(scores[i]), i))
        return [(float(scores[i]), i) for i in order]
