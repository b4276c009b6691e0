"""The chart's README lists every value of values.yaml with its default and its comment, and is
regenerated whenever values.yaml changes (hack/gen_chart_readme.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_chart_readme", REPO / "hack/gen_chart_readme.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


def test_the_chart_readme_is_current_and_every_value_is_described() -> None:
    assert generator().main(["--check"]) == 0, "run: .venv/bin/python hack/gen_chart_readme.py"


def test_every_listed_value_is_a_real_value_with_its_default() -> None:
    gen = generator()
    values = yaml.safe_load(gen.VALUES.read_text())
    listed = gen.parse(gen.VALUES.read_text())
    assert len(listed) > 20
    for value in listed:
        node: Any = values
        for part in value.key.split("."):
            node = node[part]
        assert node == yaml.safe_load(value.default), value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# A.\na: 1\n", [("a", "1", "A.")]),
        ("a: 1  # inline\n", [("a", "1", "inline")]),
        ('# Section.\ns:\n  # Leaf.\n  x: "#1"\n', [("s.x", '"#1"', "Leaf.")]),
        ("s:\n  t:\n    x: []\ny: {}\n", [("s.t.x", "[]", ""), ("y", "{}", "")]),
        ("# Dropped by the blank line.\n\na: 1\n", [("a", "1", "")]),
        ("l:\n  - name: x\nb: 2\n", [("b", "2", "")]),
    ],
)
def test_parse(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert [(v.key, v.default, v.description) for v in generator().parse(text)] == expected
