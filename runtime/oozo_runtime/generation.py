"""Turning hits into an answer: extractive, or an OpenAI-compatible chat completion.

An LLM failure never loses the retrieval: the caller maps GenerationError to 502 (upstream
error) or 504 (timeout) and still returns the sources.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.answers import SYSTEM_PROMPT, extractive_answer, grounded_prompt
from oozo_runtime.retrieval import Hit


class GenerationError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Generated:
    answer: str
    usage: dict[str, int] = field(default_factory=dict)


class Generator:
    provider = "extractive"

    async def generate(self, question: str, hits: Sequence[Hit]) -> Generated:
        return Generated(extractive_answer(question, hits))

    async def stream(self, question: str, hits: Sequence[Hit], usage: dict[str, int]) -> AsyncIterator[str]:
        """The answer in pieces as they are produced (one piece when nothing streams); `usage`
        is filled with the token counts the backend reports by the end."""
        generated = await self.generate(question, hits)
        usage.update(generated.usage)
        yield generated.answer

    async def aclose(self) -> None:
        return None


class OpenAIGenerator(Generator):
    provider = "openai"

    def __init__(self, settings: ServeSettings) -> None:
        from openai import AsyncOpenAI

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        self.settings = settings
        self.timeout = settings.llm_timeout_seconds
        self.client = AsyncOpenAI(
            api_key=key or "not-set",  # local servers (vLLM, Ollama) often need none
            base_url=settings.openai_base_url or None,
            timeout=self.timeout,
            max_retries=0,  # the caller is waiting; a retry would double the latency budget
        )

    def _request(self, question: str, hits: Sequence[Hit]) -> dict[str, Any]:
        return {
            "model": self.settings.openai_model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": grounded_prompt(question, hits)},
            ],
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
        }

    @contextmanager
    def _failures(self) -> Iterator[None]:
        """The client's exceptions as GenerationError: 504 for a timeout, 502 for the rest."""
        import openai

        try:
            yield
        except (TimeoutError, openai.APITimeoutError) as exc:
            raise GenerationError(f"the language model did not answer within {self.timeout:g}s", 504) from exc
        except openai.APIStatusError as exc:
            raise GenerationError(f"the language model returned HTTP {exc.status_code}", 502) from exc
        except openai.APIError as exc:
            raise GenerationError(f"the language model failed: {type(exc).__name__}", 502) from exc

    async def generate(self, question: str, hits: Sequence[Hit]) -> Generated:
        with self._failures():
            response = await asyncio.wait_for(
                self.client.chat.completions.create(**self._request(question, hits)),
                timeout=self.timeout + 1,
            )
        if not response.choices or response.choices[0].message.content is None:
            raise GenerationError("the language model returned no answer", 502)
        usage = {}
        if response.usage is not None:
            usage = {"prompt": response.usage.prompt_tokens, "completion": response.usage.completion_tokens}
        return Generated(response.choices[0].message.content.strip(), usage)

    async def stream(self, question: str, hits: Sequence[Hit], usage: dict[str, int]) -> AsyncIterator[str]:
        """The model's tokens as it sends them. The client's timeout bounds the wait for each
        piece; an error after the first piece still raises GenerationError (the caller has
        already started its answer and ends it with the reason)."""
        with self._failures():
            chunks = await self.client.chat.completions.create(
                **self._request(question, hits), stream=True, stream_options={"include_usage": True}
            )
            async for chunk in chunks:
                if chunk.usage is not None:
                    usage.update(prompt=chunk.usage.prompt_tokens, completion=chunk.usage.completion_tokens)
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

    async def aclose(self) -> None:
        await self.client.close()


def make_generator(settings: ServeSettings) -> Generator:
    return OpenAIGenerator(settings) if settings.generation_provider == "openai" else Generator()
