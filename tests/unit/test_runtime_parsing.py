"""Parsing: .docx in reading order (headings, paragraphs, tables), .md, .txt, and clear reasons
for documents that cannot be read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from oozo_runtime.indexing.parsing import UnusableDocument, parse_file
from tests.runtime.corpus import heading, make_corrupt_docx, make_docx, make_fake_docx, para, table


def test_docx_headings_paragraphs_and_table_in_reading_order(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "h.docx",
        heading("Offices"),
        para("We have two offices."),
        table([["Office", "City"], ["HQ", "Lisbon"], ["Lab", "Oslo"]]),
        para("Both open at nine."),
        heading("Leave", 2),
        para("27 days of paid leave."),
    )
    blocks = parse_file(path)
    assert [b.text for b in blocks] == [
        "Offices",
        "We have two offices.",
        "Office | City\nHQ | Lisbon\nLab | Oslo",
        "Both open at nine.",
        "Leave",
        "27 days of paid leave.",
    ]
    assert [b.heading for b in blocks] == ["Offices"] * 4 + ["Leave"] * 2
    assert [b.is_heading for b in blocks] == [True, False, False, False, True, False]


def test_merged_table_cells_appear_once(tmp_path: Path) -> None:
    import docx

    doc = docx.Document()
    t = doc.add_table(rows=2, cols=3)
    t.cell(0, 0).merge(t.cell(0, 2)).text = "Wide"
    t.cell(1, 0).text, t.cell(1, 1).text, t.cell(1, 2).text = "a", "b", "c"
    doc.save(str(tmp_path / "m.docx"))
    assert parse_file(tmp_path / "m.docx")[0].text == "Wide\na | b | c"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: make_corrupt_docx(p), "corrupt .docx archive"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("just text pretending to be Word"), "not a valid .docx"),
        (lambda p: make_fake_docx(p), "not a valid .docx"),
        (lambda p: make_docx(p), "no text"),
        (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 600), "encrypted or legacy"),
    ],
    ids=["corrupt", "empty", "plain-text", "zip-without-word", "no-text", "encrypted-ole"],
)
def test_unusable_docx_raises_with_a_reason(
    tmp_path: Path, make: Callable[[Path], object], reason: str
) -> None:
    path = tmp_path / "bad.docx"
    make(path)
    with pytest.raises(UnusableDocument, match=reason):
        parse_file(path)


def test_markdown_headings_and_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("# Title\n\nFirst line\nsecond line.\n\n## Part ##\n\nBody text.\n")
    blocks = parse_file(path)
    assert [(b.text, b.heading, b.is_heading) for b in blocks] == [
        ("Title", "Title", True),
        ("First line second line.", "Title", False),
        ("Part", "Part", True),
        ("Body text.", "Part", False),
    ]


def test_plain_text_paragraphs_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffOne\ntwo.\n\n\nThree.".encode())
    assert [b.text for b in parse_file(path)] == ["One two.", "Three."]


def test_latin1_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("Café crème.".encode("latin-1"))
    assert parse_file(path)[0].text == "Café crème."


def test_whitespace_only_text_has_no_text(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("  \n\n \t ")
    with pytest.raises(UnusableDocument, match="no text"):
        parse_file(path)


def test_corrupt_pdf_is_unusable(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4 garbage garbage")
    with pytest.raises(UnusableDocument):
        parse_file(path)
