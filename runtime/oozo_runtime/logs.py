"""JSON log lines: one object per line on stderr, with the record's `extra` fields.

Secrets are never passed to loggers; as a second line of defence `configure(secrets=...)`
installs a filter that masks those exact values wherever they would appear.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = json.dumps(entry, default=str, ensure_ascii=False)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        return line


def configure(level: str = "INFO", secrets: Iterable[str] = (), stream: Any = None) -> None:
    """Route the root logger (and uvicorn's) to one JSON handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "openai", "sentence_transformers"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    for noisy in (
        "httpx",
        "httpx2",
        "httpcore",
        "openai",
        "sentence_transformers",
        "urllib3",
        "faiss.loader",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
