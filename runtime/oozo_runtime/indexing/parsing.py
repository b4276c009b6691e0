"""Turn a document file into text blocks in reading order, each knowing the heading above it.

Parsers never raise for a bad document: they raise `UnusableDocument` with a short reason, and the
build skips that document, counts it and names it in its summary. `DocumentLimits` bounds what one
document may yield (characters, pages); the build runs these parsers in a separate process with a
time and memory budget (`isolation.py`), so a file that slips past the limits is still stopped.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from oozo_contract.defaults import MAX_DOCUMENT_CHARS, MAX_DOCUMENT_PAGES

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


@dataclass(frozen=True)
class DocumentLimits:
    """What one document may yield before it is skipped (docs/runtime.md, "Document limits")."""

    max_chars: int = MAX_DOCUMENT_CHARS
    max_pages: int = MAX_DOCUMENT_PAGES

    def check_chars(self, count: int) -> None:
        if count > self.max_chars:
            raise UnusableDocument(
                f"more than {self.max_chars:,} characters of text (OOZO_MAX_DOCUMENT_CHARS); "
                "split the document or raise the limit"
            )


# Bytes of WordprocessingML per character of text a .docx can reasonably need: run properties,
# bookmarks and revision marks make real documents 5-10x their text; 20x leaves room for that.
DOCX_XML_BYTES_PER_CHAR = 20


def parse_file(path: Path, limits: DocumentLimits | None = None) -> list[Block]:
    """Parse one file by its suffix; raises UnusableDocument with a reason."""
    limits = limits or DocumentLimits()
    try:
        data_size = path.stat().st_size
    except OSError as exc:
        raise UnusableDocument(f"unreadable: {exc.strerror or exc}") from exc
    if data_size == 0:
        raise UnusableDocument("empty file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".docx":
            blocks = parse_docx(path, limits)
        elif suffix == ".pdf":
            blocks = parse_pdf(path, limits)
        elif suffix in (".md", ".markdown"):
            blocks = parse_markdown(_read_text(path, limits))
        elif suffix == ".txt":
            blocks = parse_plain_text(_read_text(path, limits))
        else:
            raise UnusableDocument(f"unsupported file type {suffix or '(none)'}")
    except OSError as exc:
        raise UnusableDocument(f"unreadable: {exc.strerror or exc}") from exc
    if not any(b.text.strip() for b in blocks):
        raise UnusableDocument("no text")
    limits.check_chars(sum(len(b.text) for b in blocks))
    return blocks


def _read_text(path: Path, limits: DocumentLimits) -> str:
    # UTF-8 spends at most 4 bytes on a character: a bigger file is over the limit unread.
    limits.check_chars(path.stat().st_size // 4)
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


def _check_docx_size(path: Path, limits: DocumentLimits) -> None:
    """Refuse a .docx whose XML parts unpack to more than its character limit can need, from
    the sizes in the zip directory, before anything is inflated: a zip bomb (186 KiB that
    inflates to 100M characters) stops here. A directory that understates a size does not get
    further: zipfile stops reading a member at its stated size and the CRC check then fails."""
    with zipfile.ZipFile(path) as archive:
        xml_bytes = sum(i.file_size for i in archive.infolist() if i.filename.endswith((".xml", ".rels")))
    budget = limits.max_chars * DOCX_XML_BYTES_PER_CHAR
    if xml_bytes > budget:
        raise UnusableDocument(
            f"its XML unpacks to {xml_bytes / 1e6:,.0f} MB, more than a document of at most "
            f"{limits.max_chars:,} characters needs ({budget / 1e6:,.0f} MB; OOZO_MAX_DOCUMENT_CHARS)"
        )


def parse_docx(path: Path, limits: DocumentLimits | None = None) -> list[Block]:
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
        _check_docx_size(path, limits or DocumentLimits())
    except zipfile.BadZipFile as exc:
        raise UnusableDocument(f"corrupt .docx archive ({exc})") from exc
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


def parse_pdf(path: Path, limits: DocumentLimits | None = None) -> list[Block]:
    """Text of every page via pypdf, split into paragraphs on blank lines. The page count is
    checked before any text is extracted, the character count after each page: a small PDF
    whose pages all draw one big content stream stops at the limit instead of at its end."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    limits = limits or DocumentLimits()
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise UnusableDocument("encrypted PDF")
        if len(reader.pages) > limits.max_pages:
            raise UnusableDocument(
                f"{len(reader.pages):,} pages, more than {limits.max_pages:,} (OOZO_MAX_DOCUMENT_PAGES)"
            )
        pages: list[str] = []
        chars = 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            chars += len(pages[-1])
            limits.check_chars(chars)
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


# Only the opening of an ATX heading is a regex, anchored and without nested quantifiers; the
# rest is cut with str methods. The former single pattern `(.*?)\s*#*\s*$` backtracked
# cubically: a 4 KB line of spaces after `#` took 52 s.
_MD_HEADING_OPEN = re.compile(r" {0,3}(#{1,6})[ \t]+")


def markdown_heading(line: str) -> str | None:
    """The text of an ATX heading line (`## Title ##` → `Title`), or None for any other line.
    A closing run of `#` counts only after a space, as in CommonMark (`# C#` stays `C#`)."""
    match = _MD_HEADING_OPEN.match(line)
    if not match:
        return None
    text = line[match.end() :].strip()
    without_closing = text.rstrip("#")
    if without_closing != text and (not without_closing or without_closing[-1] in " \t"):
        text = without_closing.rstrip()
    return text


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
        title = markdown_heading(line)
        if title is not None:
            flush()
            heading = _clean(title)
            if heading:
                blocks.append(Block(heading, heading, is_heading=True))
        elif not line.strip():
            flush()
        else:
            paragraph.append(line.strip())
    flush()
    return blocks
