"""spec.evaluation: the quality gate a new index version must pass before it serves
(docs/operator.md#the-quality-gate-specevaluation). Its values are index inputs (part of the
index hash, when set): changing the questions' ConfigMap or a threshold builds and evaluates
again."""

from __future__ import annotations

from pydantic import Field

from oozo_contract import defaults as d
from oozo_operator.api.base import DATA_KEY, ApiModel, ObjectName


class GoldenQuestionsRef(ApiModel):
    """The ConfigMap key holding the golden questions (YAML or JSON): each a question and the
    documents that answer it. Mounted read-only into the index and refresh pods; the operator
    never reads it."""

    config_map: ObjectName = Field(description="Name of the ConfigMap, in the RagCorpus's namespace.")
    key: str = Field(
        d.EVALUATION_KEY,
        min_length=1,
        max_length=253,
        pattern=DATA_KEY,
        description="Key of the questions file in the ConfigMap.",
    )


class Evaluation(ApiModel):
    """Golden questions a new index version must answer before it is promoted: hit@5 at least
    minHitAt5, and at most maxRegression below the serving version's on the same questions.
    A version that fails is not published; the serving one keeps serving."""

    questions: GoldenQuestionsRef = Field(description="Where the golden questions are.")
    min_hit_at5: float = Field(
        d.EVALUATION_MIN_HIT_AT5,
        ge=0,
        le=1,
        alias="minHitAt5",
        description="Least share of questions with an expected document among the top 5 sources (0..1).",
    )
    max_regression: float = Field(
        d.EVALUATION_MAX_REGRESSION,
        ge=0,
        le=1,
        description="How far hit@5 may fall below the serving version's (0..1); 0: never worse.",
    )
