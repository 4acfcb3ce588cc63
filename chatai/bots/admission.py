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
from collections import deque
from collections.abc import AsyncIterator

RESERVE = 2  # connections outside admission: the write-behind's one statement, and one nested step
# Steps writing one hot row at once (see `turn`). One at a time made every charge of an owner wait for the
# previous one's whole trip through this event loop (result read, lock handed over, next statement sent):
# with 1,000 bots of one owner at 100 answers/s that queue, not the statements, was most of the reply
# overhead (bench.bots_10k --stages: p50 167 ms, 140 of them waiting here). A few at once let PostgreSQL
# hand the row lock from one statement to the next while this loop is busy, and still keep most of the
# pool for the other steps when the row is slow.
HOT_ROW_WRITERS = 3
URGENT_RUN = 8  # urgent hot-row steps granted in a row before one that is not (see Admission.turn)


class Admission:
    """FIFO admission to `slots` database connections; counts what it did (tests, bench)."""

    def __init__(self, slots: int, *, hot_row_writers: int = HOT_ROW_WRITERS) -> None:
        if slots < 1:
            raise ValueError("admission needs at least one slot")
        self.slots = slots
        self.hot_row_writers = max(1, min(hot_row_writers, slots))
        self.urgent_first = True  # False: one FIFO queue per hot row (bench.bots_10k --compare-before)
        self._free = asyncio.Semaphore(slots)
        self._holders: dict[asyncio.Task, int] = {}  # task -> depth of its admitted steps
        self._turns: dict[object, _HotRow] = {}  # hot-row key -> its writers and waiters
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
    async def turn(self, key: object, *, urgent: bool = False) -> AsyncIterator[None]:
        """A slot for a statement that writes one hot row (`key`: the account every answer of an owner
        charges): at most `hot_row_writers` such steps per key wait for a slot, the others wait here holding
        none. Many steps waiting on the same row lock inside PostgreSQL would each hold a connection doing
        nothing, and on a starved machine the row's lock is handed from backend to backend at the pace of
        the scheduler: the pool would fill with waiters while the other steps (storing, saving replies)
        could not get a connection. A few (HOT_ROW_WRITERS) keep the row busy without that.

        `urgent`: a step an answer waits for (the reservation before it is sent) goes before the waiting
        steps that are not (settling an answer already sent), at most URGENT_RUN of them in a row, so a
        settle is delayed, never starved."""
        row = self._turns.get(key)
        if row is None:
            row = self._turns[key] = _HotRow(self.hot_row_writers)
        row.users += 1
        try:
            await row.acquire(urgent and self.urgent_first)
            try:
                async with self.slot():
                    yield
            finally:
                row.release()
        finally:
            row.users -= 1
            if row.users == 0:
                self._turns.pop(key, None)

    def stats(self) -> dict[str, int]:
        return {"slots": self.slots, "in_use": self.in_use, "peak_in_use": self.peak_in_use, "waiting": self.waiting,
                "peak_waiting": self.peak_waiting, "admitted": self.admitted, "queued": self.queued}


class _HotRow:
    """The writers of one hot row: `free` places, and two FIFO queues of waiters (urgent ones first)."""

    def __init__(self, writers: int) -> None:
        self.free = writers
        self.users = 0  # holding or waiting: the entry is dropped at 0
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._later: deque[asyncio.Future[None]] = deque()
        self._urgent_run = 0  # urgent grants in a row while a later step waited

    async def acquire(self, urgent: bool) -> None:
        if self.free > 0 and not self._urgent and (urgent or not self._later):
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._later
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted as it was cancelled: pass the place on
                self.release()
            else:
                with contextlib.suppress(ValueError):  # release() may have dropped it already
                    queue.remove(waiter)
            raise

    def release(self) -> None:
        later_first = bool(self._later) and (not self._urgent or self._urgent_run >= URGENT_RUN)
        for queue in (self._later, self._urgent) if later_first else (self._urgent, self._later):
            while queue:
                waiter = queue.popleft()
                if waiter.done():  # cancelled while waiting
                    continue
                if queue is self._later or not self._later:
                    self._urgent_run = 0
                else:
                    self._urgent_run += 1
                waiter.set_result(None)
                return
        self.free += 1


def slots_for(pool_size: int, max_overflow: int) -> int:
    """Admissions for a pool of `pool_size` + `max_overflow` connections (at least one)."""
    return max(1, pool_size + max_overflow - RESERVE)
