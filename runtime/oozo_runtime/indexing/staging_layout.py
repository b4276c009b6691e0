"""The staging layout both staging areas share (staging.py has the promises): the files of a staged
shard, the names a build's folder may hold, and what a reader raises for a missing or broken shard."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from oozo_runtime.errors import OozoError

RESULT_FILE = "shard.json"
DOCUMENTS_FILE = "documents.json"
CHUNKS_FILE = "chunks.jsonl"
VECTORS_FILE = "vectors.npy"
INPUTS_FILE = "inputs.json"  # the build's inputs but the files: what the merge must match
SHARD_FILES = (CHUNKS_FILE, VECTORS_FILE, DOCUMENTS_FILE, INPUTS_FILE, RESULT_FILE)  # marker last
MARKER = "complete.json"  # S3 only: written after every data object of the shard
MERGE_CLAIM = "merge-claim"
TMP_PREFIX = ".tmp-"
BUILD_NAME = re.compile(r"^[0-9a-f]{64}$")  # a build key (shards.build_key): a sha256
SHARD_NAME = re.compile(r"^shard-(\d+)$")
STAGING_UNAVAILABLE = "StagingUnavailable"


class ShardMissing(OozoError):
    """The merge found no (complete, intact) result of some shard."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
