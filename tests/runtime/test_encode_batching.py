"""Dynamic batching of question encodings (server/encode_batcher.py): a batch encodes each
question to the vector it gets alone, concurrent callers each get their own answer, a question
that cannot be encoded fails only its caller and the next batch works, and /metrics shows the
batches. All on the real model's ONNX graph, the real built index and a real `oozo serve`."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
from typing import Any

import httpx
import numpy as np
import pytest

from oozo_runtime import versions
from oozo_runtime.onnx_encoder import OnnxEncoder
from oozo_runtime.server.encode_batcher import ENCODE_FAILED, EncodeBatcher, QueryEncodeError
from oozo_runtime.server.metrics import Metrics
from tests.runtime.conftest import Built
from tests.runtime.test_onnx_encoder import cosines, graph_folder

LONE_SURROGATE = "Who leads \ud800 Project Crimson Otter?"  # valid JSON (escaped), no tokenizer reads it


@pytest.fixture(scope="module")
def onnx(built: Built) -> OnnxEncoder:
    return OnnxEncoder(graph_folder(built), threads=2, spin_us=10)


def mixed_questions(built: Built) -> list[str]:
    """The corpus's questions, every sentence and heading of its chunks, whole chunks and pairs
    of chunks asked as questions (3 to over 200 tokens), shuffled: batches pad short
    questions a lot."""
    with open(built.index_dir / versions.CURRENT / versions.CHUNKS_FILE, encoding="utf-8") as fh:
        chunks = [json.loads(line)["text"] for line in fh]
    sentences = {s.strip() for c in chunks for s in re.split(r"(?<=[.?!])\s+|\n+", c) if s.strip()}
    pairs = [a + "\n" + b for a, b in itertools.pairwise(chunks[:41])]
    questions = [f.question for f in built.corpus.facts] + sorted(sentences) + chunks[:40] + pairs
    random.Random(15).shuffle(questions)
    return questions


def batch_metric(metrics: Metrics, suffix: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(f"rag_query_encode_batch_size_{suffix}", labels)
    return value or 0.0


def test_batched_question_vectors_equal_the_vectors_of_each_question_alone(
    built: Built, onnx: OnnxEncoder
) -> None:
    questions = mixed_questions(built)
    assert len(questions) >= 200, len(questions)
    lengths = [len(onnx.tokenizer.encode(q).ids) for q in questions]
    assert min(lengths) <= 8 and max(lengths) >= 200, (min(lengths), max(lengths))  # really mixed

    alone = np.vstack([onnx.encode_query(q) for q in questions])
    batched = np.vstack([onnx.encode_queries(questions[lo : lo + 32]) for lo in range(0, len(questions), 32)])

    agreement = cosines(batched, alone)
    assert agreement.min() >= 0.9999, (agreement.min(), questions[int(agreement.argmin())][:80])


async def _ask_before_the_encoder_starts(batcher: EncodeBatcher, questions: list[str]) -> list[Any]:
    """Every question is queued before the encoder thread starts, so all form one batch."""
    calls = [asyncio.ensure_future(batcher.encode_query(q)) for q in questions]
    await asyncio.sleep(0)  # each call has put its question on the queue
    calls[1].cancel()  # this caller went away before its batch was encoded
    await asyncio.sleep(0)
    batcher.start()
    return list(await asyncio.gather(*calls, return_exceptions=True))


def test_a_question_that_cannot_be_encoded_fails_only_its_caller_and_the_next_batch_works(
    built: Built, onnx: OnnxEncoder
) -> None:
    metrics = Metrics()
    batcher = EncodeBatcher(onnx.encode_queries, metrics)
    facts = built.corpus.facts[:8]
    questions = [f.question for f in facts]
    questions[4] = LONE_SURROGATE

    results = asyncio.run(_ask_before_the_encoder_starts(batcher, questions))

    assert isinstance(results[1], asyncio.CancelledError)
    error = results[4]
    assert isinstance(error, QueryEncodeError), error
    assert error.reason == ENCODE_FAILED and "\ud800" not in error.message and "Crimson" not in error.message
    for i in (0, 2, 3, 5, 6, 7):  # the others of the batch: each its own question's vector
        assert results[i].shape == (1, onnx.dimension)
        (agreement,) = cosines(results[i], onnx.encode_query(questions[i]))
        assert agreement >= 0.9999, (i, agreement)
    # one batch of the 7 callers still waiting, which failed and was encoded question by question
    assert batch_metric(metrics, "bucket", le="4.0") == 0
    assert batch_metric(metrics, "bucket", le="8.0") == 1
    assert metrics.registry.get_sample_value("rag_query_encode_batch_retries_total") == 1
    assert metrics.registry.get_sample_value("rag_query_encode_errors_total") == 1

    async def after() -> list[Any]:  # the encoder thread lives on: a failing batch, then a good one
        failing = await asyncio.gather(
            *(batcher.encode_query(LONE_SURROGATE) for _ in range(3)), return_exceptions=True
        )
        return [*failing, await batcher.encode_query(facts[0].question)]

    *failing, vector = asyncio.run(after())
    assert all(isinstance(e, QueryEncodeError) for e in failing), failing  # every caller told
    (agreement,) = cosines(vector, onnx.encode_query(facts[0].question))
    assert agreement >= 0.9999
    batcher.stop()


async def _ask_all(url: str, questions: list[str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        return await asyncio.gather(
            *(client.post("/api/query", json={"question": q, "top_k": 3}) for q in questions)
        )


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def test_concurrent_questions_are_encoded_in_batches_and_each_gets_its_own_answer(
    built: Built, serve: Any
) -> None:
    server = serve(built.index_dir, {"OOZO_ANSWER_CACHE_SIZE": "0"})  # every question is encoded
    server.wait_ready()
    facts = built.corpus.facts
    with httpx.Client(base_url=server.url, timeout=60) as client:
        alone = [client.post("/api/query", json={"question": f.question, "top_k": 3}) for f in facts]
        sequential = httpx.get(server.url + "/metrics").text
        escaped = json.dumps({"question": LONE_SURROGATE})  # as "\\ud800", the way a client can send it
        refused = client.post("/api/query", content=escaped, headers={"Content-Type": "application/json"})
    assert _metric(sequential, "rag_query_encode_batch_size_count") == len(facts)  # one by one: batches of 1
    assert _metric(sequential, 'rag_query_encode_batch_size_bucket{le="1.0"}') == len(facts)
    # half a surrogate pair never reaches the encoder: validation tells the caller what is wrong
    assert refused.status_code == 422 and "valid string" in refused.json()["error"], refused.text

    together = asyncio.run(_ask_all(server.url, [f.question for f in facts]))

    assert [r.status_code for r in together] == [200] * len(facts)
    for fact, one, batched in zip(facts, alone, together, strict=True):
        sources = [(s["document"], s["chunk"]) for s in batched.json()["sources"]]
        assert sources == [(s["document"], s["chunk"]) for s in one.json()["sources"]], fact.question
        assert sources[0][0] == fact.document and fact.answer in batched.json()["answer"], fact.question
    metrics = httpx.get(server.url + "/metrics").text
    batches = _metric(metrics, "rag_query_encode_batch_size_count") - len(facts)
    encoded = _metric(metrics, "rag_query_encode_batch_size_sum") - len(facts)
    assert encoded == len(facts)  # every question encoded once
    assert batches < len(facts), batches  # ... in fewer batches than questions


def test_hybrid_answers_through_the_encoder_thread_rank_as_the_retriever_does(
    built: Built, serve: Any, onnx: OnnxEncoder
) -> None:
    """Concurrent hybrid questions, encoded in batches by the encoder thread and searched in the
    pool (routes/query.py), get the sources of one in-process retriever call, fused scores
    included; a question no chunk shares a word with still gets its dense half."""
    from oozo_contract.defaults import DEFAULT_MODEL
    from oozo_runtime.retrieval import LoadedIndex, Retriever

    retriever = Retriever(onnx, LoadedIndex.load(built.index_dir, None, DEFAULT_MODEL))
    server = serve(built.index_dir, {"OOZO_ANSWER_CACHE_SIZE": "0"})
    server.wait_ready()
    questions = [f.question for f in built.corpus.facts] + ["budget", "zzqx nothing matches this"]
    answered = asyncio.run(_ask_all_in(server.url, questions, "hybrid"))
    for question, response in zip(questions, answered, strict=True):
        assert response.status_code == 200, response.text
        assert response.json()["mode"] == "hybrid"
        expected, _ = retriever.retrieve(question, 3, "hybrid")
        got = [(s["document"], s["chunk"], round(s["score"], 6)) for s in response.json()["sources"]]
        assert got == [(h.document, h.chunk, round(h.score, 6)) for h in expected], question


async def _ask_all_in(url: str, questions: list[str], mode: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        return await asyncio.gather(
            *(client.post("/api/query", json={"question": q, "top_k": 3, "mode": mode}) for q in questions)
        )
