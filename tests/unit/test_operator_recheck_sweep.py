"""The recheck sweep (main.py) rechecks every stalled corpus on its own: one whose reconcile
fails (a namespace being deleted refuses every create with 403 NamespaceTerminating) is logged by
name and the corpora listed after it are still rechecked. A clean-clone CI run caught the old
pass, which stopped at the first failure: a corpus left behind in another test's terminating
namespace kept the next test's corpus Stalled after its Secret was created."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from oozo_operator.main import recheck_each

pytestmark = pytest.mark.unit


def corpus(namespace: str, name: str) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name}}


@pytest.mark.parametrize(
    ("failing", "expected_failures"),
    [
        ((), 0),
        (("op-1/first",), 1),  # the case CI hit: the first one listed fails
        (("op-2/middle",), 1),
        (("op-1/first", "op-3/last"), 2),
        (("op-1/first", "op-2/middle", "op-3/last"), 3),
    ],
)
def test_every_corpus_is_rechecked_whichever_fail(
    failing: tuple[str, ...], expected_failures: int, caplog: pytest.LogCaptureFixture
) -> None:
    corpora = [corpus("op-1", "first"), corpus("op-2", "middle"), corpus("op-3", "last")]
    rechecked: list[str] = []

    def recheck(item: dict[str, Any]) -> None:
        key = f"{item['metadata']['namespace']}/{item['metadata']['name']}"
        rechecked.append(key)
        if key in failing:
            raise ApiException(status=403, reason="Forbidden")

    with caplog.at_level(logging.ERROR, logger="oozo.main"):
        assert recheck_each(corpora, recheck) == expected_failures

    assert rechecked == ["op-1/first", "op-2/middle", "op-3/last"]
    logged = [r.getMessage() for r in caplog.records]
    assert logged == [f"recheck of {key} failed" for key in failing]
