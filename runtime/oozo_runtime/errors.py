"""The one error type of the runtime's commands: a machine-readable reason plus a message.

The reason is what the operator puts into a condition (CamelCase, stable); the message is for
people, one line. `oozo index`, `oozo backup` and `oozo restore` end every expected failure with
one of these; the command runner turns it into the `{"error", "reason"}` JSON they all print.
"""

from __future__ import annotations

from typing import Any

from oozo_contract.results import QUALITY_GATE_FAILED as _QUALITY_GATE_FAILED


class OozoError(Exception):
    """A failure that ends a command with a clear one-line error and a non-zero exit. `details`
    are more camelCase fields for the JSON (a failed quality gate's scores)."""

    def __init__(self, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {**self.details, "error": self.message, "reason": self.reason}


# Reasons the runner itself reports, whatever the command.
INVALID_SETTINGS = "InvalidSettings"  # a flag or OOZO_* variable failed validation (exit 2)
INTERRUPTED = "Interrupted"  # SIGTERM or Ctrl-C: the command unwound and published nothing
INTERNAL_ERROR = "InternalError"  # an unexpected exception in `oozo backup` / `oozo restore`
BUILD_FAILED = "BuildFailed"  # an unexpected exception in `oozo index`
# `oozo index` built a version that failed the golden questions: it was not published (exit 3,
# so a Job's podFailurePolicy can tell this deterministic outcome from a crash worth a retry).
QUALITY_GATE_FAILED = _QUALITY_GATE_FAILED
