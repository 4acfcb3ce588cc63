"""Redis: cache, rate limits and cross-process events."""

from __future__ import annotations

from functools import lru_cache

import redis.asyncio as aioredis

from chatai.embedded import redis_url as embedded_redis_url
from chatai.settings import get_settings


def redis_url() -> str:
    settings = get_settings()
    return settings.redis_url or embedded_redis_url(settings.redis_socket)


@lru_cache
def get_redis() -> aioredis.Redis:
    """One client (one connection pool) per process and event loop owner."""
    return aioredis.from_url(redis_url(), decode_responses=True, health_check_interval=30)


def reset_redis() -> None:
    get_redis.cache_clear()
