"""Fixed-window rate limits in Redis, one bucket per (purpose, key): never one bucket for all."""

from __future__ import annotations

from dataclasses import dataclass

from chatai.cache import get_redis


@dataclass(frozen=True)
class Limit:
    purpose: str
    max_hits: int
    window_seconds: int

    def _key(self, key: str) -> str:
        return f"rl:{self.purpose}:{key}"

    async def hit(self, key: str) -> int:
        """Count one attempt; returns the number of attempts in the current window."""
        redis = get_redis()
        async with redis.pipeline(transaction=True) as pipe:
            # SET NX starts the window (EXPIRE NX needs Redis 7; we support 6.2).
            pipe.set(self._key(key), 0, ex=self.window_seconds, nx=True)
            pipe.incr(self._key(key))
            _, count = await pipe.execute()
        return int(count)

    async def count(self, key: str) -> int:
        """Attempts in the current window (0 when none)."""
        value = await get_redis().get(self._key(key))
        return int(value) if value is not None else 0

    async def exceeded(self, key: str) -> bool:
        return await self.count(key) >= self.max_hits

    async def retry_after(self, key: str) -> int:
        ttl = await get_redis().ttl(self._key(key))
        return max(int(ttl), 1)

    async def reset(self, key: str) -> None:
        await get_redis().delete(self._key(key))
