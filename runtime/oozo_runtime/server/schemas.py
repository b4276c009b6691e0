"""Request and response bodies of the query API (the seed's contract, kept)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

MAX_QUESTION_CHARS = 4000
MAX_TOP_K = 50


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    question: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS)
    return_sources: StrictBool = True
    top_k: StrictInt = Field(5, ge=1, le=MAX_TOP_K)

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
