"""The LLM's answer as a structured result, streamed: whether the passages contain the answer, the numbers
of the passages it used, and the answer itself.

Why structured: a model told "say you don't know" says so in words, and words start no handoff and are
charged like an answer. Here the verdict is data. The request asks for a JSON schema response_format (the
OpenAI form, which vLLM, llama.cpp's server, Ollama's OpenAI endpoint and LM Studio accept); the system
prompt describes the same object, so a server that ignores response_format still gets asked for it.

Streaming: the "answer" field's text is yielded as it arrives (JsonFieldStream), the outcome is decided at
the end (`judge`):
- "answer": the passages contain the answer, it cites at least one passage and only passages it was given;
- "dont_know": the model says the passages do not contain the answer, or it refused, or it cites no
  passage, or a passage number that was not given, or its answer is empty: not sure, so a person answers;
- "failed": the reply is not the object asked for (malformed or cut JSON, missing or mistyped keys), or the
  call failed (outage, a timeout mid-stream): the caller answers without the LLM (extractive quotes).
The schema puts the verdict first, so a "not in the passages" reply streams no text at all. When text was
streamed and the final outcome is not "answer" (a model that writes the answer before the verdict, a bad
citation, a failure mid-stream), the final Answer is authoritative: a channel that showed the streamed text
replaces it with the final text (the dashboard playground does; Telegram sends only the final text).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from chatai.llm.client import create_chat
from chatai.rag.chunking import estimate_tokens
from chatai.rag.json_field_stream import JsonFieldStream

log = logging.getLogger(__name__)

VERDICT_KEY = "answer_in_passages"
CITATIONS_KEY = "passages_used"
ANSWER_KEY = "answer"
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        VERDICT_KEY: {"type": "boolean"},
        CITATIONS_KEY: {"type": "array", "items": {"type": "integer"}},
        ANSWER_KEY: {"type": "string"},
    },
    "required": [VERDICT_KEY, CITATIONS_KEY, ANSWER_KEY],
    "additionalProperties": False,
}
RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "grounded_answer", "strict": True, "schema": ANSWER_SCHEMA},
}
# The longest silence accepted while the model streams (and before its first byte): past it the answer
# falls back to quotes instead of keeping the user waiting on a stalled server.
READ_TIMEOUT_SECONDS = 30.0


@dataclass
class LLMResult:
    outcome: str  # "answer" | "dont_know" | "failed"
    reason: str  # why: "cited" | "not_in_passages" | "refusal" | "no_citation" | "citation_out_of_range" |
    #              "empty_answer" | "malformed" | "error"
    text: str = ""
    cited: list[int] = field(default_factory=list)  # 1-based passage numbers, sorted, each once
    streamed: bool = False  # answer text was yielded before the outcome was known
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def judge(values: dict[str, Any], *, well_formed: bool, refusal: str, passages: int) -> LLMResult:
    """The outcome of one complete reply; `passages` is how many numbered passages the model was given."""
    if refusal.strip():
        return LLMResult("dont_know", "refusal")
    verdict, cited, text = values.get(VERDICT_KEY), values.get(CITATIONS_KEY), values.get(ANSWER_KEY)
    if (not well_formed or not isinstance(verdict, bool) or not isinstance(text, str)
            or not isinstance(cited, list) or not all(_is_int(n) for n in cited)):
        return LLMResult("failed", "malformed")
    if not verdict:
        return LLMResult("dont_know", "not_in_passages")
    if not text.strip():
        return LLMResult("dont_know", "empty_answer")
    if not cited:
        return LLMResult("dont_know", "no_citation")
    if any(not 1 <= n <= passages for n in cited):
        return LLMResult("dont_know", "citation_out_of_range")
    return LLMResult("answer", "cited", text=text.strip(), cited=sorted(set(cited)))


async def generate(*, messages: list[dict[str, str]], model: str, temperature: float, max_tokens: int,
                   passages: int) -> AsyncIterator[str | LLMResult]:
    """Answer text as it is generated, then the LLMResult (always last, exactly once; never raises for a
    failed call: that is the "failed" outcome)."""
    reader = JsonFieldStream(ANSWER_KEY)
    raw: list[str] = []
    refusal: list[str] = []
    streamed = False
    prompt_tokens = completion_tokens = 0
    try:
        stream = await create_chat(
            model=model, messages=messages, temperature=temperature, max_tokens=max_tokens,
            response_format=RESPONSE_FORMAT, stream=True, stream_options={"include_usage": True},
            timeout=httpx.Timeout(60.0, read=READ_TIMEOUT_SECONDS),
        )
        async for chunk in stream:
            if chunk.usage is not None:
                prompt_tokens, completion_tokens = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
            for choice in chunk.choices:
                delta = choice.delta
                if delta is None:
                    continue
                if delta.refusal:
                    refusal.append(delta.refusal)
                if not delta.content:
                    continue
                raw.append(delta.content)
                text = reader.feed(delta.content)
                # A verdict of "not in the passages" already read means the text is no answer: keep it back.
                if text and reader.values.get(VERDICT_KEY) is not False:
                    streamed = True
                    yield text
    except Exception as exc:  # noqa: BLE001 - an outage or a stall must still give the user something
        log.warning("LLM call failed (%s: %s); answering without it", type(exc).__name__, exc)
        yield LLMResult("failed", "error", streamed=streamed, prompt_tokens=prompt_tokens,
                        completion_tokens=completion_tokens)
        return
    result = judge(reader.values, well_formed=reader.ok, refusal="".join(refusal), passages=passages)
    result.streamed = streamed
    if not completion_tokens:  # servers that send no usage: estimate rather than record zero
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages)
        completion_tokens = estimate_tokens("".join(raw) + "".join(refusal))
    result.prompt_tokens, result.completion_tokens = prompt_tokens, completion_tokens
    if result.outcome != "answer":
        log.info("LLM answer not used: %s (%s)", result.outcome, result.reason)  # never the text: user data
    yield result
