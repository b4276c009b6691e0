"""OOZO_MAX_QUESTION_CHARS and OOZO_MAX_TOP_K are the only source of the query limits: raised or
lowered, the request body is validated against them and the API reference states them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.server.app import create_app
from oozo_runtime.server.schemas import limited_to


def request_schema(settings: ServeSettings) -> dict[str, Any]:
    schemas = create_app(settings, load=False).openapi()["components"]["schemas"]
    props: dict[str, Any] = schemas["QueryRequest"]["properties"]
    return props


def test_the_defaults_are_the_documented_limits() -> None:
    props = request_schema(ServeSettings())
    assert props["question"]["maxLength"] == 4000 and props["top_k"]["maximum"] == 50


@pytest.mark.parametrize(("chars", "top_k"), [(20_000, 200), (100, 5)])
def test_configured_limits_raise_or_lower_what_a_request_may_ask(chars: int, top_k: int) -> None:
    props = request_schema(ServeSettings(max_question_chars=chars, max_top_k=top_k))
    assert props["question"]["maxLength"] == chars and props["top_k"]["maximum"] == top_k
    body = limited_to(chars, top_k)
    assert body.model_validate({"question": "x" * chars, "top_k": top_k}).top_k == top_k
    with pytest.raises(ValidationError, match=f"at most {chars} characters"):
        body.model_validate({"question": "x" * (chars + 1)})
    with pytest.raises(ValidationError, match=f"less than or equal to {top_k}"):
        body.model_validate({"question": "q", "top_k": top_k + 1})
