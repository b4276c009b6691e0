"""The answer cache on real parts (issue 15, Answer cache): real `oozo serve` processes with the
real model and index, a real redis-server on loopback with a password, a real OpenAI-compatible
server double over HTTP. A repeated question is answered from the cache and says so; what an
answer depends on (top_k, sources, the index version) misses; answers expire; size 0 turns the
cache off; replicas share answers through Redis; a Redis that refuses us or is gone costs no
query its answer and never shows its password in the logs."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from devcluster.redisserver import RedisServer
from oozo_runtime.server.answer_cache_redis import RETRY_AFTER_SECONDS
from tests.runtime.conftest import Built, Server, copy_index
from tests.runtime.llm_double import ChatCompletionsDouble
from tests.runtime.test_mcp_endpoint import run as run_mcp


def ask(server: Server, question: str, **fields: Any) -> httpx.Response:
    return httpx.post(server.url + "/api/query", json={"question": question, **fields}, timeout=60)


def metric(server: Server, name: str, **labels: str) -> float:
    """The value of one sample of the server's /metrics (0 when the series is absent)."""
    text = httpx.get(server.url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def without_timings(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "timings"}


def redis_env(redis: RedisServer, password: str | None = None, **more: str) -> dict[str, str]:
    return {
        "OOZO_ANSWER_CACHE_REDIS_URL": redis.url,
        "OOZO_ANSWER_CACHE_REDIS_PASSWORD": password if password is not None else redis.password,
        **more,
    }


def test_a_repeated_question_is_answered_from_the_cache_with_the_same_body(built: Built, serve: Any) -> None:
    server = serve(built.index_dir)
    server.wait_ready()
    fact = built.corpus.facts[0]
    first = ask(server, fact.question)
    assert first.status_code == 200, first.text
    assert first.json()["timings"]["cache"] == "miss" and "retrieval_ms" in first.json()["timings"]
    assert first.json()["sources"][0]["document"] == fact.document

    again = ask(server, "  " + fact.question.upper().replace(" ", "   ") + " ")  # the same, normalised
    assert again.status_code == 200
    timings = again.json()["timings"]
    assert timings["cache"] == "hit" and timings["cache_ms"] >= 0
    assert "retrieval_ms" not in timings and "generation_ms" not in timings  # neither was paid
    assert without_timings(again.json()) == without_timings(first.json())
    assert metric(server, "rag_answer_cache_requests_total", result="hit") == 1
    assert metric(server, "rag_answer_cache_requests_total", result="miss") == 1

    # What the answer depends on misses: another top_k, sources or not.
    for fields in ({"top_k": 3}, {"return_sources": False}):
        other = ask(server, fact.question, **fields)
        assert other.status_code == 200 and other.json()["timings"]["cache"] == "miss", fields
    assert len(ask(server, fact.question, top_k=3).json()["sources"]) == 3  # now a hit, of its own
    assert ask(server, fact.question, return_sources=False).json()["sources"] == []
    assert metric(server, "rag_answer_cache_requests_total", result="hit") == 3
    # A refused request is not looked up, let alone cached.
    assert ask(server, fact.question, top_k=0).status_code == 422
    assert metric(server, "rag_answer_cache_requests_total", result="miss") == 3


def test_a_cached_answer_saves_the_language_model_call_and_a_failed_one_is_not_cached(
    built: Built, serve: Any
) -> None:
    with ChatCompletionsDouble() as llm:
        server = serve(
            built.index_dir,
            {
                "OOZO_GENERATION_PROVIDER": "openai",
                "OOZO_OPENAI_BASE_URL": llm.base_url,
                "OOZO_OPENAI_API_KEY": "sk-cache-test",
                "OOZO_LLM_TIMEOUT_SECONDS": "5",
            },
        )
        server.wait_ready()
        question = built.corpus.facts[1].question
        llm.mode = "error"
        failed = ask(server, question)
        assert failed.status_code == 502 and failed.json()["error"]
        llm.mode = "ok"
        answered = ask(server, question)  # the failure was not cached: the model is asked again
        assert answered.status_code == 200 and answered.json()["timings"]["cache"] == "miss"
        assert answered.json()["answer"] == f"Grounded answer to: {question} [1]"
        assert len(llm.requests) == 2
        tokens = metric(server, "rag_llm_tokens_total", kind="prompt")

        cached = ask(server, question)
        assert cached.json()["timings"]["cache"] == "hit"
        assert without_timings(cached.json()) == without_timings(answered.json())
        assert len(llm.requests) == 2  # no third call: the seconds and the tokens are saved
        assert metric(server, "rag_llm_tokens_total", kind="prompt") == tokens


def test_chat_and_the_mcp_ask_tool_answer_through_the_same_cache(built: Built, serve: Any) -> None:
    """One question asked through /api/query, then the OpenAI-compatible chat route, then the
    MCP `ask` tool: the language model is asked once; the other two are cache hits."""
    with ChatCompletionsDouble() as llm:
        server = serve(
            built.index_dir,
            {
                "OOZO_GENERATION_PROVIDER": "openai",
                "OOZO_OPENAI_BASE_URL": llm.base_url,
                "OOZO_OPENAI_API_KEY": "sk-cache-test",
            },
        )
        server.wait_ready()
        fact = built.corpus.facts[3]
        first = ask(server, fact.question)
        assert first.status_code == 200 and first.json()["timings"]["cache"] == "miss"

        chat = httpx.post(
            server.url + "/v1/chat/completions",
            json={"model": "oozo", "messages": [{"role": "user", "content": fact.question}]},
            timeout=60,
        )
        assert chat.status_code == 200, chat.text
        # The chat message is the answer followed by its sources (openai_shapes.py).
        assert chat.json()["choices"][0]["message"]["content"].startswith(first.json()["answer"])

        async def ask_tool(client: Any) -> Any:
            return await client.call_tool("ask", {"question": fact.question})

        tool = run_mcp(server, ask_tool)
        assert not tool.is_error
        assert tool.structured_content["answer"] == first.json()["answer"]
        assert len(llm.requests) == 1  # chat and MCP did not pay for the model again
        assert metric(server, "rag_answer_cache_requests_total", result="hit") == 2


def test_a_cached_answer_expires_after_its_ttl(built: Built, serve: Any, redis_server: RedisServer) -> None:
    server = serve(built.index_dir, redis_env(redis_server, OOZO_ANSWER_CACHE_TTL_SECONDS="2"))
    server.wait_ready()
    question = built.corpus.facts[2].question
    assert ask(server, question).json()["timings"]["cache"] == "miss"
    (key,) = redis_server.command("KEYS", "oozo:answer:*").split()
    assert 0 < int(redis_server.command("PTTL", key)) <= 2000  # Redis drops it itself
    assert ask(server, question).json()["timings"]["cache"] == "hit"
    time.sleep(2.5)
    # Expired in both tiers: the process's LRU and Redis.
    assert ask(server, question).json()["timings"]["cache"] == "miss"


def test_size_zero_without_redis_turns_the_cache_off(built: Built, serve: Any) -> None:
    server = serve(built.index_dir, {}, "--answer-cache-size", "0")
    server.wait_ready()
    question = built.corpus.facts[3].question
    for _ in range(2):
        timings = ask(server, question).json()["timings"]
        assert "cache" not in timings and "retrieval_ms" in timings
    assert metric(server, "rag_answer_cache_requests_total", result="hit") == 0
    assert metric(server, "rag_answer_cache_requests_total", result="miss") == 0


def test_two_replicas_share_answers_through_redis(
    built: Built, serve: Any, redis_server: RedisServer
) -> None:
    first = serve(built.index_dir, redis_env(redis_server))
    # The second keeps nothing in process: whatever it hits came from Redis.
    second = serve(built.index_dir, redis_env(redis_server, OOZO_ANSWER_CACHE_SIZE="0"))
    first.wait_ready()
    second.wait_ready()
    question = built.corpus.facts[4].question
    answered = ask(first, question)
    assert answered.json()["timings"]["cache"] == "miss"
    assert int(redis_server.command("DBSIZE")) == 1
    shared = ask(second, question)
    assert shared.status_code == 200 and shared.json()["timings"]["cache"] == "hit"
    assert without_timings(shared.json()) == without_timings(answered.json())
    assert metric(second, "rag_answer_cache_requests_total", result="hit") == 1
    assert metric(second, "rag_answer_cache_errors_total", backend="redis") == 0


def test_a_new_index_version_misses_what_the_old_one_answered(
    built: Built, serve: Any, redis_server: RedisServer, embedder: Any, tmp_path: Path
) -> None:
    from oozo_contract.index_settings import IndexSettings
    from oozo_runtime.indexing.build import build

    index_dir = copy_index(built, tmp_path / "index")
    old = serve(index_dir, redis_env(redis_server), "--version", built.result.version)
    old.wait_ready()
    question = built.corpus.facts[5].question
    assert ask(old, question).json()["timings"]["cache"] == "miss"

    docs = tmp_path / "docs"
    shutil.copytree(built.corpus.root, docs)
    (docs / "added.md").write_text("# Parking\n\nVisitors park in the north lot after 6 pm.\n")
    new_version = build(IndexSettings(source=str(docs), index_dir=index_dir), embedder=embedder).version
    assert new_version != built.result.version
    new = serve(index_dir, redis_env(redis_server), "--version", new_version)
    new.wait_ready()
    on_new = ask(new, question)
    assert on_new.json()["index_version"] == new_version
    assert on_new.json()["timings"]["cache"] == "miss"  # the shared Redis holds only the old version's
    assert ask(new, question).json()["timings"]["cache"] == "hit"
    assert ask(old, question).json()["index_version"] == built.result.version
    assert int(redis_server.command("DBSIZE")) == 2  # one answer per version


def test_a_wrong_redis_password_costs_no_answer_and_is_never_logged(
    built: Built, serve: Any, redis_server: RedisServer
) -> None:
    wrong = "wrong-password-5b1e93c7"
    server = serve(built.index_dir, redis_env(redis_server, password=wrong))
    server.wait_ready()
    question = built.corpus.facts[6].question
    answered = ask(server, question)
    assert answered.status_code == 200 and answered.json()["sources"]
    assert answered.json()["timings"]["cache"] == "miss"
    assert metric(server, "rag_answer_cache_errors_total", backend="redis") >= 1
    assert ask(server, question).json()["timings"]["cache"] == "hit"  # the process's own LRU still works
    assert int(redis_server.command("DBSIZE")) == 0
    server.stop()
    logs = server.logs()
    assert "Redis failed" in logs and "AuthenticationError" in logs
    assert wrong not in logs and redis_server.password not in logs


def test_a_stopped_redis_costs_no_answer_and_is_used_again_once_back(
    built: Built, serve: Any, redis_server: RedisServer
) -> None:
    server = serve(built.index_dir, redis_env(redis_server, OOZO_ANSWER_CACHE_SIZE="0"))
    server.wait_ready()
    facts = built.corpus.facts
    assert ask(server, facts[7].question).json()["timings"]["cache"] == "miss"
    assert ask(server, facts[7].question).json()["timings"]["cache"] == "hit"  # from Redis
    redis_server.stop()
    for fact in (facts[7], facts[8]):
        answered = ask(server, fact.question)
        assert answered.status_code == 200, answered.text
        assert answered.json()["sources"][0]["document"] == fact.document
        assert answered.json()["timings"]["cache"] == "miss"
    assert metric(server, "rag_answer_cache_errors_total", backend="redis") >= 1

    redis_server.start()  # back on the same port, empty: the server uses it again after its rest
    time.sleep(RETRY_AFTER_SECONDS + 0.5)
    assert ask(server, facts[9].question).json()["timings"]["cache"] == "miss"
    assert ask(server, facts[9].question).json()["timings"]["cache"] == "hit"  # from Redis again
    server.stop()
    assert "Redis failed" in server.logs() and redis_server.password not in server.logs()
