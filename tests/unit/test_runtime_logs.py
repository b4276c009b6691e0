"""JSON log lines, and secrets masked even if some code passed one to a logger."""

from __future__ import annotations

import io
import json
import logging

import pytest

from oozo_runtime import logs


def test_json_lines_with_extra_fields_and_masked_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    stream = io.StringIO()
    logs.configure("INFO", secrets=["sk-secret-value"], stream=stream)
    log = logging.getLogger("test.logs")
    log.info("hello", extra={"document": "a.docx", "count": 3})
    log.warning("oops sk-secret-value leaked")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["message"] == "hello" and lines[0]["document"] == "a.docx" and lines[0]["count"] == 3
    assert lines[0]["level"] == "info" and lines[0]["time"].endswith("Z")
    assert "sk-secret-value" not in stream.getvalue()
    assert lines[1]["message"] == "oops *** leaked"
