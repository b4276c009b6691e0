"""The server's memory request follows the index it serves (render/server_memory): 1Gi for the
runtime plus what the version needs, within a memory limit the user set; a request the user set
wins; a version whose memory was never measured keeps the resources it always had."""

from __future__ import annotations

from typing import Any

import pytest

from oozo_operator.render.server_memory import DEFAULT_RESOURCES, server_resources

MI = 1024**2
GI = 1024 * MI


@pytest.mark.parametrize(
    ("spec_resources", "memory_bytes", "expected"),
    [
        # not measured (a version built before it was): the resources as before
        (None, None, DEFAULT_RESOURCES),
        ({"limits": {"memory": "8Gi"}}, None, {"limits": {"memory": "8Gi"}}),
        # no resources in the spec: 1Gi + the index, limit at least 2Gi and 1Gi above the request
        (None, 50 * MI, {"requests": {"cpu": "250m", "memory": "1074Mi"}, "limits": {"memory": "2098Mi"}}),
        (None, 0, {"requests": {"cpu": "250m", "memory": "1024Mi"}, "limits": {"memory": "2048Mi"}}),
        (
            None,
            3 * GI + 1,  # a byte more than 3 GiB rounds up to the next MiB
            {"requests": {"cpu": "250m", "memory": "4097Mi"}, "limits": {"memory": "5121Mi"}},
        ),
        # resources without a memory request: the request follows the index, within the limit
        (
            {"requests": {"cpu": "1"}, "limits": {"memory": "8Gi"}},
            2 * GI,
            {"requests": {"cpu": "1", "memory": "3072Mi"}, "limits": {"memory": "8Gi"}},
        ),
        (
            {"requests": {"cpu": "1"}, "limits": {"memory": "2Gi"}},
            2 * GI,
            {"requests": {"cpu": "1", "memory": "2048Mi"}, "limits": {"memory": "2Gi"}},
        ),
        ({"limits": {"cpu": "2"}}, 100 * MI, {"limits": {"cpu": "2"}, "requests": {"memory": "1124Mi"}}),
        # a memory request the user set wins
        (
            {"requests": {"memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            4 * GI,
            {"requests": {"memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        ),
    ],
)
def test_memory_request_follows_the_index_within_the_users_limits(
    spec_resources: dict[str, Any] | None, memory_bytes: int | None, expected: dict[str, Any]
) -> None:
    assert server_resources(spec_resources, memory_bytes) == expected
