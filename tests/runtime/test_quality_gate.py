"""The quality gate of `oozo index --evaluation-questions`: a new version becomes current only when
it answers the golden questions (hit@5 at least minHitAt5, and no worse than the serving version
by more than maxRegression). Real model, real FAISS, real files, a real `oozo serve` process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from oozo_contract.index_settings import IndexSettings
from oozo_contract.manifest import Manifest
from oozo_runtime import versions
from oozo_runtime.errors import OozoError
from oozo_runtime.indexing.build import build
from tests.runtime.conftest import oozo

TOPICS = {
    "vacation.md": "New employees receive 27 vacation days per year. Vacation is requested in the HR portal.",
    "parking.md": "A parking permit for the Elm Street garage costs 40 euros per month.",
    "security.md": "A lost badge is reported to the security desk in building C the same day.",
    "expenses.md": "Travel expenses are reimbursed within 14 days once the receipts are uploaded.",
    "canteen.md": "The canteen serves lunch from 11:30 to 14:00 with a vegetarian dish every day.",
    "laptops.md": "Laptops are replaced every three years by the IT service desk.",
    "plants.md": "The office plants are watered by the facility team on Mondays and Thursdays.",
    "bikes.md": "Bicycles are parked in the courtyard racks; e-bikes charge in the basement.",
    "printing.md": "Colour printing needs a code from the print room on the second floor.",
    "mail.md": "Internal mail is collected twice a day at the reception desk.",
}
QUESTIONS = [
    {
        "id": "vacation",
        "question": "How many vacation days do new employees get?",
        "documents": ["vacation.md"],
    },
    {"id": "parking", "question": "How much does a parking permit cost?", "documents": ["parking.md"]},
    {"id": "badge", "question": "Where do I report a lost badge?", "documents": ["security.md"]},
    {"id": "expenses", "question": "How fast are travel expenses paid back?", "documents": ["expenses.md"]},
]


def write_docs(source: Path, without: tuple[str, ...] = ()) -> Path:
    source.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        path.unlink()
    for name, text in TOPICS.items():
        if name not in without:
            (source / name).write_text(f"# {name[:-3].title()}\n\n{text}\n")
    return source


def write_questions(path: Path, questions: list[dict[str, Any]] = QUESTIONS) -> Path:
    import yaml

    document = {"questions": questions}
    path.write_text(json.dumps(document) if path.suffix == ".json" else yaml.safe_dump(document))
    return path


def gated(source: Path, index_dir: Path, questions: Path, **extra: Any) -> IndexSettings:
    return IndexSettings(source=str(source), index_dir=index_dir, evaluation_questions=questions, **extra)


def test_a_passing_version_is_published_with_its_scores_in_the_manifest_and_result(
    tmp_path: Path, embedder: Any
) -> None:
    source, index_dir = write_docs(tmp_path / "docs"), tmp_path / "index"
    questions = write_questions(tmp_path / "questions.yaml")
    result = build(gated(source, index_dir, questions, evaluation_min_hit_at5=1.0), embedder=embedder)
    assert versions.current_version(index_dir) == result.version
    evaluation = result.evaluation
    assert evaluation is not None and evaluation.passed and evaluation.version == result.version
    assert (evaluation.questions, evaluation.hit_at5, evaluation.missed) == (4, 1.0, [])
    assert 0.5 <= evaluation.hit_at1 <= 1.0 and evaluation.hit_at1 <= evaluation.mrr_at5 <= 1.0
    assert evaluation.baseline_version is None  # the first version has nothing to be compared with
    manifest = Manifest.read(index_dir / versions.VERSIONS / result.version)
    assert manifest.evaluation == evaluation
    assert versions.verify(index_dir / versions.VERSIONS / result.version) == []  # checksums still hold
    # a rebuild of the same inputs publishes nothing and reports the scores the version was promoted with
    again = build(gated(source, index_dir, questions, evaluation_min_hit_at5=1.0), embedder=embedder)
    assert again.unchanged and again.evaluation == evaluation


def test_a_version_below_min_hit_at5_is_not_published_and_the_server_keeps_the_old_one(
    tmp_path: Path, embedder: Any, serve: Any
) -> None:
    source, index_dir = write_docs(tmp_path / "docs"), tmp_path / "index"
    old = build(IndexSettings(source=str(source), index_dir=index_dir), embedder=embedder)
    server = serve(index_dir)
    server.wait_ready()
    write_docs(source, without=("vacation.md",))
    questions = write_questions(tmp_path / "questions.yaml")
    with pytest.raises(OozoError) as failed:
        build(gated(source, index_dir, questions, evaluation_min_hit_at5=0.9), embedder=embedder)
    assert failed.value.reason == "QualityGateFailed"
    evaluation = failed.value.details["evaluation"]
    assert (evaluation["hitAt5"], evaluation["passed"], evaluation["missed"]) == (0.75, False, ["vacation"])
    assert "below minHitAt5 0.900" in failed.value.message and "hit@5 0.750" in failed.value.message
    # nothing of the rejected version is left: not current, not in versions/, no scratch directory
    assert versions.current_version(index_dir) == old.version
    assert versions.list_versions(index_dir) == [old.version]
    assert not list(index_dir.glob(".tmp-*"))
    info = httpx.get(server.url + "/api/info", timeout=10).json()
    assert info["index_version"] == old.version


def test_a_regression_against_the_serving_version_fails_the_gate(tmp_path: Path, embedder: Any) -> None:
    source, index_dir = write_docs(tmp_path / "docs"), tmp_path / "index"
    questions = write_questions(tmp_path / "questions.yaml")
    serving = build(gated(source, index_dir, questions), embedder=embedder)
    write_docs(source, without=("parking.md",))
    with pytest.raises(OozoError) as failed:
        build(gated(source, index_dir, questions, evaluation_max_regression=0.1), embedder=embedder)
    evaluation = failed.value.details["evaluation"]
    assert evaluation["baselineVersion"] == serving.version and evaluation["baselineHitAt5"] == 1.0
    assert evaluation["hitAt5"] == 0.75 and evaluation["minHitAt5"] == 0.0
    assert "more than maxRegression 0.100 below the serving version's 1.000" in failed.value.message
    assert versions.current_version(index_dir) == serving.version
    # a tolerance of one question in four lets the same documents through
    passed = build(gated(source, index_dir, questions, evaluation_max_regression=0.25), embedder=embedder)
    assert passed.evaluation is not None and passed.evaluation.passed
    assert versions.current_version(index_dir) == passed.version


def test_the_gate_compares_with_the_pinned_serving_version_not_current(tmp_path: Path, embedder: Any) -> None:
    """The index Job pins the version the Deployment serves (OOZO_PINNED_VERSIONS); `current` may
    be a newer version the operator did not adopt. The gate holds the new one against what serves."""
    source, index_dir = write_docs(tmp_path / "docs"), tmp_path / "index"
    questions = write_questions(tmp_path / "questions.yaml")
    serving = build(IndexSettings(source=str(source), index_dir=index_dir), embedder=embedder)
    write_docs(source, without=("parking.md",))
    build(IndexSettings(source=str(source), index_dir=index_dir), embedder=embedder)  # current, not served
    write_docs(source, without=("parking.md", "mail.md"))
    with pytest.raises(OozoError) as failed:
        build(gated(source, index_dir, questions, pinned_versions=[serving.version]), embedder=embedder)
    evaluation = failed.value.details["evaluation"]
    assert (evaluation["baselineVersion"], evaluation["baselineHitAt5"]) == (serving.version, 1.0)
    # compared with `current` (which misses the same question) it would have passed
    result = build(gated(source, index_dir, questions), embedder=embedder)
    assert result.evaluation is not None and result.evaluation.baseline_hit_at5 == 0.75


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("questions: [", "not YAML or JSON"),
        ("questions: []", "questions: List should have at least 1 item"),
        ('{"questions": [{"question": "Where?"}]}', "questions.1.documents: Field required"),
        ("questions:\n- question: Where?\n  documents: [a.md]\n  answer: x\n", "questions.1.answer"),
    ],
)
def test_a_bad_questions_file_is_an_invalid_setting_before_anything_is_built(
    tmp_path: Path, content: str, problem: str
) -> None:
    source, index_dir = write_docs(tmp_path / "docs"), tmp_path / "index"
    questions = tmp_path / "questions.yaml"
    questions.write_text(content)
    with pytest.raises(OozoError) as failed:
        build(gated(source, index_dir, questions))  # no model given: it must not be needed
    assert failed.value.reason == "InvalidSettings"
    assert f"--evaluation-questions {questions}" in failed.value.message and problem in failed.value.message
    assert versions.list_versions(index_dir) == []


def test_oozo_index_exits_3_with_the_scores_in_its_termination_message(tmp_path: Path, embedder: Any) -> None:
    source, index_dir = write_docs(tmp_path / "docs"), tmp_path / "index"
    old = build(IndexSettings(source=str(source), index_dir=index_dir), embedder=embedder)
    write_docs(source, without=("security.md",))
    questions = write_questions(tmp_path / "questions.json")
    termination = tmp_path / "termination-log"
    missing = subprocess.run(
        oozo(
            "index",
            str(source),
            "--out",
            str(index_dir),
            "--evaluation-questions",
            str(tmp_path / "nope.yaml"),
        ),
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr
    done = subprocess.run(
        oozo(
            "index", str(source), "--out", str(index_dir), "--evaluation-questions", str(questions),
            "--min-hit-at-5", "0.8", "--termination-message-path", str(termination),
        ),
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    message = json.loads(termination.read_text())
    assert message["reason"] == "QualityGateFailed" and "was not published" in message["error"]
    assert message["evaluation"]["hitAt5"] == 0.75 and message["evaluation"]["missed"] == ["badge"]
    assert len(termination.read_bytes()) <= 4096
    assert versions.current_version(index_dir) == old.version
