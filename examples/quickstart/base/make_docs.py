# ruff: noqa: E501
"""Write the quickstart's .docx files from public-domain texts (US government works of the
18th and 19th centuries). Committed output; run again only to change them:

    .venv/bin/python examples/quickstart/base/make_docs.py
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import docx

HERE = Path(__file__).resolve().parent / "docs"

TEXTS = {
    "constitution-preamble.docx": (
        "The Preamble to the Constitution of the United States (1787)",
        [
            "We the People of the United States, in Order to form a more perfect Union, establish Justice, "
            "insure domestic Tranquility, provide for the common defence, promote the general Welfare, and "
            "secure the Blessings of Liberty to ourselves and our Posterity, do ordain and establish this "
            "Constitution for the United States of America.",
            "Article I, Section 1. All legislative Powers herein granted shall be vested in a Congress of the "
            "United States, which shall consist of a Senate and House of Representatives.",
        ],
    ),
    "declaration-of-independence.docx": (
        "The Declaration of Independence (1776)",
        [
            "When in the Course of human events, it becomes necessary for one people to dissolve the political "
            "bands which have connected them with another, and to assume among the powers of the earth, the "
            "separate and equal station to which the Laws of Nature and of Nature's God entitle them, a decent "
            "respect to the opinions of mankind requires that they should declare the causes which impel them "
            "to the separation.",
            "We hold these truths to be self-evident, that all men are created equal, that they are endowed by "
            "their Creator with certain unalienable Rights, that among these are Life, Liberty and the pursuit "
            "of Happiness.",
        ],
    ),
    "gettysburg-address.docx": (
        "The Gettysburg Address (1863)",
        [
            "Four score and seven years ago our fathers brought forth on this continent, a new nation, conceived "
            "in Liberty, and dedicated to the proposition that all men are created equal.",
            "Now we are engaged in a great civil war, testing whether that nation, or any nation so conceived "
            "and so dedicated, can long endure. We are met on a great battle-field of that war.",
            "It is rather for us to be here dedicated to the great task remaining before us, that government of "
            "the people, by the people, for the people, shall not perish from the earth.",
        ],
    ),
}


def _reproducible(data: bytes) -> bytes:
    """The same zip with fixed entry timestamps (zipfile stamps entries with the current time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, (title, paragraphs) in TEXTS.items():
        document = docx.Document()
        document.core_properties.title = title
        # Fixed metadata: regenerating gives the same bytes, so the ConfigMap hash stays put.
        document.core_properties.author = "Oozo quickstart"
        fixed = dt.datetime(2026, 1, 1)
        document.core_properties.created = document.core_properties.modified = fixed
        document.core_properties.last_printed = fixed
        document.add_heading(title, level=1)
        for text in paragraphs:
            document.add_paragraph(text)
        buffer = io.BytesIO()
        document.save(buffer)
        (HERE / name).write_bytes(_reproducible(buffer.getvalue()))
        print(HERE / name)


if __name__ == "__main__":
    main()
