"""The OpenAI-compatible client and the prompts."""
