"""Why a fetch failed, as reasons the operator puts into a condition.

Messages name the object (bucket and key, repository and ref, URL without its userinfo or
query) and never a credential: they reach logs, Events, status and the termination message.
"""

from __future__ import annotations

from oozo_runtime.errors import OozoError

SOURCE_UNREACHABLE = "SourceUnreachable"  # DNS, connect, TLS or timeout: the server never answered
SOURCE_AUTH_FAILED = "SourceAuthFailed"  # 401/403, bad credentials, refused SSH key
SOURCE_NOT_FOUND = "SourceNotFound"  # missing bucket, repository, ref, or every URL 404
SOURCE_REFUSED = "SourceRefused"  # a URL the fetch policy forbids (link-local, private range)
SOURCE_INVALID = "SourceInvalid"  # a URI that names no source Oozo can fetch
SOURCE_BUSY = "SourceBusy"  # another fetch held the state folder for longer than the wait


class SourceError(OozoError):
    """A fetch that cannot complete; the previous fetch's files stay as they were."""
