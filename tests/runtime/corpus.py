"""Fixture builders for documents and corpora, made with python-docx at test time.

make_docx(path, heading("Leave"), para("27 days."), table([["a", "b"]]))
make_corpus(folder, documents=30, with_corrupt(), with_empty())
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Part = Callable[[Any], None]


def heading(text: str, level: int = 1) -> Part:
    return lambda doc: doc.add_heading(text, level)


def para(text: str) -> Part:
    return lambda doc: doc.add_paragraph(text)


def table(rows: list[list[str]]) -> Part:
    def add(doc: Any) -> None:
        t = doc.add_table(rows=len(rows), cols=len(rows[0]))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                t.cell(r, c).text = value

    return add


def make_docx(path: Path, *parts: Part) -> Path:
    import docx

    doc = docx.Document()
    for part in parts:
        part(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


def make_corrupt_docx(path: Path) -> Path:
    """A real .docx cut in half: a zip archive whose central directory is gone."""
    make_docx(path, para("This text will never be read."))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def make_fake_docx(path: Path) -> Path:
    """A zip archive named .docx that holds no Word document."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "not a word document")
    return path


# Distinct, checkable facts: (city, product, number) per department.
CITIES = [
    "Lisbon",
    "Oslo",
    "Nairobi",
    "Montreal",
    "Osaka",
    "Valparaiso",
    "Tallinn",
    "Cusco",
    "Hobart",
    "Accra",
]
ANIMALS = ["otter", "heron", "lynx", "walrus", "gecko", "ibis", "marmot", "puffin", "tapir", "viper"]
COLOURS = ["crimson", "teal", "amber", "violet", "ochre", "indigo", "olive", "scarlet", "cobalt", "jade"]
FILLER = (
    "The department keeps its records in the shared archive and reviews them every quarter. "
    "Meetings start on time and minutes are circulated within two working days. "
    "Questions about procedures go to the department coordinator, who answers within a week. "
)


@dataclass
class Fact:
    document: str
    question: str
    answer: str


@dataclass
class SampleCorpus:
    root: Path
    facts: list[Fact] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    bad: dict[str, str] = field(default_factory=dict)  # name -> expected reason fragment


Modifier = Callable[[SampleCorpus], None]


def with_corrupt(name: str = "broken/corrupt.docx") -> Modifier:
    def apply(corpus: SampleCorpus) -> None:
        make_corrupt_docx(corpus.root / name)
        corpus.bad[name] = "corrupt"

    return apply


def with_empty(name: str = "empty.docx") -> Modifier:
    def apply(corpus: SampleCorpus) -> None:
        (corpus.root / name).write_bytes(b"")
        corpus.bad[name] = "empty"

    return apply


def with_fake(name: str = "fake.docx") -> Modifier:
    def apply(corpus: SampleCorpus) -> None:
        make_fake_docx(corpus.root / name)
        corpus.bad[name] = "not a valid .docx"

    return apply


PEOPLE = [
    "Amara Osei",
    "Bruno Keller",
    "Chen Wei",
    "Dalia Haddad",
    "Emil Novak",
    "Fatima Rahman",
    "Goran Petrov",
    "Hana Sato",
    "Ines Duarte",
    "Jonas Berg",
]


REGIONS = ["", " North", " South", " East", " West"]


def project_name(i: int) -> str:
    """Unique for i < 500: 'Crimson Otter', 'Teal Otter', ..., 'Crimson Heron', ..., and from
    i = 100 on a region word: 'Crimson Otter North', ..."""
    return f"{COLOURS[i % 10].title()} {ANIMALS[(i // 10) % 10].title()}{REGIONS[i // 100]}"


def department_doc(i: int, filler_paragraphs: int = 2) -> tuple[list[Part], list[tuple[str, str]]]:
    """Parts of project i's handbook and its (question, answer) facts."""
    project = project_name(i)
    city, lead = CITIES[(i * 3) % 10], PEOPLE[(i * 7) % 10]
    budget = f"{(i + 1) * 1000} euros"
    parts = [
        heading(f"Project {project} handbook"),
        para(f"Project {project} is based in {city}. " + FILLER),
        heading("People", 2),
        para(
            f"The lead of Project {project} is {lead}, who approves every release of the {project} project."
        ),
        *[para(FILLER) for _ in range(filler_paragraphs)],
        heading("Budget", 2),
        table([["Year", "Budget"], ["2025", budget], ["2026", f"{(i + 1) * 1100} euros"]]),
        para("Budget requests are approved by the finance committee."),
    ]
    facts = [
        (f"Who is the lead of Project {project}?", lead),
        (f"In which city is Project {project} based?", city),
    ]
    return parts, facts


def make_corpus(root: Path, documents: int = 30, *modifiers: Modifier, filler: int = 2) -> SampleCorpus:
    corpus = SampleCorpus(root)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(documents):
        name = f"dept/{i:03d}.docx"
        parts, facts = department_doc(i, filler)
        make_docx(root / name, *parts)
        corpus.documents.append(name)
        corpus.facts.extend(Fact(name, q, a) for q, a in facts)
    for modify in modifiers:
        modify(corpus)
    return corpus


def make_docx_bomb(path: Path, characters: int = 104_600_000, paragraph: int = 10_000) -> Path:
    """A real .docx whose word/document.xml inflates to `characters` letters in paragraphs of
    `paragraph` letters: a few hundred KiB on disk. Written one paragraph at a time, so making
    it costs no memory."""
    template = path.with_suffix(".template.docx")
    make_docx(template, para("placeholder"))
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != "word/document.xml":
                dst.writestr(item, src.read(item))
        with dst.open("word/document.xml", "w", force_zip64=True) as out:
            out.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                b"<w:body>"
            )
            for start in range(0, characters, paragraph):
                text = b"A" * min(paragraph, characters - start)
                out.write(b"<w:p><w:r><w:t>" + text + b"</w:t></w:r></w:p>")
            out.write(b"</w:body></w:document>")
    template.unlink()
    return path


def make_shared_stream_pdf(path: Path, pages: int = 1000, lines_per_page: int = 120) -> Path:
    """A small PDF whose `pages` pages all draw one compressed content stream of
    `lines_per_page` lines of text: every page extracts the full text again."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    resources = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    lines = b" ".join(
        b"(Line %d of the shared stream repeats on every page of this file.) Tj T*" % i
        for i in range(lines_per_page)
    )
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 8 Tf 10 TL 20 780 Td " + lines + b" ET")
    content = writer._add_object(stream.flate_encode())
    for _ in range(pages):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = resources
        page[NameObject("/Contents")] = content
    with open(path, "wb") as fh:
        writer.write(fh)
    return path
