"""A test's tier comes from its folder below tests/, never from the folders of the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiers import tier_of

ROOT = Path("/home/x/unit/repo/tests")


def test_a_checkout_under_a_folder_named_like_a_tier_is_not_that_tier() -> None:
    assert tier_of(ROOT / "runtime" / "test_a.py", ROOT) == "runtime"


@pytest.mark.parametrize("tier", ["unit", "runtime", "controlplane", "e2e", "s3", "git", "devcluster"])
def test_each_tier_folder_marks_its_tests(tier: str) -> None:
    assert tier_of(ROOT / tier / "test_a.py", ROOT) == tier


@pytest.mark.parametrize(
    "path",
    [
        ROOT / "test_top_level.py",  # directly in tests/: no tier folder
        ROOT / "tools" / "unit" / "test_a.py",  # a tier name deeper down does not count
        Path("/home/x/unit/repo/other/test_a.py"),  # outside tests/
    ],
)
def test_files_outside_a_tier_folder_get_no_tier(path: Path) -> None:
    assert tier_of(path, ROOT) is None
