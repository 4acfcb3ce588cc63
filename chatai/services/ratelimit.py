"""Fixed-window rate limits in Redis, one bucket per (purpose, key): never one bucket for all.

`reserve` takes a slot in one or several limits in a single atomic step BEFORE the work it guards (a
password check), so no amount of concurrency lets more attempts through than a limit allows: a check and
then a count would let every request in flight pass the check before any of them is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatai.cache import get_redis

# KEYS: the buckets; ARGV: max_hits and window_seconds of each, in pairs. Either every bucket gets one more
# attempt (0), or none does and the 1-based index of the first full bucket comes back.
_RESERVE = """
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[2 * i - 1]) then
    return i
  end
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'EX', tonumber(ARGV[2 * i]), 'NX')
  redis.call('INCR', key)
end
return 0
"""
# Gives a slot back (the guarded work did not run, or succeeded and is not a failure): never below 0, and
# never brings back a bucket whose window has ended.
_RELEASE = """
for _, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count > 0 then
    redis.call('DECR', key)
  end
end
return 0
"""


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


@dataclass(frozen=True)
class Refused:
    """The limit that was full, and the seconds until its window ends."""

    limit: Limit
    retry_after: int


async def reserve(*slots: tuple[Limit, str]) -> Refused | None:
    """One attempt more in every (limit, key) at once, or in none of them: None when the slots are taken,
    else the first full limit. Atomic (one Lua script), so concurrent callers never overshoot a limit."""
    keys = [limit._key(key) for limit, key in slots]
    args = [value for limit, _ in slots for value in (limit.max_hits, limit.window_seconds)]
    full = int(await get_redis().eval(_RESERVE, len(keys), *keys, *args))
    if not full:
        return None
    limit, key = slots[full - 1]
    return Refused(limit=limit, retry_after=await limit.retry_after(key))


async def release(*slots: tuple[Limit, str]) -> None:
    """Give back slots taken by `reserve`."""
    keys = [limit._key(key) for limit, key in slots]
    if keys:
        await get_redis().eval(_RELEASE, len(keys), *keys)
