"""The corpora and known-item questions of `make eval`, generated from text already on the machine
and written by nobody on the project:

- English: Python's own standard-library docstrings (what `pydoc` shows), one .docx per module
  (python-docx): the module's docstring, a heading and paragraph per function, and a table of
  further functions with their one-line summaries. Some modules get a near-duplicate twin: the
  same introduction and table, other function sections.
- Russian: Debian's manpages-ru (`make corpora`, devcluster/corpora.py), the head of each page.

Questions are made mechanically from one passage of their document, with a fixed seed:
- shuffled: a sentence's content words, a third of them dropped, the rest in random order;
- rare: the three words of a section rarest in the corpus (no function or module names);
- no-key-words: a sentence's words that at least three documents hold, no names: only its common
  words are left, none that singles its document out;
- table: a shuffled table row's summary (the row is the only place it is written);
- near-duplicate: a shuffled sentence from a section only one of two twin documents holds.
A sentence becomes a question only when no other document holds it, so each question has one
right document.
"""

from __future__ import annotations

import importlib
import inspect
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from devcluster import corpora
from oozo_runtime.text import content_words

_MODULE_NAMES = (
    "argparse base64 bisect calendar configparser copy csv datetime difflib fnmatch fractions "
    "functools glob gzip hashlib heapq hmac html ipaddress itertools json logging os.path platform "
    "pprint queue random shlex shutil signal socket sqlite3 statistics string struct subprocess "
    "tarfile tempfile textwrap threading time urllib.parse uuid zipfile zlib"
)
MODULES = tuple(_MODULE_NAMES.split())
TWINS = ("shutil", "os.path", "itertools", "statistics", "random", "string")
SECTIONS = 5  # function sections per document (and per twin)
TABLE_ROWS = 6
SECTION_CHARS = 500
SEED = 15
COMMON_DF = 3  # a word in at least this many documents is no key word of any one of them
QUESTION_WORDS = 8  # a question's most words: a whole man-page line would be a document, not a question


@dataclass(frozen=True)
class Question:
    text: str
    document: str
    kind: str


@dataclass
class Corpus:
    root: Path
    include: list[str]
    questions: list[Question]


def _summary(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def _members(module: object) -> list[tuple[str, str]]:
    """(name, docstring) of the module's public functions and classes with a real docstring."""
    found = []
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or not (
            inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.isclass(obj)
        ):
            continue
        doc = " ".join((inspect.getdoc(obj) or "").split())
        if len(content_words(doc)) >= 8 and not doc.startswith(name + "("):
            found.append((name, doc[:SECTION_CHARS]))
    return found


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(content_words(s)) >= 6]


def _shuffled(sentence: str, rng: random.Random) -> str:
    words = content_words(sentence)
    kept = rng.sample(words, min(QUESTION_WORDS, max(3, len(words) * 2 // 3)))
    return " ".join(kept)


def _without_key_words(sentence: str, names: set[str], df: Counter[str]) -> str:
    """The sentence's words that at least COMMON_DF documents hold, no names: what it is about
    without the words that single its document out. Empty when fewer than three are left."""
    common = [w for w in dict.fromkeys(content_words(sentence)) if w not in names and df[w] >= COMMON_DF]
    return " ".join(common[:QUESTION_WORDS]) if len(common) >= 3 else ""


def _docx(
    path: Path, title: str, intro: str, sections: list[tuple[str, str]], table: list[tuple[str, str]]
) -> None:
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    document.add_paragraph(intro)
    for name, text in sections:
        document.add_heading(name, level=2)
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=1, cols=2)
        grid.rows[0].cells[0].text, grid.rows[0].cells[1].text = "Name", "Summary"
        for name, summary in table:
            cells = grid.add_row().cells
            cells[0].text, cells[1].text = name, summary
    document.save(str(path))


def english(root: Path) -> Corpus:
    """One .docx per standard-library module (and its twin), with their questions."""
    rng = random.Random(SEED)
    root.mkdir(parents=True, exist_ok=True)
    docs: dict[str, dict[str, object]] = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        members = _members(module)
        if len(members) < SECTIONS + 1:
            continue
        intro = " ".join((inspect.getdoc(module) or module_name).split())[:600]
        rows = [(n, s) for n, s in ((n, _summary(getattr(module, n))) for n, _ in members[SECTIONS:]) if s]
        docs[f"{module_name}.docx"] = {
            "title": f"{module_name} module",
            "intro": intro,
            "sections": members[:SECTIONS],
            "table": rows[:TABLE_ROWS],
        }
        if module_name in TWINS and len(members) >= 2 * SECTIONS:
            docs[f"{module_name}-twin.docx"] = {
                "title": f"{module_name} module",
                "intro": intro,
                "sections": members[SECTIONS : 2 * SECTIONS],
                "table": rows[:TABLE_ROWS],
            }
    names = {n for d in docs.values() for n, _ in d["sections"]} | {m.split(".")[-1] for m in MODULES}  # type: ignore[attr-defined]
    texts = {name: _document_text(d) for name, d in docs.items()}
    df: Counter[str] = Counter()
    for text in texts.values():
        df.update(set(content_words(text)))
    questions: list[Question] = []
    for name, d in docs.items():
        _docx(root / name, d["title"], d["intro"], d["sections"], d["table"])  # type: ignore[arg-type]
        twin = name.removesuffix("-twin.docx") + ".docx" if name.endswith("-twin.docx") else None
        has_twin = twin is not None or name.replace(".docx", "-twin.docx") in docs
        others = [t for n, t in texts.items() if n != name]
        for _name, section in d["sections"]:  # type: ignore[attr-defined]
            unique = [s for s in _sentences(section) if not any(s in other for other in others)]
            if not unique:
                continue
            sentence = unique[0]
            if has_twin:
                questions.append(Question(_shuffled(sentence, rng), name, "near-duplicate"))
                continue
            kind = rng.choice(("shuffled", "rare", "no-key-words"))
            words = [w for w in content_words(section) if w not in names and w.isalpha() and len(w) > 2]
            if kind == "shuffled":
                text = _shuffled(sentence, rng)
            elif kind == "rare":
                rare = sorted(set(words), key=lambda w: (df[w], w))[:3]
                text = "Which function is about " + ", ".join(rare) + "?"
            else:
                text = _without_key_words(sentence, names, df)
                if not text:
                    continue
            questions.append(Question(text, name, kind))
        for _, summary in d["table"][:2]:  # type: ignore[index]
            if len(content_words(summary)) >= 5 and not any(summary in other for other in others):
                questions.append(Question(_shuffled(summary, rng), name, "table"))
    return Corpus(root, ["*.docx"], _distinct(questions))


def _distinct(questions: list[Question]) -> list[Question]:
    """Each question text once; a text made for two documents has no one right answer and goes."""
    targets: dict[str, set[str]] = {}
    for q in questions:
        targets.setdefault(q.text, set()).add(q.document)
    seen: set[str] = set()
    kept = []
    for q in questions:
        if len(targets[q.text]) == 1 and q.text not in seen:
            seen.add(q.text)
            kept.append(q)
    return kept


def _document_text(d: dict[str, object]) -> str:
    parts = [str(d["title"]), str(d["intro"])]
    parts += [f"{n} {t}" for n, t in d["sections"]]  # type: ignore[attr-defined]
    parts += [f"{n} {s}" for n, s in d["table"]]  # type: ignore[attr-defined]
    return "\n".join(parts)


def russian(root: Path) -> Corpus:
    """manpages-ru page heads; per page one shuffled and one no-key-words question."""
    rng = random.Random(SEED)
    names = corpora.copy_heads(corpora.manpages_ru(), root)
    texts = {name: (root / name).read_text(encoding="utf-8") for name in names}
    df: Counter[str] = Counter()
    for text in texts.values():
        df.update(set(content_words(text)))
    questions = []
    for name, text in texts.items():
        command = set(content_words(name.rsplit(".", 2)[0]))
        others = [t for n, t in texts.items() if n != name]
        body = text.split("\n", 3)[-1]  # past the NAME line, which states the command
        unique = [s for s in _sentences(body) if not any(s in other for other in others)]
        if not unique:
            continue
        questions.append(Question(_shuffled(unique[0], rng), name, "shuffled"))
        text = _without_key_words(unique[-1], command, df)
        if text:
            questions.append(Question(text, name, "no-key-words"))
    return Corpus(root, ["*.txt"], _distinct(questions))
