"""The commands an example tells its reader to run, read from the example itself.

An example's header comment lists its steps as indented `kubectl …` lines (an inline `# …` is a
note for the reader). Tests run exactly those lines, in order, so an example whose steps stop
working fails a test instead of a user."""

from __future__ import annotations

import shlex
from pathlib import Path

STEP_PREFIX = "#   kubectl "


def steps_of(path: Path) -> list[list[str]]:
    """The `kubectl …` steps of an example file, each as argv without `kubectl` itself."""
    steps = []
    for line in path.read_text().splitlines():
        if line.startswith(STEP_PREFIX):
            command = line[len(STEP_PREFIX) :].split("  #", 1)[0].strip()
            steps.append(shlex.split(command))
    if not steps:
        raise AssertionError(f"{path} lists no `kubectl` steps in its header comment")
    return steps
