"""Admission to the runner's database pool: work waits for a free connection here, never inside the pool.

Why: SQLAlchemy's pool makes a checkout wait up to `pool_timeout` and then raises. Under CPU contention
(another job holding most of the machine) statements take longer, so with a thousand bots answering at once
the queue in front of the pool grew until checkouts timed out: updates "not answered yet", bots flipped to
'error', recovery sweeps re-loading what was still in flight, each failure costing more CPU than the answer
itself. Here a database step of the answer path first takes one of `slots` admissions (an asyncio
semaphore, FIFO, no timeout), sized so that every admitted step finds a connection free at once. A busy
database then slows the runner down (steps queue here, in order) instead of making it fail.

Sizing: `slots` = pool size + overflow - `reserve`. The reserve keeps connections for what must not queue
behind the answers (the write-behind of 'answered' marks: one statement at a time, see writeback.py) and
for a step that opens a second connection while it holds one (admitted once per task: a nested step of
the same task does not wait for a slot it would be waiting on itself).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

RESERVE = 2  # connections outside admission: the write-behind's one statement, and one nested step


class Admission:
    """FIFO admission to `slots` database connections; counts what it did (tests, bench)."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("admission needs at least one slot")
        self.slots = slots
        self._free = asyncio.Semaphore(slots)
        self._holders: dict[asyncio.Task, int] = {}  # task -> depth of its admitted steps
        self._turns: dict[object, list] = {}  # hot-row key -> [lock, users]
        self.in_use = 0
        self.peak_in_use = 0
        self.waiting = 0
        self.peak_waiting = 0
        self.admitted = 0
        self.queued = 0  # admissions that had to wait for a slot

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one admission for the body (a connection's checkout to its return)."""
        task = asyncio.current_task()
        if task is not None and task in self._holders:  # nested step of an admitted task: uses the reserve
            self._holders[task] += 1
            try:
                yield
            finally:
                self._holders[task] -= 1
            return
        if self._free.locked():
            self.queued += 1
        self.waiting += 1
        self.peak_waiting = max(self.peak_waiting, self.waiting)
        try:
            await self._free.acquire()
        finally:
            self.waiting -= 1
        self.admitted += 1
        self.in_use += 1
        self.peak_in_use = max(self.peak_in_use, self.in_use)
        if task is not None:
            self._holders[task] = 1
        try:
            yield
        finally:
            if task is not None:
                self._holders.pop(task, None)
            self.in_use -= 1
            self._free.release()

    def holds(self) -> bool:
        """Whether the current task is inside an admitted step (it must not wait on work that needs a slot)."""
        task = asyncio.current_task()
        return task is not None and task in self._holders

    @contextlib.asynccontextmanager
    async def turn(self, key: object) -> AsyncIterator[None]:
        """A slot for a statement that writes one hot row (`key`: the account every answer of an owner
        charges): one such step per key at a time waits for a slot, the others wait here holding none.
        Many steps waiting on the same row lock inside PostgreSQL would each hold a connection doing
        nothing, and on a starved machine the row's lock is handed from backend to backend at the pace of
        the scheduler: the pool would fill with waiters while the other steps (storing, saving replies)
        could not get a connection."""
        entry = self._turns.get(key)
        if entry is None:
            entry = self._turns[key] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0], self.slot():
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._turns.pop(key, None)

    def stats(self) -> dict[str, int]:
        return {"slots": self.slots, "in_use": self.in_use, "peak_in_use": self.peak_in_use, "waiting": self.waiting,
                "peak_waiting": self.peak_waiting, "admitted": self.admitted, "queued": self.queued}


def slots_for(pool_size: int, max_overflow: int) -> int:
    """Admissions for a pool of `pool_size` + `max_overflow` connections (at least one)."""
    return max(1, pool_size + max_overflow - RESERVE)
