"""Telegram bots: the runner (all bots in one asyncio loop), handlers, webhook route, health."""
