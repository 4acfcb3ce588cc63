"""Parse slots shared fairly by owners: who may start a parse child now, and who goes next.

Why: parse children (parse_process.py) were one pool of 4 per process for everyone. One owner's six
hostile DOCX files held all four for minutes, and another owner's one-line .txt waited 206 s. Now an
owner holds at most its share of the slots and always leaves one to the others, so a file of an owner
with nothing running starts at once; when a slot frees up it goes to the waiting owner with the fewest
parses running, then to the one served least recently, then to the earliest request (so a queue of one
owner's files never starves a newcomer). The number of slots also bounds the memory of all children
together: each may use PARSE_MEMORY_MB, and no more start than fit in PARSE_MEMORY_TOTAL_MB.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

MAX_REMEMBERED_OWNERS = 10_000


class QueueFull(Exception):
    """The owner already has `limit` parses waiting: each holds its file in memory, so the queue is bounded."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} parses waiting")
        self.limit = limit


@dataclass
class Grant:
    """One parse that got a slot: whose, whether it had to queue, and the slots' state at that moment."""

    owner: str
    queued: bool
    running: dict[str, int]
    waiting: dict[str, int]


@dataclass
class _Waiter:
    owner: str
    order: int
    future: asyncio.Future[None] = field(repr=False)


def slot_counts(*, concurrency: int, memory_total_mb: int, memory_mb: int, per_owner: int) -> tuple[int, int]:
    """(slots, share): children at once (memory bounds them too), and the most one owner may hold (one
    slot always stays free for the others when there are two or more)."""
    slots = max(1, min(concurrency, memory_total_mb // max(1, memory_mb)))
    share = max(1, min(per_owner, slots - 1)) if slots > 1 else 1
    return slots, share


class FairSlots:
    """`async with slots.hold(owner):` around a parse; QueueFull when the owner already has `max_waiting`
    parses waiting (unless bounded=False: a caller whose own queue is bounded). Not thread-safe: one per
    event loop."""

    def __init__(self, slots: int, share: int, *, max_waiting: int = 1000, history: int = 1000) -> None:
        self.slots = max(1, slots)
        self.share = max(1, min(share, self.slots))
        self.max_waiting = max_waiting  # per owner
        self.running: dict[str, int] = {}
        self._waiting: list[_Waiter] = []
        self._order = itertools.count()
        self._served: dict[str, int] = {}  # owner -> sequence number of its latest grant
        self.grants: list[Grant] = []  # the most recent grants, for tests and the bench
        self._history = history

    @property
    def busy(self) -> int:
        return sum(self.running.values())

    def waiting(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for waiter in self._waiting:
            counts[waiter.owner] = counts.get(waiter.owner, 0) + 1
        return counts

    def _may_start(self, owner: str) -> bool:
        return self.busy < self.slots and self.running.get(owner, 0) < self.share

    def _take(self, owner: str, *, queued: bool) -> None:
        self.running[owner] = self.running.get(owner, 0) + 1
        self._served[owner] = next(self._order)
        self.grants.append(Grant(owner, queued, dict(self.running), self.waiting()))
        del self.grants[:-self._history]

    def _release(self, owner: str) -> None:
        self.running[owner] -= 1
        if not self.running[owner]:
            del self.running[owner]
        if len(self._served) > MAX_REMEMBERED_OWNERS:  # forget idle owners, keep the active ones' turns
            active = set(self.running) | {w.owner for w in self._waiting}
            self._served = {o: n for o, n in self._served.items() if o in active}
        self._wake()

    def _wake(self) -> None:
        """Hand free slots to waiters: fewest running first, then least recently served, then the earliest
        request."""
        while self.busy < self.slots:
            eligible = [w for w in self._waiting if self.running.get(w.owner, 0) < self.share]
            if not eligible:
                return
            chosen = min(eligible, key=lambda w: (self.running.get(w.owner, 0), self._served.get(w.owner, -1),
                                                  w.order))
            self._waiting.remove(chosen)
            self._take(chosen.owner, queued=True)
            chosen.future.set_result(None)

    @contextlib.asynccontextmanager
    async def hold(self, owner: str, *, bounded: bool = True) -> AsyncIterator[None]:
        if self._may_start(owner) and not any(w.owner == owner for w in self._waiting):
            self._take(owner, queued=False)
        else:
            if bounded and self.waiting().get(owner, 0) >= self.max_waiting:
                raise QueueFull(self.max_waiting)
            waiter = _Waiter(owner, next(self._order), asyncio.get_running_loop().create_future())
            self._waiting.append(waiter)
            try:
                await waiter.future
            except BaseException:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
                elif waiter.future.done() and not waiter.future.cancelled():
                    self._release(owner)  # granted just as it was cancelled: hand the slot on
                raise
        try:
            yield
        finally:
            self._release(owner)
