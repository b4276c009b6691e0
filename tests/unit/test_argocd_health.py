"""The shipped Argo CD health check, run by a real Lua 5.1 interpreter (Argo CD runs gopher-lua,
a Lua 5.1) against RagCorpus objects in each state a user meets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lupa import lua51

HEALTH_LUA = Path(__file__).resolve().parents[2] / "examples/gitops/argocd/ragcorpus-health.lua"


def argocd_health(obj: dict[str, Any]) -> tuple[str, str]:
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)

    def to_lua(value: Any) -> Any:
        if isinstance(value, dict):
            return lua.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return lua.table_from([to_lua(v) for v in value])
        return value

    lua.globals().obj = to_lua(obj)
    result = lua.execute(HEALTH_LUA.read_text())
    return result["status"], result["message"]


def condition(kind: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def corpus(generation: int = 1, status: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "rag.oozo.dev/v1alpha1",
        "kind": "RagCorpus",
        "metadata": {"name": "handbook", "namespace": "docs", "generation": generation, **meta},
        "spec": {"source": {"configMap": {"name": "handbook-docs"}}},
    }
    if status is not None:
        obj["status"] = status
    return obj


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(corpus(), "Progressing", id="new, no status yet"),
        pytest.param(corpus(status={"observedGeneration": -1}), "Progressing", id="schema-defaulted status"),
        pytest.param(
            corpus(
                status={
                    "observedGeneration": 1,
                    "conditions": [
                        condition("Reconciling", "True", "Indexing", "index job handbook-index-1a2b running"),
                        condition("Ready", "False", "Indexing"),
                    ],
                }
            ),
            "Progressing",
            id="indexing",
        ),
        pytest.param(
            corpus(
                status={
                    "observedGeneration": 1,
                    "conditions": [condition("Ready", "True", "Serving", "serving index v1")],
                }
            ),
            "Healthy",
            id="ready",
        ),
        pytest.param(
            corpus(
                generation=2,
                status={
                    "observedGeneration": 1,
                    "conditions": [condition("Ready", "True", "Serving", "serving index v1")],
                },
            ),
            "Progressing",
            id="ready but a newer spec not yet observed",
        ),
        pytest.param(
            corpus(
                status={
                    "observedGeneration": 1,
                    "conditions": [
                        condition("Stalled", "True", "SecretNotFound", "secret openai not found"),
                        condition("Ready", "False", "SecretNotFound"),
                    ],
                }
            ),
            "Degraded",
            id="stalled",
        ),
        pytest.param(
            corpus(
                deletionTimestamp="2026-11-24T12:00:00Z",
                status={"observedGeneration": 1, "conditions": [condition("Ready", "True")]},
            ),
            "Progressing",
            id="being deleted",
        ),
    ],
)
def test_health_verdicts(obj: dict[str, Any], expected: str) -> None:
    status, message = argocd_health(obj)
    assert status == expected, message


def test_stalled_message_names_the_reason() -> None:
    obj = corpus(
        status={
            "observedGeneration": 1,
            "conditions": [condition("Stalled", "True", "SecretNotFound", "secret openai not found")],
        }
    )
    assert argocd_health(obj) == ("Degraded", "SecretNotFound: secret openai not found")


def test_argocd_cm_example_carries_the_same_lua() -> None:
    import yaml

    patch = yaml.safe_load((HEALTH_LUA.parent / "argocd-cm-patch.yaml").read_text())
    embedded = patch["data"]["resource.customizations.health.rag.oozo.dev_RagCorpus"]
    assert embedded == HEALTH_LUA.read_text()
