"""The command runner that `oozo index`, `oozo backup` and `oozo restore` share: one JSON line,
the termination message, exit codes, settings errors and SIGTERM, the same for every command."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from oozo_runtime import runner
from oozo_runtime.backup.errors import BackupError
from oozo_runtime.errors import OozoError
from oozo_runtime.indexing.build import BuildError


class DemoSettings(BaseModel):
    size: int = Field(10, ge=1)
    overlap: int = 0
    termination_message_path: Path | None = None

    @model_validator(mode="after")
    def _overlap_below_size(self) -> DemoSettings:
        if self.overlap >= self.size:
            raise ValueError("overlap must be smaller than size")
        return self


class DemoResult(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    version: str
    size_bytes: int
    restored_from: str | None = None


def body_raising(exc: BaseException) -> Callable[[DemoSettings], dict[str, Any]]:
    def body(settings: DemoSettings) -> dict[str, Any]:
        raise exc

    return body


def sigterm_self(settings: DemoSettings) -> dict[str, Any]:
    os.kill(os.getpid(), signal.SIGTERM)
    raise AssertionError("SIGTERM should have unwound the body")


OUTCOMES: dict[str, tuple[Callable[[DemoSettings], Any], dict[str, Any], int, str]] = {
    # name: (body, flags, exit code, reason in the error; "" = success)
    "success": (lambda s: {"version": "v1"}, {}, 0, ""),
    "typed result": (lambda s: DemoResult(version="v1", size_bytes=3), {}, 0, ""),
    "expected failure": (body_raising(OozoError("NoDocuments", "no usable document")), {}, 1, "NoDocuments"),
    "build error": (body_raising(BuildError("NoDocuments", "none")), {}, 1, "NoDocuments"),
    "backup error": (body_raising(BackupError("NoSuchBucket", "no bucket b")), {}, 1, "NoSuchBucket"),
    "invalid flag": (lambda s: {}, {"size": 0}, 2, "InvalidSettings"),
    "invalid combination": (lambda s: {}, {"size": 5, "overlap": 5}, 2, "InvalidSettings"),
    "invalid settings found late": (
        body_raising(BuildError("InvalidSettings", "not a folder")),
        {},
        2,
        "InvalidSettings",
    ),
    "a bug": (body_raising(ZeroDivisionError("division by zero")), {}, 1, "Crashed"),
    "Ctrl-C": (body_raising(KeyboardInterrupt()), {}, 130, "Interrupted"),
    "SIGTERM": (sigterm_self, {}, 143, "Interrupted"),
}


@pytest.mark.parametrize(("body", "flags", "code", "reason"), OUTCOMES.values(), ids=OUTCOMES.keys())
def test_every_outcome_ends_with_one_json_line_the_message_and_its_exit_code(
    body: Callable[[DemoSettings], Any],
    flags: dict[str, Any],
    code: int,
    reason: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = tmp_path / "termination-log"
    command = runner.Command("demo", DemoSettings, body, crash_reason="Crashed")
    assert runner.run(command, {**flags, "termination_message_path": message}) == code
    out, err = capsys.readouterr()
    written = json.loads(message.read_text())
    if not reason:
        assert out.count("\n") == 1 and json.loads(out) == written and written["version"] == "v1"
        return
    assert out == ""
    assert json.loads(err.strip().splitlines()[-1]) == written
    assert written["reason"] == reason and "\n" not in written["error"]


def test_a_typed_result_is_written_camel_case_without_unset_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = runner.Command("demo", DemoSettings, lambda s: DemoResult(version="v1", size_bytes=3))
    assert runner.run(command, {}) == 0
    assert json.loads(capsys.readouterr().out) == {"version": "v1", "sizeBytes": 3}


def test_the_message_path_comes_from_the_environment_when_the_settings_are_invalid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = tmp_path / "termination-log"
    monkeypatch.setenv("OOZO_TERMINATION_MESSAGE_PATH", str(message))
    assert runner.run(runner.Command("demo", DemoSettings, lambda s: {}), {"size": 0}) == 2
    assert json.loads(message.read_text())["reason"] == "InvalidSettings"


def test_a_bug_is_named_in_the_error_and_logged_with_its_traceback(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    command = runner.Command("restore", DemoSettings, body_raising(ZeroDivisionError("division by zero")))
    assert runner.run(command, {}) == 1
    error = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert error == {
        "error": "restore failed unexpectedly: ZeroDivisionError: division by zero",
        "reason": "InternalError",
    }
    assert any(r.exc_info for r in caplog.records)


def test_the_sigterm_handler_is_put_back_afterwards() -> None:
    before = signal.getsignal(signal.SIGTERM)
    runner.run(runner.Command("demo", DemoSettings, lambda s: {}), {})
    assert signal.getsignal(signal.SIGTERM) == before


def test_an_unwritable_message_path_still_ends_with_the_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = runner.Command("demo", DemoSettings, body_raising(OozoError("NoDocuments", "none")))
    assert runner.run(command, {"termination_message_path": tmp_path / "missing" / "log"}) == 1
    assert json.loads(capsys.readouterr().err.strip().splitlines()[-1])["reason"] == "NoDocuments"


def settings_error_of(model: type[BaseModel], **values: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model(**values)
    return caught.value


SETTINGS_ERRORS: dict[str, tuple[ValidationError, dict[str, str], str]] = {
    "a field": (
        settings_error_of(DemoSettings, size=0),
        {},
        "invalid settings: size: Input should be greater than or equal to 1",
    ),
    "a field by its flag": (
        settings_error_of(DemoSettings, size=0),
        {"size": "--size (OOZO_SIZE)"},
        "invalid settings: --size (OOZO_SIZE): Input should be greater than or equal to 1",
    ),
    "the whole model": (
        settings_error_of(DemoSettings, size=3, overlap=3),
        {},
        "invalid settings: settings: Value error, overlap must be smaller than size",
    ),
    "two fields": (
        settings_error_of(DemoSettings, size=0, overlap="x"),
        {},
        "invalid settings: size: Input should be greater than or equal to 1; "
        "overlap: Input should be a valid integer, unable to parse string as an integer",
    ),
}


@pytest.mark.parametrize(("exc", "flags", "line"), SETTINGS_ERRORS.values(), ids=SETTINGS_ERRORS.keys())
def test_settings_errors_are_one_line_naming_each_setting(
    exc: ValidationError, flags: dict[str, str], line: str
) -> None:
    assert runner.settings_error(exc, flags) == line


def test_unset_flags_leave_the_defaults() -> None:
    settings = runner.load_settings(DemoSettings, {"size": None, "overlap": 2})
    assert settings.size == 10 and settings.overlap == 2


def test_load_settings_raises_the_invalid_settings_error() -> None:
    with pytest.raises(OozoError) as caught:
        runner.load_settings(DemoSettings, {"size": 0})
    assert caught.value.reason == "InvalidSettings"
    assert caught.value.message.startswith("invalid settings: size:")
