"""The quality gate as the operator sees it (spec.evaluation; the runtime evaluates): reading a
failed gate's scores from an index Job's termination message. Pure."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from oozo_contract.results import QUALITY_GATE_FAILED, Evaluation


def failed_gate(message: str | None) -> dict[str, Any] | None:
    """The scores of an `oozo index` that failed the quality gate (reason QualityGateFailed,
    `evaluation` in its JSON), shaped as status.index.evaluation; None for any other message."""
    try:
        raw = json.loads(message or "")
    except ValueError:
        return None
    if not isinstance(raw, dict) or raw.get("reason") != QUALITY_GATE_FAILED:
        return None
    try:
        evaluation = Evaluation.model_validate(raw.get("evaluation"))
    except ValidationError:
        return {"passed": False}  # the verdict is known even when the scores are not readable
    return evaluation.model_dump(mode="json", by_alias=True, exclude_none=True)
