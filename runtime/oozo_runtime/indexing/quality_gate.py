"""The quality gate of `oozo index --evaluation-questions FILE`: a new version becomes current only
when it answers the golden questions well enough (docs/runtime.md, "The quality gate").

The build writes the new version into its scratch directory as always; before the rename that
publishes it, this module loads it through the server's own path (`LoadedIndex.load` +
`Retriever`, so a change of ranking is evaluated as it will serve) and scores it, retrieval
only: hit@1, hit@5 and MRR@5 over the questions. The version the server serves (the pinned
one, else `current`) is scored on the same questions when it was embedded by the same model.
A version that fails is never renamed into versions/: the scratch directory goes with the
build, so nothing can serve it, list it or roll back to it, and retention has nothing to prune.

The questions file (YAML, or JSON, which YAML reads too):

    questions:
      - id: vacation-days                       # optional; names the question in reports
        question: How many vacation days do new employees get?
        documents: [policies/vacation.docx]     # any of these among the top 5 is a hit

A document is named as the index records it: its path relative to the source folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from oozo_contract.defaults import RetrievalMode
from oozo_contract.index_settings import IndexSettings
from oozo_contract.manifest import Manifest
from oozo_contract.results import QUESTION_IDS_MAX, Evaluation
from oozo_runtime import versions
from oozo_runtime.errors import INVALID_SETTINGS, QUALITY_GATE_FAILED, OozoError

log = logging.getLogger(__name__)

TOP_K = 5  # hit@5 and MRR@5: what a user reads on the first screen of sources
QUESTIONS_MAX = 10_000
FILE_BYTES_MAX = 16 * 1024 * 1024  # a ConfigMap holds 1 MiB; a local file gets more room, not unbounded
EPSILON = 1e-9  # scores are ratios of small integers: 0.8 must meet a floor of 0.8


class GoldenQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(None, min_length=1, max_length=128)
    question: str = Field(min_length=1, max_length=4000)
    documents: list[str] = Field(min_length=1, max_length=100)

    @field_validator("documents")
    @classmethod
    def _named(cls, documents: list[str]) -> list[str]:
        if any(not d.strip() for d in documents):
            raise ValueError("a document name is empty")
        return [d.strip().removeprefix("./") for d in documents]


class GoldenQuestions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    questions: list[GoldenQuestion] = Field(min_length=1, max_length=QUESTIONS_MAX)

    def ids(self) -> list[str]:
        return [q.id or f"#{n}" for n, q in enumerate(self.questions, start=1)]


def load_questions(path: Path) -> GoldenQuestions:
    """The questions of `path`; an OozoError InvalidSettings naming the file and the first
    problem when it is missing, unreadable, not YAML/JSON or not questions."""

    def invalid(problem: str) -> OozoError:
        return OozoError(INVALID_SETTINGS, f"invalid settings: --evaluation-questions {path}: {problem}")

    try:
        if path.stat().st_size > FILE_BYTES_MAX:
            raise invalid(f"larger than {FILE_BYTES_MAX} bytes")
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise invalid("no such file (for a RagCorpus: does the ConfigMap have this key?)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise invalid(f"cannot be read ({type(exc).__name__})") from None
    except yaml.YAMLError as exc:
        raise invalid(f"not YAML or JSON ({str(exc).splitlines()[0]})") from None
    if isinstance(raw, list):  # a bare list of questions reads the same
        raw = {"questions": raw}
    try:
        return GoldenQuestions.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors(include_input=False)[0]
        where = ".".join(str(p + 1) if isinstance(p, int) else p for p in err["loc"]) or "the file"
        raise invalid(f"{where}: {err['msg']}") from None


@dataclass(frozen=True)
class Scores:
    questions: int
    hit_at1: float
    hit_at5: float
    mrr_at5: float
    missed: tuple[str, ...] = ()  # ids of the questions with no expected document in the top 5


def score(ranked_documents: Sequence[Sequence[str]], questions: GoldenQuestions) -> Scores:
    """Scores from each question's retrieved documents, best first (pure)."""
    hits1 = hits5 = 0
    reciprocal = 0.0
    missed = []
    for docs, question, qid in zip(ranked_documents, questions.questions, questions.ids(), strict=True):
        expected = set(question.documents)
        rank = next((n for n, d in enumerate(docs[:TOP_K], start=1) if d in expected), None)
        if rank is None:
            missed.append(qid)
            continue
        hits5 += 1
        hits1 += rank == 1
        reciprocal += 1 / rank
    n = len(questions.questions)
    return Scores(n, round(hits1 / n, 6), round(hits5 / n, 6), round(reciprocal / n, 6), tuple(missed))


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str  # why it failed; "" when it passed


def decide(candidate: float, baseline: float | None, min_hit_at5: float, max_regression: float) -> Verdict:
    """The gate (pure): hit@5 at least `min_hit_at5`, and at most `max_regression` below the
    baseline's hit@5 when there is a baseline to compare with."""
    problems = []
    if candidate + EPSILON < min_hit_at5:
        problems.append(f"hit@5 {candidate:.3f} is below minHitAt5 {min_hit_at5:.3f}")
    if baseline is not None and candidate + max_regression + EPSILON < baseline:
        problems.append(
            f"hit@5 {candidate:.3f} is more than maxRegression {max_regression:.3f} below the serving "
            f"version's {baseline:.3f}"
        )
    return Verdict(not problems, "; ".join(problems))


def check_questions(settings: IndexSettings) -> None:
    """Before anything is built: a bad questions file is a settings error, not a failed gate."""
    if settings.evaluation_questions is not None:
        load_questions(settings.evaluation_questions)


def evaluate(
    settings: IndexSettings, root: Path, scratch: Path, manifest: Manifest, embedder: Any
) -> Evaluation | None:
    """Score the version in `scratch` (its manifest written, not yet published) and the serving
    one. A pass adds the scores to the scratch manifest; a failure raises OozoError
    QualityGateFailed with them, before the build touches the embedding cache or `current`.
    None without a questions file. `embedder`: the build's model when it loaded one."""
    if settings.evaluation_questions is None:
        return None
    from oozo_runtime.embedding import expected_fingerprint

    questions = load_questions(settings.evaluation_questions)
    fingerprint = expected_fingerprint(settings)
    with _resolvable(root, scratch, manifest.version) as eval_root:
        candidate = _load(eval_root, manifest.version, fingerprint)
    encoder = _query_encoder(settings, root, candidate, embedder)
    scores = score_index(candidate, encoder, questions)
    baseline_version = _baseline_version(settings, root)
    baseline_hit_at5: float | None = None
    note = None
    if baseline_version:
        try:
            baseline = _load(root, baseline_version, fingerprint)
            baseline_hit_at5 = score_index(baseline, encoder, questions).hit_at5
        except Exception as exc:  # another model, a pruned or corrupt version: no comparison possible
            note = f"serving version {baseline_version} not compared: {type(exc).__name__}: {exc}"[:512]
            log.warning("quality gate without a baseline", extra={"reason": note})
            baseline_version = None
    verdict = decide(
        scores.hit_at5, baseline_hit_at5, settings.evaluation_min_hit_at5, settings.evaluation_max_regression
    )
    evaluation = Evaluation(
        version=manifest.version,
        questions=scores.questions,
        hit_at1=scores.hit_at1,
        hit_at5=scores.hit_at5,
        mrr_at5=scores.mrr_at5,
        passed=verdict.passed,
        min_hit_at5=settings.evaluation_min_hit_at5,
        max_regression=settings.evaluation_max_regression,
        baseline_version=baseline_version,
        baseline_hit_at5=baseline_hit_at5,
        baseline_note=note,
        missed=list(scores.missed[:QUESTION_IDS_MAX]),
        reason=verdict.reason,
    )
    log.info("quality gate", extra=evaluation.model_dump(mode="json", by_alias=True, exclude_none=True))
    if verdict.passed:
        versions.write_manifest(scratch, manifest.model_copy(update={"evaluation": evaluation}))
    else:
        payload = evaluation.model_dump(mode="json", by_alias=True, exclude_none=True)
        raise OozoError(
            QUALITY_GATE_FAILED,
            f"version {manifest.version} failed the quality gate and was not published: {verdict.reason} "
            f"({describe(evaluation)})",
            {"evaluation": payload},
        )
    return evaluation


def describe(evaluation: Evaluation) -> str:
    """One line of scores, for messages and conditions."""
    text = (
        f"hit@1 {evaluation.hit_at1:.3f}, hit@5 {evaluation.hit_at5:.3f}, MRR@5 {evaluation.mrr_at5:.3f} "
        f"over {evaluation.questions} questions"
    )
    if evaluation.baseline_hit_at5 is not None:
        text += f"; serving version {evaluation.baseline_version} hit@5 {evaluation.baseline_hit_at5:.3f}"
    if evaluation.missed:
        text += f"; missed: {', '.join(evaluation.missed)}"
    return text


def _baseline_version(settings: IndexSettings, root: Path) -> str | None:
    """What the server serves: the operator names it; else the first pinned version (the index
    Job pins the serving one), else `current`."""
    return (
        settings.evaluation_baseline_version
        or (settings.pinned_versions[0] if settings.pinned_versions else None)
        or versions.current_version(root)
    )


def _load(root: Path, version: str, fingerprint: Any) -> Any:
    from oozo_runtime.retrieval import LoadedIndex

    return LoadedIndex.load(root, version, fingerprint)


def _query_encoder(settings: IndexSettings, root: Path, index: Any, embedder: Any) -> Any:
    """The build's model when loaded (its vectors agree with the server's ONNX graph), else
    the encoder the server would choose: the version's ONNX graph, or the remote server."""
    if embedder is not None:
        return embedder
    if settings.embedding_provider != "local":
        from oozo_runtime.embedding import make_embedder

        return make_embedder(settings)
    from oozo_runtime.onnx_encoder import choose_query_encoder

    cache = str(settings.model_cache_dir) if settings.model_cache_dir else None
    return choose_query_encoder(root, index.manifest, settings.model, cache).encoder


def score_index(
    index: Any, encoder: Any, questions: GoldenQuestions, mode: RetrievalMode | None = None
) -> Scores:
    """Each question's top 5 documents from `index`, scored; `mode` None is the server's default.
    The gate and the restore drill (backup/verify.py) both score through here."""
    from oozo_runtime.retrieval import Retriever

    retriever = Retriever(encoder, index, mode) if mode else Retriever(encoder, index)
    ranked = []
    for q in questions.questions:
        hits, _ = retriever.retrieve(q.question, TOP_K)
        ranked.append([hit.document for hit in hits])
    return score(ranked, questions)


@contextlib.contextmanager
def _resolvable(root: Path, scratch: Path, version: str) -> Iterator[Path]:
    """A throwaway index root whose versions/<version> is the scratch directory, so the
    unpublished version loads through `LoadedIndex.load` exactly as a published one. It is a
    .tmp- entry of the index: a killed build leaves it for the next build's clean-up."""
    eval_root = root / f"{versions.TMP_PREFIX}eval-{secrets.token_hex(6)}"
    try:
        (eval_root / versions.VERSIONS).mkdir(parents=True)
        os.symlink(scratch.resolve(), eval_root / versions.VERSIONS / version)
        yield eval_root
    finally:
        shutil.rmtree(eval_root, ignore_errors=True)  # removes the link, never what it points to
