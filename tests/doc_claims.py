"""Which test runs which documented command, found statically in the test sources.

A claim is a call `documented(DOC, startswith=..., contains=...)` (or `documented_all(...)`) with
literal arguments, written inside a test function (`def test_*`, its decorators included, so a
`parametrize` over `documented_all(...)` counts) or inside a fixture that a test requests. A
claim anywhere else (module level, a helper) names no test and is reported as an error, as is a
claim in a skipped test."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tests.doc_commands import REPO, DocCommand, matching

CLAIM_FUNCTIONS = frozenset({"documented", "documented_all"})
TESTS = REPO / "tests"
Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Claim:
    path: str  # repo-relative test file
    line: int
    claimant: str  # the test (or fixture) function holding the call; "" if none
    doc: str
    startswith: str
    contains: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line} ({self.claimant or 'outside any test'})"

    def commands(self) -> list[DocCommand]:
        if not (REPO / self.doc).is_file():
            return []
        return matching(self.doc, self.startswith, self.contains)


@dataclass
class ScanResult:
    claims: list[Claim]
    errors: list[str]


def _called_name(call: ast.Call) -> str:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return ""


def _literal_arguments(call: ast.Call) -> dict[str, str] | None:
    names = ["doc", "startswith", "contains"]
    values: dict[str, str] = {"startswith": "", "contains": ""}
    given = list(zip(names, call.args, strict=False)) + [(k.arg or "", k.value) for k in call.keywords]
    for name, node in given:
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or name not in names:
            return None
        values[name] = node.value
    return values if "doc" in values else None


def _is_fixture(function: Function) -> bool:
    return any("fixture" in ast.unparse(d) for d in function.decorator_list)


def _is_skipped(function: Function, module: ast.Module) -> bool:
    decorators = " ".join(ast.unparse(d) for d in function.decorator_list)
    module_marks = " ".join(
        ast.unparse(node)
        for node in module.body
        if isinstance(node, ast.Assign) and any(ast.unparse(t) == "pytestmark" for t in node.targets)
    )
    return "mark.skip" in decorators or "mark.skip" in module_marks


def _functions(module: ast.Module) -> list[Function]:
    found: list[Function] = []
    for node in module.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(node)
        elif isinstance(node, ast.ClassDef):
            found += [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return found


def test_sources(exclude: tuple[str, ...] = ()) -> dict[str, ast.Module]:
    return {
        str(path.relative_to(REPO)): ast.parse(path.read_text(), filename=str(path))
        for path in sorted(TESTS.rglob("*.py"))
        if str(path.relative_to(REPO)) not in exclude
    }


def scan(exclude: tuple[str, ...] = ()) -> ScanResult:
    """Every claim in tests/, and every claim that does not name a running test."""
    modules = test_sources(exclude)
    requested = {
        arg.arg
        for module in modules.values()
        for function in _functions(module)
        for arg in function.args.args
    }
    claims: list[Claim] = []
    errors: list[str] = []
    for path, module in modules.items():
        owner_of: dict[int, Function] = {}
        for function in _functions(module):
            for node in ast.walk(function):
                owner_of[id(node)] = function
        for node in ast.walk(module):
            if not (isinstance(node, ast.Call) and _called_name(node) in CLAIM_FUNCTIONS):
                continue
            arguments = _literal_arguments(node)
            owner = owner_of.get(id(node))
            where = f"{path}:{node.lineno}"
            if arguments is None:
                errors.append(f"{where}: a claim passes the doc, startswith and contains as literal strings")
                continue
            claim = Claim(path, node.lineno, owner.name if owner else "", **arguments)
            claims.append(claim)
            if owner is None:
                errors.append(f"{claim.where}: a claim outside a test or fixture names no test that runs it")
            elif not Path(path).name.startswith(("test_", "conftest")):
                errors.append(f"{claim.where}: pytest collects no test from {path}")
            elif _is_skipped(owner, module):
                errors.append(f"{claim.where}: a skipped test runs nothing")
            elif not owner.name.startswith("test_") and not (_is_fixture(owner) and owner.name in requested):
                errors.append(f"{claim.where}: claims must be made in a test, or a fixture a test requests")
    return ScanResult(claims, errors)
