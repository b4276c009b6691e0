"""Operator settings come from the operator pod's environment (OOZO_*), in one pydantic class."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from oozo_operator.config import OperatorSettings


def test_workers_default_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OOZO_WORKERS", raising=False)
    assert OperatorSettings().workers == 16
    monkeypatch.setenv("OOZO_WORKERS", "4")
    assert OperatorSettings().workers == 4
    monkeypatch.setenv("OOZO_WORKERS", "0")  # kopf needs at least one thread for the handlers
    with pytest.raises(ValidationError):
        OperatorSettings()
