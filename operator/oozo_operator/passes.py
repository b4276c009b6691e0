"""One reconcile pass at a time per corpus.

Handlers for the corpus and for its children run on kopf's threads; a per-corpus lock keeps two
passes of one corpus from interleaving, and bursts of child events collapse into one more pass.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
_locks: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
_locks_guard = threading.Lock()


@dataclass
class _Burst:
    busy: bool = False
    pending: bool = False


_bursts: defaultdict[tuple[str, str], _Burst] = defaultdict(_Burst)
COALESCED = "coalesced"


def lock_for(namespace: str, name: str) -> threading.Lock:
    with _locks_guard:
        return _locks[(namespace, name)]


def forget(namespace: str, name: str) -> None:
    """Drop the per-corpus lock and burst state of a deleted corpus."""
    with _locks_guard:
        _locks.pop((namespace, name), None)
        _bursts.pop((namespace, name), None)


def coalesced(namespace: str, name: str, one_pass: Callable[[], T]) -> T | str:
    """Run `one_pass` (a reconcile of this corpus) for child events, which come in bursts
    (a rollout is a dozen Pod and Deployment events). While a pass for this corpus is under
    way, further events only mark it dirty, and the thread running it does one more pass
    afterwards. Each pass reads everything fresh, so one pass after the burst sees what every
    event of it would have. Returns COALESCED when this call's work went to the running thread."""
    key = (namespace, name)
    with _locks_guard:
        burst = _bursts[key]
        if burst.busy:
            burst.pending = True
            return COALESCED
        burst.busy = True
    try:
        while True:
            with _locks_guard:
                burst.pending = False
            outcome = one_pass()
            with _locks_guard:
                if not burst.pending:
                    burst.busy = False
                    return outcome
    except BaseException:
        with _locks_guard:
            burst.busy = False
        raise
