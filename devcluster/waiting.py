"""Waiting for the cluster to reach a state, with one deadline and one way to say what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes.client.rest import ApiException

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0, every: float = 0.25) -> T:
    """Call `probe` every `every` seconds until it returns something truthy, and return that.
    An ApiException counts as "not yet" (an object not created yet, a conflict), and is named
    in the AssertionError raised after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = probe()
        except ApiException as err:
            value, last = None, err
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last})")
        time.sleep(every)
