"""The answer cache's key (issue 15, Answer cache): questions that differ only in Unicode form,
case or spacing share an answer; anything an answer depends on (index version, top_k, mode,
sources or not, generation settings) separates them; the Redis URL never carries a password."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr, ValidationError

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.server.answer_cache import AnswerKey, generation_identity, key_for, normalise_question
from oozo_runtime.server.schemas import QueryRequest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("asked", "normalised"),
    [
        ("How many vacation days?", "how many vacation days?"),
        ("  How   many\tvacation\n days? ", "how many vacation days?"),
        ("How\u00a0many\u2003vacation days?", "how many vacation days?"),  # no-break and em spaces
        ("\uff28\uff2f\uff37 \uff4d\uff41\uff4e\uff59 days\uff1f", "how many days?"),  # full-width
        ("the \ufb01le", "the file"),  # the fi ligature
        ("Straße", "strasse"),  # casefold, not lower(): ß folds to ss
        ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),  # final sigma folds like any sigma
        ("e\u0301te\u0301", "été"),  # combining accents compose
        ("Сколько дней отпуска?", "сколько дней отпуска?"),
        ("vacation days?", "vacation days?"),
    ],
)
def test_questions_are_compared_after_nfkc_casefold_and_whitespace_collapse(
    asked: str, normalised: str
) -> None:
    assert normalise_question(asked) == normalised


def test_punctuation_and_words_still_tell_questions_apart() -> None:
    assert normalise_question("vacation days?") != normalise_question("vacation days")
    assert normalise_question("vacation days") != normalise_question("vacation day")


EXTRACTIVE = generation_identity(ServeSettings())


def key(question: str = "How many vacation days?", version: str = "v1", **fields: object) -> AnswerKey:
    return key_for(QueryRequest(question=question, **fields), version, EXTRACTIVE)


def test_the_same_question_in_another_form_has_the_same_key() -> None:
    assert key("How many vacation days?").digest() == key("  HOW many  vacation days? ").digest()


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("index version", lambda: key(version="v2")),
        ("top_k", lambda: key(top_k=6)),
        ("return_sources", lambda: key(return_sources=False)),
        ("question", lambda: key("How many sick days?")),
    ],
)
def test_what_an_answer_depends_on_separates_keys(name: str, other: Callable[[], AnswerKey]) -> None:
    assert other().digest() != key().digest(), name


def test_a_retrieval_mode_separates_keys() -> None:
    base = key()
    assert AnswerKey(**{**base.__dict__, "mode": "lexical"}).digest() != base.digest()
    assert AnswerKey(**{**base.__dict__, "mode": "dense"}).digest() != base.digest()
    assert base.mode is None  # this request names no mode


def test_generation_settings_separate_keys_and_never_hold_the_api_key() -> None:
    request = QueryRequest(question="q")
    openai = ServeSettings(generation_provider="openai", openai_api_key=SecretStr("sk-secret-123"))
    keys = {
        key_for(request, "v1", generation_identity(s)).digest()
        for s in (
            ServeSettings(),
            openai,
            openai.model_copy(update={"openai_model": "gpt-4o"}),
            openai.model_copy(update={"temperature": 0.0}),
            openai.model_copy(update={"max_tokens": 64}),
            openai.model_copy(update={"openai_base_url": "http://vllm:8000/v1"}),
        )
    }
    assert len(keys) == 6
    assert "sk-secret-123" not in repr(generation_identity(openai))
    # Another key for the same server answers the same: the key is not part of the identity.
    other_key = openai.model_copy(update={"openai_api_key": SecretStr("sk-other")})
    assert generation_identity(other_key) == generation_identity(openai)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis://:hunter2@redis:6379", "must not carry credentials"),
        ("redis://default:hunter2@redis", "must not carry credentials"),
        ("http://redis:6379", "must start with redis:// or rediss://"),
        ("redis://redis:6379/cache", "redis://HOST[:PORT][/DB]"),
        ("redis://", "redis://HOST[:PORT][/DB]"),
    ],
)
def test_a_bad_redis_url_is_refused_without_repeating_it(url: str, complaint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ServeSettings(answer_cache_redis_url=url)
    messages = " ".join(e["msg"] for e in caught.value.errors(include_input=False))
    assert complaint in messages
    assert "hunter2" not in messages


@pytest.mark.parametrize("url", ["redis://redis:6379/0", "rediss://cache.example.com", "redis://10.0.0.5"])
def test_redis_urls_without_credentials_are_accepted(url: str) -> None:
    assert ServeSettings(answer_cache_redis_url=url).answer_cache_redis_url == url


def test_cache_size_and_ttl_are_bounded() -> None:
    assert ServeSettings(answer_cache_size=0).answer_cache_size == 0
    for bad in ({"answer_cache_size": -1}, {"answer_cache_ttl_seconds": 0}, {"answer_cache_size": 10**9}):
        with pytest.raises(ValidationError):
            ServeSettings(**bad)  # type: ignore[arg-type]
