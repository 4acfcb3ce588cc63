"""One AsyncOpenAI client per process, built from settings.

`OPENAI_BASE_URL` points it at any OpenAI-compatible server (Ollama, vLLM, a test fake); a base URL
without a key is valid for local servers, so a placeholder key is sent then (the client insists on one).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from openai import AsyncOpenAI

from chatai.settings import get_settings

PROMPTS_DIR = Path(__file__).parent / "prompts"


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


@lru_cache
def load_prompt(name: str) -> str:
    """A prompt template from prompts/<name>.txt (kept out of code so it can be reviewed and tuned as text)."""
    return (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8")
