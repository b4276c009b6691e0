"""Extractive answers: readable, built from the best passages, naming their documents."""

from __future__ import annotations

from oozo_runtime.answers import NO_MATCH, best_sentences, extractive_answer, grounded_prompt
from oozo_runtime.prefixes import prefixes_for
from oozo_runtime.retrieval import Hit


def hit(document: str, text: str, score: float = 0.5, heading: str | None = None) -> Hit:
    return Hit(document, 0, score, text, heading)


def test_answer_quotes_the_best_sentence_and_names_the_document() -> None:
    hits = [
        hit(
            "hr/leave.docx",
            "Leave\n\nWe value rest. Employees get 27 days of paid leave per year. Ask your manager.",
            0.8,
            "Leave",
        ),
        hit("hr/parking.docx", "The garage opens at six.", 0.3),
    ]
    answer = extractive_answer("How many days of paid leave do employees get?", hits)
    assert answer.startswith("According to hr/leave.docx (Leave):")
    assert "27 days of paid leave" in answer
    assert "garage" not in answer  # a weaker passage that shares no word with the question


def test_related_passages_from_other_documents_are_mentioned() -> None:
    hits = [
        hit("a.docx", "Paid leave is 27 days.", 0.8),
        hit("a.docx", "Leave requests go to HR.", 0.7),
        hit("b.docx", "Unused paid leave expires in March.", 0.6),
    ]
    answer = extractive_answer("paid leave", hits)
    assert "According to a.docx" in answer and "See also b.docx" in answer
    assert answer.count("a.docx") == 1


def test_no_hits_gives_a_clear_message() -> None:
    assert extractive_answer("anything", []) == NO_MATCH


def test_best_sentences_keep_document_order() -> None:
    text = "Alpha is first. Nothing here. Beta follows alpha."
    assert best_sentences("alpha beta", text, limit=2) == ["Alpha is first.", "Beta follows alpha."]


def test_grounded_prompt_numbers_sources() -> None:
    prompt = grounded_prompt("Q?", [hit("a.docx", "text A", heading="H"), hit("b.docx", "text B")])
    assert "[1] a.docx — H\ntext A" in prompt and "[2] b.docx\ntext B" in prompt
    assert prompt.endswith("Question: Q?")


def test_e5_models_get_instruction_prefixes() -> None:
    assert prefixes_for("intfloat/e5-small-v2").query == "query: "
    assert prefixes_for("intfloat/multilingual-e5-base").passage == "passage: "
    assert prefixes_for("sentence-transformers/all-MiniLM-L6-v2").query == ""
