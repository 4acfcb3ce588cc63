"""One AsyncOpenAI client per process, built from settings.

`OPENAI_BASE_URL` points it at any OpenAI-compatible server (Ollama, vLLM, a test fake); a base URL
without a key is valid for local servers, so a placeholder key is sent then (the client insists on one).
`create_chat` asks for a JSON schema response_format and, from a server that refuses it with a 400 (an
older local server), asks again without it: the prompts describe the same JSON, and the replies are
checked either way. The refusal is remembered per model for the life of the process.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI, BadRequestError

from chatai.settings import get_settings

log = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).parent / "prompts"
_SCHEMA_REFUSED: set[str] = set()  # models whose server answered a response_format with 400


@lru_cache
def get_openai_client() -> AsyncOpenAI:
    settings = get_settings()
    return AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value() or "not-needed",
        base_url=settings.openai_base_url or None,
        timeout=60.0,
        max_retries=2,
    )


def reset_openai_client() -> None:
    """Forget the client (settings changed; tests point it at a fake server)."""
    get_openai_client.cache_clear()
    _SCHEMA_REFUSED.clear()


async def create_chat(**kwargs: Any) -> Any:
    """chat.completions.create, without response_format for a server known to refuse it."""
    client = get_openai_client()
    model = str(kwargs.get("model", ""))
    if "response_format" not in kwargs:
        return await client.chat.completions.create(**kwargs)
    if model in _SCHEMA_REFUSED:
        return await client.chat.completions.create(**{k: v for k, v in kwargs.items() if k != "response_format"})
    try:
        return await client.chat.completions.create(**kwargs)
    except BadRequestError as exc:
        log.warning("the LLM server refused response_format for model %s (%s); asking without it", model,
                    exc.status_code)
        plain = await client.chat.completions.create(**{k: v for k, v in kwargs.items() if k != "response_format"})
        _SCHEMA_REFUSED.add(model)
        return plain


@lru_cache
def load_prompt(name: str) -> str:
    """A prompt template from prompts/<name>.txt (kept out of code so it can be reviewed and tuned as text)."""
    return (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8")
