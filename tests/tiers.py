"""Which tier a test belongs to: the first folder of its path below tests/, so `pytest -m unit`
and friends select by tier without anyone remembering to decorate. Only the part below tests/
counts: a checkout under /home/x/unit/ must not make every test a unit test."""

from __future__ import annotations

from pathlib import Path

TIERS = ("unit", "runtime", "controlplane", "e2e", "s3", "git", "devcluster", "containers")


def tier_of(test_file: Path, tests_root: Path) -> str | None:
    """The tier of a test file under tests_root, or None for a file outside every tier folder."""
    try:
        relative = test_file.relative_to(tests_root)
    except ValueError:
        return None
    first = relative.parts[0] if len(relative.parts) > 1 else ""
    return first if first in TIERS else None
