"""The termination message is always one valid JSON object within the kubelet's 4096 bytes,
whatever the result or error holds: values are trimmed, biggest first and marked, never the text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from oozo_runtime.termination import TERMINATION_LIMIT, TEXT_MARKER, termination_message

SKIPPED = [{"document": f"folder/{i:04d}-" + "x" * 80 + ".docx", "reason": "corrupt"} for i in range(500)]

# name -> payload far beyond 4096 bytes
HUGE: dict[str, dict[str, Any]] = {
    "huge error string": {"error": "boom " * 5000, "reason": "BuildFailed"},
    "huge list": {"version": "v1", "skipped": SKIPPED, "skippedDocuments": 500},
    "huge backup pruned list": {"version": "v1", "pruned": [f"20261124t{i:06d}z-1a2b" for i in range(900)]},
    "multi-byte unicode": {"error": "Überschrift — 見出し 🚀 " * 800, "reason": "NoDocuments"},
    "astral characters only": {"error": "🚀" * 3000, "reason": "X"},
    "escapes": {"error": '"\\\n\t' * 4000, "reason": "X"},
    "one huge item in a list": {"version": "v", "skipped": [{"document": "a", "reason": "r" * 20000}]},
    "nested": {"version": "v", "a": {"b": {"c": [{"d": ["e" * 300] * 50}] * 20}}},
    "list of lists": {"version": "v", "rows": [["cell" * 40] * 20] * 20},
    "two long strings share the loss": {"error": "e" * 6000, "detail": "d" * 6000, "reason": "X"},
    "many short keys": {f"k{i:05d}": i for i in range(3000)},
    "many short strings in an object": {f"k{i:04d}": "s" * 60 for i in range(400)},
    "a huge number list": {"version": "v", "numbers": list(range(10_000))},
}


@pytest.mark.parametrize("payload", HUGE.values(), ids=HUGE.keys())
def test_the_message_is_valid_json_within_4096_bytes(payload: dict[str, Any]) -> None:
    text = termination_message(payload)
    assert len(text.encode("utf-8")) <= TERMINATION_LIMIT
    assert isinstance(json.loads(text), dict)


@pytest.mark.parametrize(
    "payload",
    [
        {"version": "v", "skipped": [{"document": "a", "reason": "empty file"}]},
        {"error": "no usable document in /docs", "reason": "NoDocuments"},
        {"version": "v", "note": "Überschrift 見出し 🚀", "sizeBytes": 12, "ok": True, "none": None},
        {"version": "v", "skipped": [f"d{i}" for i in range(200)]},  # ~1.6 KB: fits as it is
    ],
)
def test_a_message_that_fits_is_untouched(payload: dict[str, Any]) -> None:
    assert json.loads(termination_message(payload)) == payload


def test_a_cut_list_keeps_what_fits_and_says_so() -> None:
    data = json.loads(termination_message(HUGE["huge list"]))
    assert data["skippedTruncated"] is True
    assert data["skippedDocuments"] == 500 and data["version"] == "v1"
    assert 20 < len(data["skipped"]) < 500
    assert data["skipped"] == SKIPPED[: len(data["skipped"])]  # a prefix, each item whole


def test_a_cut_string_keeps_its_start_and_ends_with_the_marker() -> None:
    data = json.loads(termination_message(HUGE["multi-byte unicode"]))
    assert data["reason"] == "NoDocuments"
    assert data["error"].endswith(TEXT_MARKER)
    kept = data["error"].removesuffix(TEXT_MARKER)
    assert HUGE["multi-byte unicode"]["error"].startswith(kept) and len(kept) > 300


def test_one_huge_string_in_a_list_is_cut_rather_than_the_list_emptied() -> None:
    data = json.loads(termination_message(HUGE["one huge item in a list"]))
    assert len(data["skipped"]) == 1 and data["skipped"][0]["reason"].endswith(TEXT_MARKER)


def test_two_long_strings_share_the_loss() -> None:
    data = json.loads(termination_message(HUGE["two long strings share the loss"]))
    assert len(data["error"]) > 1000 and len(data["detail"]) > 1000
    assert data["reason"] == "X"


def test_the_message_uses_the_room_it_has() -> None:
    for name in ("huge error string", "huge list", "multi-byte unicode", "astral characters only"):
        assert len(termination_message(HUGE[name]).encode()) > TERMINATION_LIMIT - 300, name


def test_dropping_whole_entries_is_the_last_resort_and_is_marked() -> None:
    data = json.loads(termination_message(HUGE["many short keys"]))
    assert data["truncated"] is True and 100 < len(data) < 3000


def test_a_smaller_limit_is_honoured() -> None:
    text = termination_message(HUGE["huge list"], limit=512)
    assert len(text.encode()) <= 512 and json.loads(text)["skippedTruncated"] is True


def test_a_limit_too_small_for_any_error_is_refused() -> None:
    with pytest.raises(ValueError):
        termination_message({"error": "x"}, limit=10)
