"""The server container's resources, with a memory request that follows the index it serves.

The index build reports the memory a replica needs for the version (status.index.memoryBytes:
the index file, the parsed chunks, BM25); the runtime itself (Python, the ONNX query encoder)
needs about BASE_MEMORY on top. The scheduler, and so the HPA's new pods, then only place a
replica where the index fits. A pure function of the spec's resources and that number:

- no number yet (a version built before it was measured): the resources as before;
- no resources in the spec: request BASE_MEMORY + index (at least the old 1Gi), limit the old
  2Gi or the request plus BASE_MEMORY, whichever is larger;
- resources without a memory request: the request follows the index, within a memory limit the
  user set (a request above the limit would be refused by the API server);
- a memory request the user set wins, always.
"""

from __future__ import annotations

from typing import Any

from kubernetes.utils.quantity import parse_quantity

MI = 1024**2
BASE_MEMORY = 1024 * MI
DEFAULT_LIMIT = 2048 * MI
DEFAULT_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "250m", "memory": "1Gi"},
    "limits": {"memory": "2Gi"},
}


def server_resources(spec_resources: dict[str, Any] | None, memory_bytes: int | None) -> dict[str, Any]:
    """The container's `resources` for spec.runtime.resources (wire form, None when unset) and the
    served version's memoryBytes (None when unknown)."""
    if memory_bytes is None:
        return spec_resources if spec_resources is not None else DEFAULT_RESOURCES
    needed = _mebibytes(BASE_MEMORY + memory_bytes)
    if spec_resources is None:
        request = max(needed, BASE_MEMORY // MI)
        limit = max(DEFAULT_LIMIT // MI, request + BASE_MEMORY // MI)
        return {"requests": {"cpu": "250m", "memory": f"{request}Mi"}, "limits": {"memory": f"{limit}Mi"}}
    requests = dict(spec_resources.get("requests") or {})
    if "memory" in requests:
        return spec_resources
    limit_text = (spec_resources.get("limits") or {}).get("memory")
    if limit_text is not None:
        needed = min(needed, int(parse_quantity(str(limit_text)) // MI))
    requests["memory"] = f"{needed}Mi"
    return {**spec_resources, "requests": requests}


def _mebibytes(count: int) -> int:
    return -(-count // MI)  # rounded up: a request a byte short of the index does not hold it
