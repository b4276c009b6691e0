"""Real .docx files with facts only they hold, and the ConfigMap that carries them."""

from __future__ import annotations

import base64
import io

from docx import Document


def docx(title: str, paragraphs: list[str], table: list[tuple[str, str]] | None = None) -> bytes:
    doc = Document()
    doc.add_heading(title, level=1)
    for text in paragraphs:
        doc.add_paragraph(text)
    if table:
        grid = doc.add_table(rows=1, cols=2)
        grid.rows[0].cells[0].text, grid.rows[0].cells[1].text = "Item", "Value"
        for left, right in table:
            row = grid.add_row()
            row.cells[0].text, row.cells[1].text = left, right
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def aurora(code_word: str) -> bytes:
    return docx(
        "Project Aurora launch plan",
        [
            f"The code word for the Aurora launch is {code_word}. Only the launch team uses it.",
            "Aurora launches from the northern test field after the spring safety review.",
        ],
    )


def handbook_docs(code_word: str = "PERIWINKLE") -> dict[str, bytes]:
    return {
        "aurora-launch.docx": aurora(code_word),
        "travel-expenses.docx": docx(
            "Travel expense policy",
            ["Employees book travel through the internal portal and keep every receipt."],
            table=[
                ("Daily meal allowance", "42 euros"),
                ("Hotel night cap", "180 euros"),
                ("Mileage rate", "0.31 euros per kilometre"),
            ],
        ),
        "onboarding.docx": docx(
            "Onboarding guide",
            [
                "New employees collect their badge from the front desk on the third floor.",
                "The onboarding mentor meets each newcomer every Thursday during the first month.",
            ],
        ),
    }


def configmap(name: str, namespace: str, files: dict[str, bytes]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "binaryData": {k: base64.b64encode(v).decode() for k, v in files.items()},
    }
