"""How `oozo index`, `oozo backup` and `oozo restore` start and end, the same way for all three.

Settings in (flags override `OOZO_*` variables), then the command's body, then exactly one JSON
line: the result on stdout, or `{"error", "reason"}` on stderr. The same JSON, fitted into 4096
bytes, goes to the termination-message path when one is set: that is how the operator learns the
outcome of a Job. SIGTERM (a deleted Job, a node drain) unwinds like Ctrl-C, so every `finally`
runs: a build's or restore's .tmp- directory is removed, a multipart upload aborted.

Exit codes: 0 done, 1 failed, 2 invalid settings, 3 quality gate failed (`oozo index`: nothing
published), 130 Ctrl-C, 143 SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from oozo_contract.results import QUALITY_GATE_EXIT_CODE
from oozo_runtime.errors import INTERNAL_ERROR, INTERRUPTED, INVALID_SETTINGS, QUALITY_GATE_FAILED, OozoError
from oozo_runtime.termination import compact_json, termination_message

log = logging.getLogger("oozo_runtime.runner")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID_SETTINGS = 2
EXIT_QUALITY_GATE_FAILED = QUALITY_GATE_EXIT_CODE  # the index Job's podFailurePolicy matches it
EXIT_CTRL_C = 130  # 128 + SIGINT, what a shell reports
EXIT_SIGTERM = 143  # 128 + SIGTERM

SettingsT = TypeVar("SettingsT", bound=BaseModel)
# A body returns its typed result model, or the plain camelCase dict older bodies build.
Result = BaseModel | Mapping[str, Any]


@dataclass(frozen=True)
class Command(Generic[SettingsT]):
    """One runtime command: its settings model and the body that turns settings into a result."""

    name: str  # "index", "backup", "restore": used in messages
    settings: type[SettingsT]
    body: Callable[[SettingsT], Result]
    crash_reason: str = INTERNAL_ERROR  # the reason of an exception no body expected
    flags: Mapping[str, str] = field(default_factory=dict)  # setting -> how a user spells it


def settings_error(exc: ValidationError, flags: Mapping[str, str] | None = None) -> str:
    """One line naming each bad setting by its flag when known: `invalid settings: --to (...): ...`."""
    flags = flags or {}

    def where(loc: tuple[int | str, ...]) -> str:
        dotted = ".".join(map(str, loc))
        return flags.get(dotted, dotted) or "settings"

    problems = "; ".join(f"{where(e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False))
    return f"invalid settings: {problems}"


def load_settings(
    cls: type[SettingsT], overrides: Mapping[str, Any], flags: Mapping[str, str] | None = None
) -> SettingsT:
    """`cls` from the flags the user gave (None and [] mean "not given": the environment and the
    defaults apply); an OozoError with reason InvalidSettings if they do not validate."""
    given = {k: v for k, v in overrides.items() if v is not None and v != []}
    try:
        return cls(**given)
    except ValidationError as exc:
        raise OozoError(INVALID_SETTINGS, settings_error(exc, flags)) from None


def result_payload(result: Result) -> dict[str, Any]:
    """The JSON object of a result, camelCase, without the fields that are unset."""
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dict(result)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, so it unwinds like Ctrl-C."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated()


def run(command: Command[SettingsT], overrides: Mapping[str, Any]) -> int:
    """Run `command` with the flags in `overrides`; returns the exit code."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    termination = _termination_path(overrides)
    try:
        settings = load_settings(command.settings, overrides, command.flags)
        termination = getattr(settings, "termination_message_path", None)
        payload = result_payload(command.body(settings))
    except OozoError as exc:
        return _fail(termination, exc.to_dict())
    except Exception as exc:  # a bug: keep the traceback in the log, still end with one JSON line
        log.exception("%s failed", command.name)
        error = f"{command.name} failed unexpectedly: {type(exc).__name__}: {exc}"
        return _fail(termination, {"error": error, "reason": command.crash_reason})
    except KeyboardInterrupt as exc:
        by = "SIGTERM" if isinstance(exc, _Terminated) else "Ctrl-C"
        error = f"{command.name} interrupted by {by}; nothing was published"
        _fail(termination, {"error": error, "reason": INTERRUPTED})
        return EXIT_SIGTERM if isinstance(exc, _Terminated) else EXIT_CTRL_C
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    _write_termination(termination, termination_message(payload))
    print(compact_json(payload), flush=True)
    return EXIT_OK


def _termination_path(overrides: Mapping[str, Any]) -> Path | None:
    """Where a failure goes before the settings validated: the flag, else the environment."""
    given = overrides.get("termination_message_path") or os.environ.get("OOZO_TERMINATION_MESSAGE_PATH")
    return Path(given) if given else None


EXIT_CODES = {INVALID_SETTINGS: EXIT_INVALID_SETTINGS, QUALITY_GATE_FAILED: EXIT_QUALITY_GATE_FAILED}


def _fail(termination: Path | None, error: dict[str, Any]) -> int:
    # the message file first: a warning about it must not come after the JSON line on stderr
    _write_termination(termination, termination_message(error))
    print(compact_json(error), file=sys.stderr, flush=True)
    return EXIT_CODES.get(error["reason"], EXIT_FAILED)


def _write_termination(path: Path | None, message: str) -> None:
    if path is None:
        return
    try:
        path.write_text(message, encoding="utf-8")
    except OSError as exc:  # the outcome still reaches stdout / stderr
        log.warning("cannot write termination message", extra={"path": str(path), "error": str(exc)})
