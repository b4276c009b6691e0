"""The quality gate's pure parts: the decision (floor and regression), the scores from ranked
documents, and reading a golden-questions file (real files, no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from oozo_contract.results import Evaluation, IndexBuildResult
from oozo_runtime.errors import OozoError
from oozo_runtime.indexing.quality_gate import GoldenQuestions, decide, load_questions, score

DECISIONS = [
    # candidate hit@5, baseline hit@5, minHitAt5, maxRegression -> passes, words in the reason
    (0.8, None, 0.8, 0.0, True, ""),  # exactly at the floor
    (0.79, None, 0.8, 0.0, False, "below minHitAt5 0.800"),
    (1.0, None, 0.0, 0.0, True, ""),  # first version: nothing to compare with
    (0.9, 0.9, 0.0, 0.0, True, ""),  # as good as the serving version
    (0.85, 0.9, 0.0, 0.0, False, "more than maxRegression 0.000 below the serving version's 0.900"),
    (0.85, 0.9, 0.0, 0.05, True, ""),  # within the tolerance, to the cent
    (0.8, 0.9, 0.0, 0.05, False, "below the serving version's 0.900"),
    (0.7, 0.9, 0.8, 0.05, False, "below minHitAt5 0.800; hit@5 0.700 is more than maxRegression"),
    (0.95, 0.5, 0.9, 0.0, True, ""),  # better than the serving version
    (0.0, 0.0, 0.0, 0.0, True, ""),  # the defaults only forbid a regression
]


@pytest.mark.parametrize(("candidate", "baseline", "floor", "regression", "passes", "reason"), DECISIONS)
def test_the_gate_passes_at_the_floor_and_within_the_regression_tolerance(
    candidate: float, baseline: float | None, floor: float, regression: float, passes: bool, reason: str
) -> None:
    verdict = decide(candidate, baseline, floor, regression)
    assert verdict.passed is passes
    assert (reason in verdict.reason) if reason else verdict.reason == ""


def questions(*expected: list[str]) -> GoldenQuestions:
    return GoldenQuestions.model_validate(
        {"questions": [{"question": f"q{n}", "documents": docs} for n, docs in enumerate(expected)]}
    )


def test_scores_count_the_first_expected_document_among_the_top_five() -> None:
    golden = questions(["a.md"], ["b.md", "b2.md"], ["c.md"], ["d.md"])
    ranked = [
        ["a.md", "x.md"],  # rank 1
        ["x.md", "b2.md", "b.md"],  # rank 2 (either expected document counts)
        ["x", "x", "x", "x", "x", "c.md"],  # rank 6: a miss at 5
        [],  # nothing retrieved
    ]
    s = score(ranked, golden)
    assert (s.questions, s.hit_at1, s.hit_at5, s.mrr_at5) == (4, 0.25, 0.5, 0.375)
    assert s.missed == ("#3", "#4")


def test_a_questions_file_reads_as_yaml_json_or_a_bare_list(tmp_path: Path) -> None:
    yaml_file = tmp_path / "q.yaml"
    yaml_file.write_text("questions:\n- id: leave\n  question: How long?\n  documents: [./hr/leave.docx]\n")
    json_file = tmp_path / "q.json"
    json_file.write_text('[{"question": "How long?", "documents": ["hr/leave.docx"]}]')
    from_yaml, from_json = load_questions(yaml_file), load_questions(json_file)
    assert from_yaml.questions[0].documents == from_json.questions[0].documents == ["hr/leave.docx"]
    assert (from_yaml.ids(), from_json.ids()) == (["leave"], ["#1"])


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "Input should be a valid dictionary"),
        ("questions:\n- question: ''\n  documents: [a]\n", "questions.1.question"),
        ("questions:\n- question: Why?\n  documents: ['  ']\n", "a document name is empty"),
        ("- question: Why?\n  documents: []\n", "questions.1.documents: List should have at least 1 item"),
        ("other: 1\n", "questions: Field required"),
    ],
)
def test_a_bad_questions_file_names_the_file_and_the_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "questions.yaml"
    path.write_text(content)
    with pytest.raises(OozoError) as failed:
        load_questions(path)
    assert failed.value.reason == "InvalidSettings"
    assert str(path) in failed.value.message and problem in failed.value.message


def test_an_evaluation_survives_the_round_trip_through_a_build_result() -> None:
    evaluation = Evaluation(
        version="v1", questions=4, hit_at1=0.5, hit_at5=1.0, mrr_at5=0.75, passed=True,
        min_hit_at5=0.8, max_regression=0.0, baseline_version="v0", baseline_hit_at5=0.75,
    )  # fmt: skip
    wire = evaluation.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert {"hitAt1", "hitAt5", "mrrAt5", "minHitAt5", "maxRegression", "baselineHitAt5"} <= set(wire)
    result = IndexBuildResult.model_validate(
        {"version": "v1", "documents": 1, "chunks": 1, "skippedDocuments": 0, "embeddingModel": "m",
         "dimensions": 3, "sizeBytes": 1, "builtAt": "", "buildSeconds": 0, "reusedEmbeddings": 0,
         "evaluation": wire}
    )  # fmt: skip
    assert result.evaluation == evaluation


def test_the_questions_example_in_the_docs_reads(tmp_path: Path) -> None:
    runtime_md = (Path(__file__).resolve().parents[2] / "docs" / "runtime.md").read_text()
    section = runtime_md.split("**Writing golden questions.**", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "questions.yaml"
    path.write_text(example)
    golden = load_questions(path)
    assert golden.ids() == ["vacation-days", "#2"]
    assert golden.questions[1].documents == ["security/badges.md", "security/faq.md"]
