"""A burst of child events for one corpus costs one pass plus at most one more, not one each."""

from __future__ import annotations

import threading
import time

import pytest

from oozo_operator import passes


def test_burst_is_coalesced_into_at_most_one_extra_pass() -> None:
    ran: list[int] = []
    started = threading.Event()

    def one_pass() -> str:
        ran.append(1)
        started.set()
        time.sleep(0.2)
        return "done"

    first = threading.Thread(target=passes.coalesced, args=("ns", "burst", one_pass))
    first.start()
    started.wait(2)
    results = [passes.coalesced("ns", "burst", one_pass) for _ in range(10)]  # all while the first runs
    first.join(5)
    assert results == [passes.COALESCED] * 10
    assert len(ran) == 2  # the first, and one more for everything that came during it
    assert passes.coalesced("ns", "burst", one_pass) == "done"  # idle again: runs inline


def test_a_failing_pass_does_not_wedge_the_corpus() -> None:
    def boom() -> str:
        raise RuntimeError("api down")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            passes.coalesced("ns", "fails", boom)
    assert passes.coalesced("ns", "fails", lambda: "ok") == "ok"
