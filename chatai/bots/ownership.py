"""Which runner process owns which bot: Redis leases with a TTL, renewed by a heartbeat.

Why leases and not a static assignment: runners come and go (deploys, crashes). A lease key
`chatai:bots:lease:<bot id>` holds the owner's runner id and expires unless renewed, so a dead
runner's bots become free after one TTL and a live runner takes them. SET NX makes acquisition
exclusive; renew and release are compare-and-set scripts, so a runner can never extend or drop a
lease it lost. Runners also self-fence: a bot whose lease was not renewed in time stops polling
before the lease can expire in Redis (see BotWorker.lease_deadline).

Spreading: live runners register in a sorted set; a free bot is taken at once by its rendezvous-hash
preferred runner, and by any other live runner only after it stayed free for a grace period
(so a preferred runner that died does not strand its bots).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable, Sequence

import redis.asyncio as aioredis

LEASE_PREFIX = "chatai:bots:lease:"
RUNNERS_KEY = "chatai:bots:runners"  # zset runner_id -> last heartbeat (ms)
RUNNER_STATS_PREFIX = "chatai:bots:runner:"  # hash per runner, expires
CHUNK = 200  # leases per Redis call: a call for a thousand is one long step of the runner's event loop

_RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  elseif not holder then
    -- expired while we were slow, and nobody took it: still ours
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else
    table.insert(lost, key)
  end
end
return lost
"""

_RELEASE = """
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"""


def lease_key(bot_id: uuid.UUID | str) -> str:
    return f"{LEASE_PREFIX}{bot_id}"


def preferred_runner(bot_id: uuid.UUID | str, runners: Sequence[str]) -> str | None:
    """Rendezvous hashing: every runner computes the same answer from the same live set."""
    if not runners:
        return None
    return max(runners, key=lambda r: hashlib.blake2b(f"{bot_id}|{r}".encode(), digest_size=8).digest())


class Leases:
    def __init__(self, redis: aioredis.Redis, runner_id: str, ttl: float) -> None:
        self.redis = redis
        self.runner_id = runner_id
        self.ttl_ms = int(ttl * 1000)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def heartbeat(self, stats: dict[str, str | int | float]) -> None:
        now_ms = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(RUNNERS_KEY, {self.runner_id: now_ms})
            pipe.zremrangebyscore(RUNNERS_KEY, 0, now_ms - 10 * self.ttl_ms)
            key = RUNNER_STATS_PREFIX + self.runner_id
            pipe.hset(key, mapping={k: str(v) for k, v in stats.items()})
            pipe.pexpire(key, self.ttl_ms)
            await pipe.execute()

    async def live_runners(self) -> list[str]:
        now_ms = int(time.time() * 1000)
        return list(await self.redis.zrangebyscore(RUNNERS_KEY, now_ms - self.ttl_ms, "+inf"))

    async def leave(self) -> None:
        await self.redis.zrem(RUNNERS_KEY, self.runner_id)
        await self.redis.delete(RUNNER_STATS_PREFIX + self.runner_id)

    async def holders(self, bot_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str | None]:
        found: dict[uuid.UUID, str | None] = {}
        for start in range(0, len(bot_ids), CHUNK):  # one round trip each: the event loop runs in between
            part = bot_ids[start:start + CHUNK]
            found.update(zip(part, await self.redis.mget([lease_key(b) for b in part]), strict=True))
        return found

    async def acquire(self, bot_id: uuid.UUID) -> bool:
        return bool(await self.redis.set(lease_key(bot_id), self.runner_id, nx=True, px=self.ttl_ms))

    async def renew(self, bot_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Extend our leases; returns the bots whose lease we no longer hold."""
        ids = list(bot_ids)
        lost: set[uuid.UUID] = set()
        for start in range(0, len(ids), CHUNK):
            part = ids[start:start + CHUNK]
            keys = [lease_key(b) for b in part]
            gone = await self._renew(keys=keys, args=[self.runner_id, self.ttl_ms])
            by_key = dict(zip(keys, part, strict=True))
            lost.update(by_key[k] for k in gone)
        return lost

    async def release(self, bot_ids: Iterable[uuid.UUID]) -> None:
        ids = list(bot_ids)
        for start in range(0, len(ids), CHUNK):
            keys = [lease_key(b) for b in ids[start:start + CHUNK]]
            if keys:
                await self._release(keys=keys, args=[self.runner_id])
