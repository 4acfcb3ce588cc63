"""A tab whose web worker died reconnects to another worker with its own state, not a blank one.

With several workers, Reflex's RedisTokenManager records in Redis which worker holds each tab's socket
(kept for an hour) and treats a second connection with the same tab token as a duplicated browser tab: it
hands that tab a NEW token, i.e. a fresh, empty state. A worker killed with SIGKILL (out of memory, a crash)
never clears its records, so every tab it served came back blank on the surviving worker
(tests/e2e/test_scale_out.py). Here each worker keeps a short-lived "alive" key in Redis; a connection whose
token is recorded for a worker that is no longer alive takes the token over instead of getting a new one.
A real duplicated tab (its first socket's worker alive) still gets a new token, after up to ALIVE_TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle

ALIVE_TTL_SECONDS = 3
_REFRESH_SECONDS = 1.0
_ALIVE_PREFIX = "chatai_web_worker_alive_"


async def _beat(manager) -> None:  # noqa: ANN001 - Reflex's RedisTokenManager
    with contextlib.suppress(Exception):  # Redis briefly away: the next beat retries
        await manager.redis.set(_ALIVE_PREFIX + manager.instance_id, b"1", ex=ALIVE_TTL_SECONDS)


async def _keep_alive(manager) -> None:  # noqa: ANN001
    while True:
        await asyncio.sleep(_REFRESH_SECONDS)
        await _beat(manager)


async def _holder_gone(manager, token: str) -> bool:  # noqa: ANN001
    """True when the token's socket record names another worker that has stopped beating."""
    raw = await manager.redis.get(manager._get_redis_key(token))
    if raw is None:
        return False
    holder = pickle.loads(raw).instance_id  # noqa: S301 - Reflex's own record in our Redis
    if holder == manager.instance_id:
        return False
    deadline = asyncio.get_running_loop().time() + ALIVE_TTL_SECONDS + _REFRESH_SECONDS
    while await manager.redis.exists(_ALIVE_PREFIX + holder):
        if asyncio.get_running_loop().time() > deadline:
            return False  # alive: a genuine second tab
        if await manager.redis.get(manager._get_redis_key(token)) != raw:
            return False  # the old socket closed (a page reload): Reflex's path links the token as usual
        await asyncio.sleep(0.2)
    return True


def install() -> None:
    from reflex.utils.token_manager import RedisTokenManager

    if getattr(RedisTokenManager, "_chatai_takeover", False):
        return
    link = RedisTokenManager.link_token_to_sid

    async def link_token_to_sid(self, token: str, sid: str):  # noqa: ANN001, ANN202 - Reflex's signature
        if getattr(self, "_chatai_alive_task", None) is None:
            self._chatai_alive_task = asyncio.create_task(_keep_alive(self))
            await _beat(self)  # alive before this worker records any socket
        # Redis trouble here: Reflex's own path below decides, and logs it.
        with contextlib.suppress(Exception):
            if await _holder_gone(self, token):
                await self.redis.delete(self._get_redis_key(token))
        return await link(self, token, sid)

    RedisTokenManager.link_token_to_sid = link_token_to_sid
    RedisTokenManager._chatai_takeover = True
