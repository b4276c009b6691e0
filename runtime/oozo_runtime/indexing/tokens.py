"""Token budgets for chunking: a chunk must fit what the embedding model reads, or its tail is
cut off silently when it is embedded (all-MiniLM-L6-v2 reads 256 tokens; a 1,000-character
window of English prose is 200 to 400 of them).

Tokens are counted with the model's own tokenizer (`tokenizers`, from the model folder's
tokenizer.json, as the ONNX query encoder loads it), on the text the model really receives: the
family's passage prefix (e5: `passage: `) plus the chunk, with the special tokens ([CLS]/[SEP],
<s>/</s>). A remote embeddings server has no local tokenizer: its chunks stay character windows
(`TokenCounter` is None, `chunksTruncated` is not reported).

Loading a tokenizer never imports torch: a rebuild that embeds nothing stays torch-free.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oozo_contract.index_settings import IndexSettings
from oozo_contract.manifest import ChunkingInfo
from oozo_runtime.errors import OozoError
from oozo_runtime.prefixes import prefixes_for

log = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
# What sentence-transformers uses when a model folder names no max_seq_length anywhere.
FALLBACK_MAX_SEQ_LENGTH = 512
# Files a tokenizer and its sequence length need; fetched alone when the model is not local yet.
TOKENIZER_FILES = [
    TOKENIZER_FILE,
    "sentence_bert_config.json",
    "tokenizer_config.json",
    "config.json",
    "special_tokens_map.json",
]


class TokenizerUnavailable(OozoError):
    """The model's tokenizer cannot be loaded, so chunks cannot be fitted to it."""


@dataclass(frozen=True)
class TokenCounter:
    """Counts what the model sees of a chunk, and where a window must end to fit `budget`."""

    tokenizer: Any  # tokenizers.Tokenizer, without truncation or padding
    max_seq_length: int  # tokens the model embeds; the rest of a longer input is dropped
    budget: int  # tokens a chunk may have (prefix and special tokens included)
    passage_prefix: str

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(self.passage_prefix + text).ids)

    def counts(self, texts: list[str]) -> list[int]:
        encodings = self.tokenizer.encode_batch([self.passage_prefix + t for t in texts])
        return [len(e.ids) for e in encodings]

    def truncated(self, texts: list[str]) -> int:
        """How many of these chunks the model would cut (longer than its max_seq_length)."""
        return sum(n > self.max_seq_length for n in self.counts(texts))

    def fit_end(self, text: str, start: int, end: int) -> int | None:
        """None when text[start:end] fits the budget; else the position of the first character
        that does not (the start of the first token beyond the budget)."""
        piece = text[start:end]
        encoding = self.tokenizer.encode(self.passage_prefix + piece)
        if len(encoding.ids) <= self.budget:
            return None
        # Offsets are in prefix+piece. The model keeps the special tokens it adds after the text
        # ([SEP], </s>): the first token that does not fit is `budget` less those.
        mask = encoding.special_tokens_mask
        trailing = 0
        while trailing < len(mask) and mask[len(mask) - 1 - trailing]:
            trailing += 1
        first_out = max(self.budget - trailing, 0)
        cut = encoding.offsets[first_out][0] - len(self.passage_prefix)
        return start + max(cut, 1)


def chunking_info(settings: IndexSettings, counter: TokenCounter | None) -> ChunkingInfo:
    """What the manifest records about chunking; a change of any of it re-chunks everything."""
    return ChunkingInfo(
        size=settings.chunk_size,
        overlap=settings.chunk_overlap,
        max_tokens=counter.budget if counter else None,
    )


def token_counter(settings: IndexSettings, model_folder: Path | None) -> TokenCounter | None:
    """The counter of the settings' local model, whose files are in `model_folder` (None for a
    remote provider, whose chunks stay character windows)."""
    if settings.embedding_provider != "local" or model_folder is None:
        return None
    tokenizer = _load_tokenizer(model_folder)
    max_seq = max_seq_length(model_folder)
    budget = settings.chunk_max_tokens or max_seq
    if budget > max_seq:
        log.warning(
            "chunkMaxTokens is above what the model reads: the tails of long chunks are not embedded",
            extra={"chunkMaxTokens": budget, "maxSeqLength": max_seq},
        )
    counter = TokenCounter(tokenizer, max_seq, budget, prefixes_for(settings.model).passage)
    overhead = counter.count("")
    if budget <= overhead:
        raise TokenizerUnavailable(
            "InvalidSettings",
            f"chunk token budget {budget} leaves no room for text after the prefix and special "
            f"tokens ({overhead} tokens)",
        )
    return counter


def _load_tokenizer(folder: Path) -> Any:
    from tokenizers import Tokenizer

    path = folder / TOKENIZER_FILE
    if path.is_file():
        tokenizer = Tokenizer.from_file(str(path))
    else:  # a model shipped with a slow tokenizer only: transformers converts it
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(folder)).backend_tokenizer
        except Exception as exc:
            raise TokenizerUnavailable(
                "ModelUnavailable", f"model folder {folder} has no usable tokenizer ({exc})"
            ) from exc
    # tokenizer.json may carry its own truncation (often 128) and padding: counting needs neither.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def max_seq_length(folder: Path) -> int:
    """The tokens sentence-transformers feeds the model: sentence_bert_config.json's
    max_seq_length, else the smaller of the tokenizer's and the model's limits."""
    st = _read_json(folder / "sentence_bert_config.json")
    if isinstance(st.get("max_seq_length"), int):
        return int(st["max_seq_length"])
    limits = [
        value
        for value in (
            _read_json(folder / "tokenizer_config.json").get("model_max_length"),
            _read_json(folder / "config.json").get("max_position_embeddings"),
        )
        if isinstance(value, int) and 0 < value < 1_000_000
    ]
    return min(limits) if limits else FALLBACK_MAX_SEQ_LENGTH


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def build_counter(settings: IndexSettings) -> TokenCounter | None:
    """The build's counter: the local model's tokenizer with its token budget (None for a
    remote model)."""
    from oozo_runtime.model_files import local_model_folder

    return token_counter(settings, local_model_folder(settings, TOKENIZER_FILES))


def count_truncated(counter: TokenCounter | None, texts: list[str]) -> int | None:
    """Chunks the model would cut; 0 unless the token budget was raised above what it reads."""
    if counter is None:
        return None
    truncated = counter.truncated(texts)
    if truncated:
        log.warning(
            "chunks longer than the model reads: their tails are not embedded",
            extra={"chunksTruncated": truncated, "maxSeqLength": counter.max_seq_length},
        )
    return truncated
