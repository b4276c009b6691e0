"""What `oozo fetch URI --into DIR` reports: the source's revision and what the fetch did.

The runtime prints one `FetchResult` as the JSON result line of `oozo fetch` (and writes it as
the fetch container's termination message); the operator validates that message into this
model and copies `revision` into `status.sourceRevision`. The refresh CronJob passes the
published revision as `--unless-revision`: a source still at it is not downloaded
(`skippedBecauseUnchanged`), and the index step then publishes nothing and loads no model.

Revisions, by source kind (stable for identical content, different when anything changed):
- git: the 40-hex commit SHA the ref resolved to.
- s3: "sha256:" + hex digest of the sorted (key, ETag) pairs under the prefix.
- http: "sha256:" + hex digest of the sorted (URL, ETag or Last-Modified or content sha256).
- folder: "sha256:" + hex digest of the sorted (relative path, size, mtime_ns).

`DIR` after a fetch holds exactly the source's files (what disappeared at the source is
removed), under their relative paths, and nothing else; fetch state lives outside it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from oozo_contract.results import Count, Detail, ResultModel

REVISION_MAX = 80
SKIPPED_LISTED = 20

SourceKind = Literal["folder", "s3", "git", "http"]

# Why a fetch failed: the `reason` of `oozo fetch`'s error (raised by oozo_runtime.sources), and
# the corpus's condition reason when it fails a build (oozo_operator.conditions), since the fix
# is at the source (an endpoint, a Secret, a bucket or ref). One list for both sides.
SOURCE_UNREACHABLE = "SourceUnreachable"  # DNS, connect, TLS or timeout: the server never answered
SOURCE_AUTH_FAILED = "SourceAuthFailed"  # 401/403, bad credentials, refused SSH key
SOURCE_NOT_FOUND = "SourceNotFound"  # missing bucket, repository, ref, or every URL 404
# A URL the fetch policy forbids (link-local, private range), an SSH host key known_hosts lacks
SOURCE_REFUSED = "SourceRefused"
SOURCE_INVALID = "SourceInvalid"  # a URI that names no source Oozo can fetch
SOURCE_BUSY = "SourceBusy"  # another fetch held the state folder for longer than the wait
SOURCE_FAILURES = frozenset(
    {SOURCE_UNREACHABLE, SOURCE_AUTH_FAILED, SOURCE_NOT_FOUND, SOURCE_REFUSED, SOURCE_INVALID, SOURCE_BUSY}
)


class SkippedObject(ResultModel):
    """A source object the fetch did not bring (over the size cap, refused address, 404 of one
    URL among many), named without credentials, and why."""

    name: Detail
    reason: Detail


class FetchResult(ResultModel):
    kind: SourceKind
    revision: str = Field(min_length=1, max_length=REVISION_MAX)
    fetched: Count
    unchanged: Count
    removed: Count
    skipped_objects: Count = 0
    skipped: list[SkippedObject] = Field(default_factory=list, max_length=SKIPPED_LISTED)
    # `oozo fetch --unless-revision REV` found the source at REV: DIR and the state were left
    # alone (the counts are 0) and the index step may publish nothing without reading DIR.
    skipped_because_unchanged: bool = False
