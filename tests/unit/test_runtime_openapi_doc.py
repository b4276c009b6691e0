"""docs/openapi.json is the query API's reference; it must match what the app serves."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_openapi", REPO / "hack" / "gen_openapi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_openapi_matches_the_app() -> None:
    committed = (REPO / "docs" / "openapi.json").read_text()
    assert committed == load_generator().render(), "docs/openapi.json is stale: run hack/gen_openapi.py"


def test_the_reference_describes_the_query_contract() -> None:
    doc = json.loads((REPO / "docs" / "openapi.json").read_text())
    request = doc["components"]["schemas"]["QueryRequest"]["properties"]
    assert request["question"]["maxLength"] == 4000 and request["question"]["minLength"] == 1
    assert request["top_k"]["minimum"] == 1 and request["top_k"]["maximum"] == 50
    source = doc["components"]["schemas"]["Source"]["properties"]
    assert {"document", "chunk", "score", "text"} <= set(source)
