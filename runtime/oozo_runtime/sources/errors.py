"""Why a fetch failed, as reasons the operator puts into a condition.

The reason names live in `oozo_contract.fetch` (the operator reads the same list); they are
re-exported here for the fetchers. Messages name the object (bucket and key, repository and
ref, URL without its userinfo or query) and never a credential: they reach logs, Events, status
and the termination message.
"""

from __future__ import annotations

from oozo_contract.fetch import (
    SOURCE_AUTH_FAILED,
    SOURCE_BUSY,
    SOURCE_FAILURES,
    SOURCE_INVALID,
    SOURCE_NOT_FOUND,
    SOURCE_REFUSED,
    SOURCE_UNREACHABLE,
)
from oozo_runtime.errors import OozoError

__all__ = [
    "SOURCE_AUTH_FAILED",
    "SOURCE_BUSY",
    "SOURCE_FAILURES",
    "SOURCE_INVALID",
    "SOURCE_NOT_FOUND",
    "SOURCE_REFUSED",
    "SOURCE_UNREACHABLE",
    "SourceError",
]


class SourceError(OozoError):
    """A fetch that cannot complete; the previous fetch's files stay as they were."""
