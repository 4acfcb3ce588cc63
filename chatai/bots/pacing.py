"""Sharing the runner's one event loop fairly: periodic passes over all bots in slices, and one lock per bot
being acted on."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

SLICE = 200  # bots per step of a periodic pass over all of them (see in_slices)

T = TypeVar("T")


async def in_slices(items: Sequence[T], size: int | None = None) -> AsyncIterator[Sequence[T]]:
    """Successive slices of `items` (SLICE by default), letting the event loop run between them. Periodic
    passes over a thousand bots share the loop with message handling: done in one go, every message
    arriving meanwhile waits for the whole pass."""
    size = size or SLICE
    for start in range(0, len(items), size):
        if start:
            await asyncio.sleep(0)
        yield items[start:start + size]


def slices(items: Sequence[T], size: int | None = None) -> list[Sequence[T]]:
    size = size or SLICE
    return [items[start:start + size] for start in range(0, len(items), size)]


class BotLocks:
    """One lock per bot being acted on (a command, or reconcile), so two actions on the same bot never
    interleave; dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[uuid.UUID, list[Any]] = {}  # bot id -> [lock, holders and waiters]

    def busy(self, bot_id: uuid.UUID) -> bool:
        return bot_id in self._locks

    @contextlib.asynccontextmanager
    async def hold(self, bot_id: uuid.UUID) -> AsyncIterator[None]:
        entry = self._locks.setdefault(bot_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(bot_id, None)


class RatePacer:
    """At most `rate` calls a second for the whole runner, in the order callers arrive (each caller reserves
    the next free instant). Why: Telegram rate-limits setWebhook, and ten thousand bots starting at once
    would otherwise all ask within seconds and be refused (429) together."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._next = 0.0
        self.granted = 0

    def reserve(self) -> float:
        """Reserve the next turn: seconds until it comes (0: now)."""
        self.granted += 1
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        return slot - now

    async def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
