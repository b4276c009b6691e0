"""Turning hits into an answer: extractive, or an OpenAI-compatible chat completion.

An LLM failure never loses the retrieval: the caller maps GenerationError to 502 (upstream
error) or 504 (timeout) and still returns the sources.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from oozo_contract.settings import ServeSettings
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

    async def generate(self, question: str, hits: Sequence[Hit]) -> Generated:
        import openai

        try:
            response = await asyncio.wait_for(
                self.client.chat.completions.create(
                    model=self.settings.openai_model,
                    messages=[
                        {"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": grounded_prompt(question, hits)},
                    ],
                    temperature=self.settings.temperature,
                    max_tokens=self.settings.max_tokens,
                ),
                timeout=self.timeout + 1,
            )
        except (TimeoutError, openai.APITimeoutError) as exc:
            raise GenerationError(f"the language model did not answer within {self.timeout:g}s", 504) from exc
        except openai.APIStatusError as exc:
            raise GenerationError(f"the language model returned HTTP {exc.status_code}", 502) from exc
        except openai.APIError as exc:
            raise GenerationError(f"the language model failed: {type(exc).__name__}", 502) from exc
        if not response.choices or response.choices[0].message.content is None:
            raise GenerationError("the language model returned no answer", 502)
        usage = {}
        if response.usage is not None:
            usage = {"prompt": response.usage.prompt_tokens, "completion": response.usage.completion_tokens}
        return Generated(response.choices[0].message.content.strip(), usage)

    async def aclose(self) -> None:
        await self.client.close()


def make_generator(settings: ServeSettings) -> Generator:
    return OpenAIGenerator(settings) if settings.generation_provider == "openai" else Generator()
