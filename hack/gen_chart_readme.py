"""Write charts/oozo/README.md's values table from the comments in charts/oozo/values.yaml.

Each value's description is the comment block right above it (or its inline comment), so the
table cannot drift from the file users copy and edit; `--check` (run by the unit tier) fails when
the README is stale or a value has no description. helm-docs does the same for Go charts; this is
its small subset for one chart, without another binary to build.

    python hack/gen_chart_readme.py          # rewrite the table
    python hack/gen_chart_readme.py --check  # exit 1 when stale
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VALUES = REPO / "charts" / "oozo" / "values.yaml"
README = REPO / "charts" / "oozo" / "README.md"
BEGIN, END = "<!-- values:begin -->", "<!-- values:end -->"
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?P<rest>.*)$")


@dataclass(frozen=True)
class Value:
    key: str
    default: str
    description: str


def split_inline_comment(rest: str) -> tuple[str, str]:
    """`value  # comment` → (value, comment), leaving a `#` inside quotes alone."""
    quote = ""
    for i, ch in enumerate(rest):
        if ch in "\"'" and not quote:
            quote = ch
        elif ch == quote:
            quote = ""
        elif ch == "#" and not quote and (i == 0 or rest[i - 1] == " "):
            return rest[:i].strip(), rest[i + 1 :].strip()
    return rest.strip(), ""


def parse(text: str) -> list[Value]:
    """Leaf values of a values.yaml in file order: a key with a value on its line is a leaf; a key
    without one opens a section, whose comment is the section's and not repeated below it."""
    values: list[Value] = []
    path: list[tuple[int, str]] = []
    comment: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            comment = []
            continue
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
            continue
        match = KEY_LINE.match(line)
        if not match:
            comment = []
            continue  # a list item or a continuation line
        indent = len(match["indent"])
        while path and path[-1][0] >= indent:
            path.pop()
        value, inline = split_inline_comment(match["rest"])
        key = ".".join([p for _, p in path] + [match["key"]])
        if value:
            description = " ".join(c for c in [*comment, inline] if c)
            values.append(Value(key, value, description))
        else:
            path.append((indent, match["key"]))
        comment = []
    return values


def table(values: list[Value]) -> str:
    rows = ["| value | default | what it does |", "|---|---|---|"]
    for v in values:
        description = v.description.replace("|", "\\|")
        rows.append(f"| `{v.key}` | `{v.default}` | {description} |")
    return "\n".join(rows)


def render(readme: str, values: list[Value]) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table(values)}\n{END}{tail}"


def main(argv: list[str]) -> int:
    values = parse(VALUES.read_text())
    undocumented = [v.key for v in values if not v.description]
    if undocumented:
        print(f"values.yaml: no comment above {', '.join(undocumented)}", file=sys.stderr)
        return 1
    current = README.read_text()
    wanted = render(current, values)
    if "--check" in argv:
        if current != wanted:
            print("charts/oozo/README.md is stale: run hack/gen_chart_readme.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
