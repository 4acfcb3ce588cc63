"""HTTP pools the runner's bots share (one SSL context, a few pools instead of an httpx client per bot)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable

from telegram.request import HTTPXRequest


class SharedRequest(HTTPXRequest):
    """A pool many bots use; a bot shutting down must not close it (the runner does)."""

    async def shutdown(self) -> None:
        return None

    async def close(self) -> None:
        await super().shutdown()


class PoolShards:
    """HTTP pools shared by bots, a bot always in the same shard (by id).

    Not one pool for all: httpcore scans every connection of a pool on each request and again when it
    ends (a readability syscall per idle connection, and a quadratic idle count), which with a thousand
    long polls, or 128 idle send connections after a burst, cost more CPU than the requests themselves.
    Not one per bot: an httpx client per bot costs ~10 KB more each.
    """

    def __init__(self, count: int, make: Callable[[], SharedRequest]) -> None:
        self._count = count
        self._make = make
        self._pools: dict[int, SharedRequest] = {}

    def for_bot(self, bot_id: uuid.UUID) -> SharedRequest:
        slot = bot_id.int % self._count
        pool = self._pools.get(slot)
        if pool is None:
            pool = self._pools[slot] = self._make()
        return pool

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            with contextlib.suppress(Exception):
                await pool.close()
