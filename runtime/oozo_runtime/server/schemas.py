"""Request and response bodies of the query API (the seed's contract, kept)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, create_model, field_validator


class QueryRequest(BaseModel):
    """The request body; `limited_to` gives it the bounds a server is configured with."""

    model_config = ConfigDict(extra="ignore")

    question: str = Field(..., min_length=1)
    return_sources: StrictBool = True
    top_k: StrictInt = Field(5, ge=1)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question must not be blank")
        return value.strip()


class Source(BaseModel):
    document: str
    chunk: int
    score: float
    text: str
    heading: str | None = None


class QueryResponse(BaseModel):
    answer: str | None
    sources: list[Source]
    index_version: str
    timings: dict[str, float]
    error: str | None = None


def limited_to(max_question_chars: int, max_top_k: int) -> type[QueryRequest]:
    """QueryRequest bounded by OOZO_MAX_QUESTION_CHARS and OOZO_MAX_TOP_K: the settings are the
    only source of these limits, so the API reference and the validation errors state the
    configured ones, raised or lowered."""
    return create_model(
        "QueryRequest",
        __base__=QueryRequest,
        question=(str, Field(..., min_length=1, max_length=max_question_chars)),
        top_k=(StrictInt, Field(5, ge=1, le=max_top_k)),
    )
