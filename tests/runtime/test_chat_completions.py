"""Any OpenAI client or chat UI can talk to a corpus (issue 17): the `openai` Python client against
a real `oozo serve` (real model, real index) gets answers from the corpus with their sources,
streams them, discovers the model, and reads the reason of every refusal. Through an LLM (the
OpenAI-compatible protocol double on loopback) the answer is the LLM's, streamed as the LLM
streams it, and an LLM failure still answers from the corpus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.runtime.conftest import Built, Server
from tests.runtime.llm_double import ChatCompletionsDouble

KEY = "chat-key-1a9f3c"
BASE = {"OOZO_AUTH_ENABLED": "true", "OOZO_API_KEYS": KEY, "OOZO_MAX_QUESTION_CHARS": "300"}


def started(built: Built, tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Iterator[Server]:
    server = Server(built.index_dir, tmp_path_factory.mktemp("chat") / "serve.log", {**BASE, **env})
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from started(built, tmp_path_factory, {"OOZO_OPENAPI_ENABLED": "true"})


@pytest.fixture(scope="module")
def llm() -> Iterator[ChatCompletionsDouble]:
    with ChatCompletionsDouble() as double:
        yield double


@pytest.fixture(scope="module")
def llm_server(
    built: Built, tmp_path_factory: pytest.TempPathFactory, llm: ChatCompletionsDouble
) -> Iterator[Server]:
    env = {
        "OOZO_GENERATION_PROVIDER": "openai",
        "OOZO_OPENAI_BASE_URL": llm.base_url,
        "OOZO_OPENAI_API_KEY": "sk-double",
        "OOZO_LLM_TIMEOUT_SECONDS": "5",
    }
    yield from started(built, tmp_path_factory, env)


def client_of(server: Server, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=60)


def test_the_openai_client_gets_an_answer_from_the_corpus_with_its_sources(
    server: Server, built: Built
) -> None:
    fact = built.corpus.facts[0]
    response = client_of(server).chat.completions.create(
        model="oozo",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Hello?"},
            {"role": "assistant", "content": "Hi. Ask me about the handbook."},
            {"role": "user", "content": fact.question},  # the last user message is the question
        ],
    )
    assert response.object == "chat.completion"
    assert response.model == f"oozo@{built.result.version}"
    message = response.choices[0].message
    assert message.role == "assistant" and response.choices[0].finish_reason == "stop"
    assert fact.answer in (message.content or "")
    assert f"Sources:\n[1] {fact.document}" in (message.content or "")  # citations in the content
    extra = response.model_extra or {}
    assert extra["sources"][0]["document"] == fact.document  # and as data, like /api/query's
    assert extra["index_version"] == built.result.version


def test_streaming_yields_chunks_that_end_properly(server: Server, built: Built) -> None:
    fact = built.corpus.facts[1]
    stream = client_of(server).chat.completions.create(
        model="oozo", messages=[{"role": "user", "content": fact.question}], stream=True
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert (chunks[0].model_extra or {})["sources"][0]["document"] == fact.document
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert fact.answer in text and f"[1] {fact.document}" in text
    assert [c.choices[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    # On the wire: Server-Sent Events, the last one `data: [DONE]`.
    with httpx.stream(
        "POST",
        server.url + "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": fact.question}], "stream": True},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line]
    assert events[-1] == "data: [DONE]" and all(e.startswith("data: ") for e in events)


def test_the_model_can_be_discovered(server: Server) -> None:
    models = list(client_of(server).models.list())
    assert [(m.id, m.object, m.owned_by) for m in models] == [("oozo", "model", "oozo")]


def test_a_wrong_or_missing_key_is_an_authentication_error(server: Server) -> None:
    with pytest.raises(openai.AuthenticationError) as refused:
        client_of(server, key="wrong").chat.completions.create(
            model="oozo", messages=[{"role": "user", "content": "budget"}]
        )
    assert refused.value.code == "invalid_api_key" and "API key" in refused.value.message
    with pytest.raises(openai.AuthenticationError):
        client_of(server, key="wrong").models.list()
    r = httpx.post(server.url + "/v1/chat/completions", json={}, timeout=10)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("messages", "extra_body", "code", "reason"),
    [
        ([{"role": "system", "content": "Be brief."}], None, "no_user_message", "role 'user'"),
        ([], None, "invalid_value", "messages"),
        ([{"role": "user", "content": "x" * 301}], None, "invalid_value", "at most 300 characters"),
        ([{"role": "user", "content": "   "}], None, "invalid_value", "blank"),
        ([{"role": "user", "content": "budget"}], {"top_k": 0}, "invalid_value", "top_k"),
        ([{"role": "user", "content": "budget"}], {"top_k": 51}, "invalid_value", "top_k"),
        ([{"role": "user", "content": "budget"}], {"stream": "yes"}, "invalid_value", "stream"),
    ],
)
def test_bad_requests_are_400_in_openais_error_shape(
    server: Server, messages: list[Any], extra_body: dict[str, Any] | None, code: str, reason: str
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client_of(server).chat.completions.create(model="oozo", messages=messages, extra_body=extra_body)
    error = refused.value
    assert error.status_code == 400 and error.code == code, error.body
    assert reason in error.message, error.message
    assert isinstance(error.body, dict) and error.body["type"] == "invalid_request_error"


def test_malformed_json_is_a_400_in_openais_error_shape(server: Server) -> None:
    r = httpx.post(
        server.url + "/v1/chat/completions",
        content=b'{"messages": [',
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 400
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert r.json()["error"]["code"] == "invalid_json"


def test_the_chat_routes_are_left_out_of_the_openapi_document(server: Server) -> None:
    doc = httpx.get(
        server.url + "/openapi.json", headers={"Authorization": f"Bearer {KEY}"}, timeout=10
    ).json()
    assert "/api/query" in doc["paths"]
    assert not [path for path in doc["paths"] if path.startswith(("/v1", "/mcp"))]


def test_through_the_llm_the_answer_is_the_llms(
    llm_server: Server, llm: ChatCompletionsDouble, built: Built
) -> None:
    llm.mode = "ok"
    fact = built.corpus.facts[2]
    response = client_of(llm_server).chat.completions.create(
        model="oozo", messages=[{"role": "user", "content": fact.question}]
    )
    content = response.choices[0].message.content or ""
    assert content.startswith(f"Grounded answer to: {fact.question} [1]")
    assert f"[1] {fact.document}" in content  # [1] cites the best source, listed under the answer
    assert fact.document in llm.requests[-1]["messages"][-1]["content"]  # the LLM got the passages


def test_streaming_through_the_llm_streams_its_tokens(
    llm_server: Server, llm: ChatCompletionsDouble, built: Built
) -> None:
    llm.mode = "ok"
    fact = built.corpus.facts[3]
    chunks = list(
        client_of(llm_server).chat.completions.create(
            model="oozo", messages=[{"role": "user", "content": fact.question}], stream=True
        )
    )
    assert llm.requests[-1]["stream"] is True
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert pieces[: len(llm.streamed_pieces)] == llm.streamed_pieces  # token by token, as the LLM sent them
    assert len(llm.streamed_pieces) > 3
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.usage is not None and last.usage.completion_tokens == len(llm.streamed_pieces)


@pytest.mark.parametrize("stream", [False, True])
def test_when_the_llm_fails_the_corpus_still_answers(
    llm_server: Server, llm: ChatCompletionsDouble, built: Built, stream: bool
) -> None:
    llm.mode = "error"
    try:
        fact = built.corpus.facts[4]
        body = {"messages": [{"role": "user", "content": fact.question}], "stream": stream}
        r = httpx.post(
            llm_server.url + "/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=60,
        )
    finally:
        llm.mode = "ok"
    assert r.status_code == 200
    if stream:
        events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
        text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
        failure = events[-1]["generation_error"]
    else:
        text, failure = r.json()["choices"][0]["message"]["content"], r.json()["generation_error"]
    assert fact.answer in text  # the extractive answer
    assert "HTTP 500" in failure
