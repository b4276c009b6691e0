"""The `serve` extra installs the query server without torch: its requirements, resolved through
the installed packages' own metadata (Requires-Dist, markers evaluated for this Python), reach
neither torch nor sentence-transformers nor transformers. No network: every serve dependency is
installed in the development environment, so their metadata is on disk."""

from __future__ import annotations

import importlib.metadata as md
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.unit

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
HEAVY = {"torch", "sentence-transformers", "transformers", "nvidia-cublas-cu12", "triton"}


def extra_requirements(extra: str) -> list[Requirement]:
    data = tomllib.loads(PYPROJECT.read_text())
    project = data["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"][extra]]]


def closure(roots: list[Requirement]) -> dict[str, str]:
    """name → version of every distribution the requirements pull in, walking installed metadata."""
    seen: dict[str, str] = {}
    todo = [(r, frozenset[str]()) for r in roots]
    while todo:
        req, extras = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (extras or {""})):
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        dist = md.distribution(req.name)  # PackageNotFoundError: a serve dependency is not installed
        seen[name] = dist.version
        for line in dist.requires or []:
            todo.append((Requirement(line), frozenset(req.extras)))
    return seen


def test_the_serve_extra_installs_without_torch() -> None:
    resolved = closure(extra_requirements("serve"))
    assert {"onnxruntime", "tokenizers", "faiss-cpu", "fastapi", "uvicorn"} <= set(resolved)
    assert not HEAVY & set(resolved), sorted(HEAVY & set(resolved))


def test_the_closure_walk_does_find_torch_where_it_is() -> None:
    """The same walk over the runtime extra (the indexer's) reaches torch: the check above can fail."""
    assert "torch" in closure(extra_requirements("runtime"))
