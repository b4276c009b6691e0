"""The Kubernetes termination message: a command's JSON result or error, always within 4096 bytes.

The kubelet keeps at most 4096 bytes of `/dev/termination-log`; anything longer is cut at a byte
and the operator would read JSON that does not parse. So the message is fitted here, before it is
written, by trimming values rather than text: the biggest strings and lists are shortened first,
each with a marker, and the message stays one valid JSON object.

Markers: a list under key `k` that lost items gets `"kTruncated": true` next to it (the operator
reads `skippedTruncated` this way); a cut string ends with `...[truncated]`; if only dropping whole
entries can make it fit, `"truncated": true` is set at the top.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TERMINATION_LIMIT = 4096  # bytes the kubelet keeps of a termination message
TEXT_MARKER = "...[truncated]"
MIN_TEXT = 64  # characters a string keeps: enough to tell what it was about
TRUNCATED = "truncated"


def compact_json(value: Any) -> str:
    """One line of compact, ASCII-only JSON (escaped unicode reads the same in every locale)."""
    return json.dumps(value, separators=(",", ":"), default=str)


def termination_message(payload: Mapping[str, Any], limit: int = TERMINATION_LIMIT) -> str:
    """`payload` as compact JSON of at most `limit` bytes; untouched if it already fits."""
    if limit < 64:
        raise ValueError(f"a termination message limit of {limit} bytes cannot hold an error")
    tree: dict[str, Any] = json.loads(compact_json(dict(payload)))  # a plain copy we may cut
    text = compact_json(tree)
    while len(text.encode()) > limit:
        excess = len(text.encode()) - limit
        if not _shorten_biggest(tree, excess):
            _drop_biggest_entries(tree, excess)
        text = compact_json(tree)
    return text


@dataclass
class _Trimmable:
    """A string or list that can get shorter; `weight` is what cutting it can save."""

    weight: int
    size: int  # serialized bytes now
    parent: dict[str, Any] | list[Any]
    key: Any  # str for a dict parent, int for a list parent


def _size(value: Any) -> int:
    return len(compact_json(value).encode())


def _walk(value: Any, parent: dict[str, Any] | list[Any] | None, key: Any, found: list[_Trimmable]) -> int:
    """Serialized size of `value`; appends every trimmable string and list under it to `found`."""
    if isinstance(value, dict):
        entries = [_size(k) + 1 + _walk(v, value, k, found) for k, v in value.items()]
        return 2 + sum(entries) + max(len(entries) - 1, 0)
    if isinstance(value, list):
        items = [_walk(item, value, i, found) for i, item in enumerate(value)]
        size = 2 + sum(items) + max(len(items) - 1, 0)
        if items and parent is not None:
            # the biggest item is left out of the weight: a list holding one huge string should
            # lose that string's tail, not its other items
            found.append(_Trimmable(sum(items) - max(items), size, parent, key))
        return size
    size = _size(value)
    if isinstance(value, str) and len(value) > MIN_TEXT + len(TEXT_MARKER) and parent is not None:
        found.append(_Trimmable(size, size, parent, key))
    return size


def _shorten_biggest(tree: dict[str, Any], excess: int) -> bool:
    """Cut the heaviest string or list by about `excess` bytes; False if nothing is left to cut.

    The heaviest is cut at most down to the next heaviest, or by half the excess, so two long
    values share the loss instead of the first one found losing everything."""
    found: list[_Trimmable] = []
    _walk(tree, None, None, found)
    if not found:
        return False
    found.sort(key=lambda t: t.weight, reverse=True)
    heaviest = found[0]
    runner_up = found[1].weight if len(found) > 1 else 0
    cut = min(excess, max(heaviest.weight - runner_up, excess // 2 + 1))
    value = heaviest.parent[heaviest.key]
    if isinstance(value, str):
        heaviest.parent[heaviest.key] = _shorter_text(value, heaviest.size - cut)
    else:
        _drop_tail(value, cut)
        if isinstance(heaviest.parent, dict):
            heaviest.parent[f"{heaviest.key}Truncated"] = True
        else:
            tree[TRUNCATED] = True
    return True


def _shorter_text(text: str, target: int) -> str:
    """The longest prefix of `text` plus the marker whose JSON is at most `target` bytes, but no
    shorter than MIN_TEXT characters (escapes make bytes per character vary, hence the search)."""
    lo, hi = MIN_TEXT, len(text) - len(TEXT_MARKER) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _size(text[:mid] + TEXT_MARKER) <= target:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + TEXT_MARKER


def _drop_tail(items: list[Any], cut: int) -> None:
    """Remove items from the end until at least `cut` bytes are gone (one item at least)."""
    saved = 0
    while items and (saved < cut or saved == 0):
        saved += _size(items.pop()) + 1


def _drop_biggest_entries(tree: dict[str, Any], excess: int) -> None:
    """The last resort, when every string is short and every list empty: remove the biggest keys
    of any object (later ones first among equals, the top-level marker never) until about
    `excess` bytes are gone, and say so at the top."""
    entries: list[tuple[int, int, dict[str, Any], str]] = []
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if not (node is tree and k == TRUNCATED):
                    entries.append((_size(k) + 1 + _size(v), len(entries), node, k))
                stack.append(v)
        elif isinstance(node, list):
            stack.extend(node)
    if not entries:  # unreachable while limit >= 64: {"truncated":true} is 18 bytes
        raise ValueError("nothing left to drop from the termination message")
    entries.sort(key=lambda e: (e[0], e[1]), reverse=True)
    saved = 0  # may overcount (an entry inside one dropped before): the caller measures again
    for size, _, node, key in entries:
        if saved >= excess:
            break
        del node[key]
        saved += size + 1
    tree[TRUNCATED] = True
