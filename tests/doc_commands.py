"""The shell commands the docs tell their reader to run, read from the docs themselves.

A test that runs a documented command takes it from here, `documented("docs/querying.md",
startswith="curl")`, instead of keeping a copy that could drift from the page: when the page
changes, the test runs the new line or fails naming it. `tests/unit/test_doc_commands.py` finds
these calls statically and fails when a documented command is claimed by no test (or by no
reviewed exemption), or when a claim names a command that is no longer documented.

The rule for what is a command (also in docs/development.md, "Commands in the docs"):
- only fenced blocks tagged `sh`, `bash` or `shell` (a script: every line is a command) or
  `console` (a transcript: lines starting with `$ ` are commands, the other lines are output);
- a line starting with `#` is a comment, a ` #` outside quotes starts a trailing comment, and a
  line ending with `\\` continues on the next one (joined with one space);
- blocks with any other tag, or none, are never commands; an untagged block that starts like a
  command (`$ ` or a program the docs use) is an error, so a command cannot hide in one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent  # the checkout's .venv/bin the tests run from
SCRIPT_TAGS = frozenset({"sh", "bash", "shell"})
TRANSCRIPT_TAG = "console"
PROMPT = "$ "
# The programs the docs run: an untagged block starting with one of these is a mistagged command.
PROGRAMS = frozenset(
    {"kubectl", "curl", "make", "helm", "oozo", "oozo-operator", "kubectl-oozo", "pip", "pipx", "export"}
)
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([^\s`]*)")


@dataclass(frozen=True)
class DocCommand:
    """One documented command: where it starts (repo-relative doc, 1-based line) and its text."""

    doc: str
    line: int
    text: str
    shown_output: tuple[str, ...] = field(default=(), compare=False)  # console blocks only

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


@dataclass(frozen=True)
class FencedBlock:
    doc: str
    line: int  # the line of the opening fence
    tag: str
    body: tuple[str, ...]


def documentation_pages() -> list[str]:
    """Every page whose commands must be executed by the suite, repo-relative."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "charts/oozo/README.md"]
    pages += sorted((REPO / "examples").rglob("README.md"))
    return [str(p.relative_to(REPO)) for p in pages if p.is_file()]


def fenced_blocks(doc: str, text: str | None = None) -> list[FencedBlock]:
    """The fenced blocks of `doc` (read from the repository unless `text` is given)."""
    blocks: list[FencedBlock] = []
    opened: tuple[int, str, str] | None = None  # (line, fence, tag)
    body: list[str] = []
    page = text if text is not None else (REPO / doc).read_text()
    for number, line in enumerate(page.splitlines(), start=1):
        match = FENCE.match(line)
        if opened is None and match:
            opened, body = (number, match.group(1), match.group(2).lower()), []
        elif opened is not None and match and match.group(1).startswith(opened[1]) and not match.group(2):
            blocks.append(FencedBlock(doc, opened[0], opened[2], tuple(body)))
            opened = None
        elif opened is not None:
            body.append(line)
    return blocks


def without_trailing_comment(line: str) -> str:
    """`make demo   # note` → `make demo`; a `#` inside quotes or inside a word stays."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _joined(lines: list[str], start: int) -> tuple[str, int]:
    """The command starting at lines[start] with its `\\` continuations, and the next index."""
    parts = []
    i = start
    while True:
        current = without_trailing_comment(lines[i])
        if current.endswith("\\") and i + 1 < len(lines):
            parts.append(current[:-1].strip())
            i += 1
            continue
        parts.append(current.strip())
        return " ".join(p for p in parts if p), i + 1


def commands_in(block: FencedBlock) -> list[DocCommand]:
    lines = list(block.body)
    found: list[DocCommand] = []
    i = 0
    while i < len(lines):
        raw = lines[i].strip()
        if block.tag == TRANSCRIPT_TAG and not raw.startswith(PROMPT):
            i += 1  # output of the command above
            continue
        if not raw or raw.startswith("#"):
            i += 1
            continue
        lines[i] = raw.removeprefix(PROMPT) if block.tag == TRANSCRIPT_TAG else raw
        text, after = _joined(lines, i)
        output: list[str] = []
        if block.tag == TRANSCRIPT_TAG:
            while after < len(lines) and not lines[after].strip().startswith(PROMPT):
                output.append(lines[after])
                after += 1
        found.append(DocCommand(block.doc, block.line + 1 + i, text, tuple(output)))
        i = after
    return found


def commands_of(doc: str) -> list[DocCommand]:
    """The commands of one page, in order."""
    return [
        command
        for block in fenced_blocks(doc)
        if block.tag in SCRIPT_TAGS or block.tag == TRANSCRIPT_TAG
        for command in commands_in(block)
    ]


def all_commands() -> list[DocCommand]:
    return [command for doc in documentation_pages() for command in commands_of(doc)]


def mistagged_blocks() -> list[FencedBlock]:
    """Untagged blocks whose first line reads like a command: they must say `sh`/`console`, or
    `text` when they only show a synopsis."""
    found = []
    for doc in documentation_pages():
        for block in fenced_blocks(doc):
            first = next((line.strip() for line in block.body if line.strip()), "")
            words = first.split()
            starts_like_command = first.startswith(PROMPT) or (
                bool(words) and (words[0] in PROGRAMS or words[0].startswith(".venv/bin/"))
            )
            if not block.tag and starts_like_command:
                found.append(block)
    return found


def matching(doc: str, startswith: str = "", contains: str = "") -> list[DocCommand]:
    """The commands of `doc` starting with `startswith` and containing `contains`; when one of
    them is exactly `startswith`, only that one (`kubectl oozo status handbook -n docs` names the
    line without `-o json`)."""
    found = [c for c in commands_of(doc) if c.text.startswith(startswith) and contains in c.text]
    exact = [c for c in found if c.text == startswith]
    return exact or found


def _claimed(doc: str, startswith: str, contains: str) -> list[DocCommand]:
    found = matching(doc, startswith, contains)
    if not found:
        listed = "\n".join(f"  {c}" for c in commands_of(doc))
        raise LookupError(
            f"{doc} has no command starting with {startswith!r} containing {contains!r}; it has:\n{listed}"
        )
    return found


def documented(doc: str, startswith: str = "", contains: str = "") -> str:
    """The one command of `doc` that starts with `startswith` and contains `contains`, exactly as
    the page shows it (continuations joined, trailing comment dropped). The test runs this text,
    substituting only what the test environment must change, visibly."""
    found = _claimed(doc, startswith, contains)
    if len({c.text for c in found}) > 1:
        listed = "\n".join(f"  {c}" for c in found)
        raise LookupError(f"{doc}: {startswith!r}/{contains!r} names more than one command:\n{listed}")
    return found[0].text


def documented_all(doc: str, startswith: str = "", contains: str = "") -> list[DocCommand]:
    """Every command of `doc` that starts with `startswith` and contains `contains`, in page
    order (at least one), with the output a `console` block shows under each."""
    return _claimed(doc, startswith, contains)


def shell(
    command: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a documented command the way a reader pastes it into bash (`-e` and `pipefail`, so a failing
    `kubectl` inside `$(...) | base64 -d` is not hidden), in `cwd`, with `env` over os.environ."""
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def reader_checkout(workdir: Path) -> dict[str, str]:
    """Make `workdir` look like the reader's checkout after `make dev`: `.venv` is this checkout's
    virtualenv (so `.venv/bin/oozo` works) and its bin/ leads PATH (so `oozo`, `kubectl-oozo`
    work); returns that PATH for `shell(..., env=...)`."""
    link = workdir / ".venv"
    if not link.exists():
        link.symlink_to(VENV_BIN.parent)
    return {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def namespaced_kubeconfig(kubeconfig: Path, namespace: str, into: Path) -> Path:
    """A copy of `kubeconfig` whose current context is in `namespace`: the reader's current
    namespace, so a documented line without `-n` acts in the test's namespace."""
    copy = into / f"kubeconfig-{namespace}"
    copy.write_bytes(kubeconfig.read_bytes())
    subprocess.run(
        ["kubectl", f"--kubeconfig={copy}", "config", "set-context", "--current", f"--namespace={namespace}"],
        check=True,
        capture_output=True,
    )
    return copy
