"""Turn a document file into text blocks in reading order, each knowing the heading above it.

Parsers never raise for a bad document: they raise `UnusableDocument` with a short reason, and the
build skips that document, counts it and names it in its summary.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_SUFFIXES = (".docx", ".md", ".markdown", ".txt", ".pdf")


class UnusableDocument(Exception):
    """The document cannot be indexed; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Block:
    """One paragraph, heading or table row group. `heading` is the nearest heading above it (or the
    block itself when it is a heading)."""

    text: str
    heading: str | None = None
    is_heading: bool = False


def parse_file(path: Path) -> list[Block]:
    """Parse one file by its suffix; raises UnusableDocument with a reason."""
    try:
        data_size = path.stat().st_size
    except OSError as exc:
        raise UnusableDocument(f"unreadable: {exc.strerror or exc}") from exc
    if data_size == 0:
        raise UnusableDocument("empty file")
    suffix = path.suffix.lower()
    if suffix == ".docx":
        blocks = parse_docx(path)
    elif suffix == ".pdf":
        blocks = parse_pdf(path)
    elif suffix in (".md", ".markdown"):
        blocks = parse_markdown(_read_text(path))
    elif suffix == ".txt":
        blocks = parse_plain_text(_read_text(path))
    else:
        raise UnusableDocument(f"unsupported file type {suffix or '(none)'}")
    if not any(b.text.strip() for b in blocks):
        raise UnusableDocument("no text")
    return blocks


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise UnusableDocument("binary content in a text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _clean(text: str) -> str:
    return re.sub(r"[ \t\u00a0]+", " ", text).strip()


def _heading_level(style_name: str) -> int | None:
    """python-docx style names: 'Title', 'Heading 1'…'Heading 9' (localised names keep the digit)."""
    if style_name == "Title":
        return 0
    match = re.match(r"^(?:Heading|Überschrift|Titre|Titolo|Encabezado)\s*(\d)$", style_name)
    return int(match.group(1)) if match else None


def parse_docx(path: Path) -> list[Block]:
    """Body paragraphs, headings and tables (row by row) in reading order.

    `Document.iter_inner_content()` walks the body XML children, so a table stays between the
    paragraphs that surround it instead of being appended at the end.
    """
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            magic = fh.read(4)
        if magic == b"PK\x03\x04":
            raise UnusableDocument("corrupt .docx archive (truncated or damaged zip)")
        if magic == b"\xd0\xcf\x11\xe0":  # OLE compound file: legacy .doc or a password-protected .docx
            raise UnusableDocument("encrypted or legacy Word file (not a .docx package)")
        raise UnusableDocument("not a valid .docx (not a zip archive)")
    try:
        document = docx.Document(str(path))
    except PackageNotFoundError as exc:
        raise UnusableDocument("not a valid .docx (no Word document part)") from exc
    except zipfile.BadZipFile as exc:
        raise UnusableDocument(f"corrupt .docx archive ({exc})") from exc
    except KeyError as exc:
        raise UnusableDocument("not a valid .docx (missing package parts)") from exc
    except Exception as exc:  # lxml errors, encrypted (OLE) files, odd packages
        raise UnusableDocument(f"cannot read .docx ({type(exc).__name__}: {exc})") from exc

    blocks: list[Block] = []
    heading: str | None = None
    try:
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                rows = _table_rows(item)
                if rows:
                    blocks.append(Block("\n".join(rows), heading))
                continue
            text = _clean(item.text)
            if not text:
                continue
            style = item.style.name if item.style is not None else ""
            if _heading_level(style or "") is not None:
                heading = text
                blocks.append(Block(text, heading, is_heading=True))
            else:
                blocks.append(Block(text, heading))
    except Exception as exc:
        raise UnusableDocument(f"cannot read .docx body ({type(exc).__name__}: {exc})") from exc
    return blocks


def _table_rows(table: object) -> list[str]:
    """One line per row, cells joined by ' | '; horizontally merged cells appear once."""
    rows: list[str] = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(_clean(cell.text.replace("\n", " ")))
        if any(cells):
            rows.append(" | ".join(cells))
    return rows


def parse_pdf(path: Path) -> list[Block]:
    """Text of every page via pypdf, split into paragraphs on blank lines."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise UnusableDocument("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnusableDocument:
        raise
    except PdfReadError as exc:
        raise UnusableDocument(f"corrupt PDF ({exc})") from exc
    except Exception as exc:
        raise UnusableDocument(f"cannot read PDF ({type(exc).__name__}: {exc})") from exc
    return parse_plain_text("\n\n".join(pages))


def parse_plain_text(text: str) -> list[Block]:
    """Paragraphs separated by blank lines; lines inside a paragraph are joined."""
    blocks = []
    for para in re.split(r"\n\s*\n", text):
        cleaned = _clean(" ".join(line.strip() for line in para.splitlines()))
        if cleaned:
            blocks.append(Block(cleaned))
    return blocks


_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def parse_markdown(text: str) -> list[Block]:
    """ATX headings (`# Title`) become heading blocks; the rest is split into paragraphs."""
    blocks: list[Block] = []
    heading: str | None = None
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            cleaned = _clean(" ".join(paragraph))
            if cleaned:
                blocks.append(Block(cleaned, heading))
            paragraph.clear()

    for line in text.splitlines():
        match = _MD_HEADING.match(line)
        if match:
            flush()
            heading = _clean(match.group(2))
            if heading:
                blocks.append(Block(heading, heading, is_heading=True))
        elif not line.strip():
            flush()
        else:
            paragraph.append(line.strip())
    flush()
    return blocks
