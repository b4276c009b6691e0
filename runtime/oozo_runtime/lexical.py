"""The BM25 index of a version's chunks: the lexical half of hybrid retrieval.

Built by `oozo index` next to the FAISS index and stored as one file of the version
(`lexical.bm25.npz`, listed in the manifest's checksums like every file), so the server loads it
without re-reading the text. The tokens are `text.content_words`: Unicode-aware and
language-neutral (casefolded words, CJK bigrams, the text's own language's stop words), the same
function for the chunks at build time and the question at query time. The manifest records the
tokeniser's name; a version whose stored index was made by another tokeniser (or none, a version
from before BM25) gets its index built in memory from its chunks at load instead, so an upgrade
never serves mismatched tokens and old versions keep their lexical ranking.

The scoring is bm25s (sparse matrices, numpy only: no torch, fine for the serve image), Lucene's
BM25 variant with k1=1.5, b=0.75. The file is an uncompressed numpy archive read with
`allow_pickle=False`: a tampered file is caught by its checksum first, and even then cannot run code.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """BM25 over the chunks of one version; `search` gives (score, chunk position) pairs."""

    bm25: Any  # bm25s.BM25
    stored: bool  # read from the version's file (True) or built at load (False)

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        import bm25s

        bm25 = bm25s.BM25(method=METHOD, k1=K1, b=B)
        # An empty chunk list (or chunks without words) still indexes: bm25s adds its empty token.
        bm25.index([tokenize(t) for t in texts] or [[]], show_progress=False)
        if not texts:
            bm25.scores["num_docs"] = 0
        return cls(bm25, stored=False)

    def save(self, version_dir: Path) -> LexicalIndexInfo:
        """Write the index into the version folder; the manifest entry that names it."""
        scores = self.bm25.scores
        vocabulary = sorted(self.bm25.vocab_dict, key=self.bm25.vocab_dict.__getitem__)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            data=scores["data"],
            indices=scores["indices"],
            indptr=scores["indptr"],
            num_docs=np.array(scores["num_docs"], dtype=np.int64),
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
        import bm25s

        with np.load(version_dir / info.file, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        vocabulary = json.loads(arrays["vocabulary"].tobytes().decode())
        bm25 = bm25s.BM25(method=info.method, k1=info.k1, b=info.b)
        bm25.scores = {
            "data": arrays["data"],
            "indices": arrays["indices"],
            "indptr": arrays["indptr"],
            "num_docs": int(arrays["num_docs"]),
        }
        bm25.vocab_dict = {word: position for position, word in enumerate(vocabulary)}
        bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
        bm25.nonoccurrence_array = None  # Lucene's BM25 scores only the words a chunk holds
        # one column per word (bm25s's empty token has none): a query word maps to a column
        if bm25.scores["num_docs"] != len(texts) or len(bm25.scores["indptr"]) - 1 > len(vocabulary):
            raise IndexCorrupt(
                f"index version {version_dir.name}: its BM25 index covers {bm25.scores['num_docs']} "
                f"chunks, its chunks.jsonl holds {len(texts)}"
            )
        return cls(bm25, stored=True)

    @property
    def size(self) -> int:
        return int(self.bm25.scores["num_docs"])

    def search(self, question: str, k: int) -> list[tuple[float, int]]:
        """The `k` best chunks sharing at least one word with the question, best first (BM25
        scores, higher is better); fewer, or none, when fewer chunks share a word."""
        ids = self.bm25.get_tokens_ids(tokenize(question))
        if not ids or self.size == 0 or k <= 0:
            return []
        scores = self.bm25.get_scores_from_ids(ids)
        matching = np.flatnonzero(scores > 0)
        if len(matching) > k:
            matching = matching[np.argpartition(-scores[matching], k - 1)[:k]]
        order = sorted(matching.tolist(), key=lambda i: (-float(scores[i]), i))
        return [(float(scores[i]), i) for i in order]
