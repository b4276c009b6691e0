"""Which index version the server serves (pure): the newest one built for the spec, or the one
spec.index.pinnedVersion names.

The operator cannot look into the index volume, so what is on it comes from the last build's
report (status.index.available; the newest version is on it by definition). A pin to a version
that is not there cannot be served: the version being served keeps serving, and the corpus
says why (PinnedVersionNotFound) instead of rolling anywhere. A pin is no input of the index:
it never changes the index hash, so pinning and unpinning roll the Deployment and build nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oozo_operator.conditions import Problem

PINNED_VERSION_NOT_FOUND = "PinnedVersionNotFound"


@dataclass(frozen=True)
class Serving:
    version: str | None  # None until a first version is published
    model: str | None  # the embedding model that version was built with, when known
    problem: Problem | None = None


def available_names(published: dict[str, Any]) -> list[str]:
    """The versions on the volume, newest first (the newest build's version at least)."""
    names = [a["version"] for a in published.get("available") or [] if a.get("version")]
    newest = published.get("version")
    return names if newest in names or not newest else [newest, *names]


def serving(pin: str | None, published: dict[str, Any] | None, before: dict[str, Any] | None) -> Serving:
    """`published`: status.index after this pass adopted any new build; `before`: status.index as
    the pass found it (what serves now)."""
    if not published or not published.get("version"):
        return Serving(None, None)
    newest = published["version"]
    if not pin or pin == newest:
        return Serving(newest, published.get("embeddingModel"))
    if pin in available_names(published):
        return Serving(pin, _model_of(pin, published))
    was = (before or {}).get("servingVersion") or (before or {}).get("version") or newest
    listed = ", ".join(available_names(published))
    problem = Problem(
        PINNED_VERSION_NOT_FOUND,
        f"spec.index.pinnedVersion {pin} is not on the index volume (available: {listed}); "
        f"version {was} keeps serving",
    )
    return Serving(was, _model_of(was, published), problem)


def _model_of(version: str, published: dict[str, Any]) -> str | None:
    for entry in published.get("available") or []:
        if entry.get("version") == version and entry.get("embeddingModel"):
            return str(entry["embeddingModel"])
    return published.get("embeddingModel")
