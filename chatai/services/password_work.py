"""Password hashing and checks off the event loop, in a bounded pool per process.

An argon2 check costs 64 MiB and about half a second of CPU. Run on the event loop, a flood of sign-ins
stalls every other client of the worker (and the bots, when they run in it). Here each check runs in one
of `password_check_concurrency` threads (argon2-cffi releases the GIL while it hashes), at most
`password_check_queue` more wait for a thread, and anything beyond that is refused at once with
PasswordChecksBusy: the caller says "try again in a few seconds" instead of queueing without bound.

Rate limits are not this module's job: callers reserve their attempt in Redis first (services/ratelimit),
so this pool only ever sees attempts a limit allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from chatai import security
from chatai.settings import get_settings

T = TypeVar("T")
# Checks run at a lower CPU priority than the event loop (Linux nice values are per thread): on a machine
# whose cores are all busy, the loop's short steps (a bot's answer, a page's event) still go first, and a
# sign-in, which a person waits on for half a second anyway, waits a little longer.
CHECK_NICENESS = 10


class PasswordChecksBusy(Exception):
    """Every thread is busy and the waiting line is full: nothing was checked."""


@dataclass(frozen=True)
class PoolStats:
    """Counts since the pool started: `checks` = password verifications (dummy ones included), `hashes` =
    new hashes; `running` is how many jobs run in a thread right now; `refused` = turned away as busy."""

    checks: int
    hashes: int
    running: int
    admitted: int
    refused: int


class PasswordPool:
    def __init__(self, *, workers: int, queue: int) -> None:
        self.workers = max(1, workers)
        self.capacity = self.workers + max(0, queue)
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="password-check",
                                            initializer=_lower_priority)
        self._lock = threading.Lock()
        self._admitted = 0  # running + waiting for a thread
        self._running = 0
        self._counts = {"checks": 0, "hashes": 0, "refused": 0}

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(checks=self._counts["checks"], hashes=self._counts["hashes"], running=self._running,
                             admitted=self._admitted, refused=self._counts["refused"])

    @asynccontextmanager
    async def seat(self) -> AsyncIterator[Seat]:
        """A place in the pool (a thread or the waiting line) for one job, taken before the caller does any
        other work for it (a database lookup): a flood is turned away before it costs anything else."""
        with self._lock:
            if self._admitted >= self.capacity:
                self._counts["refused"] += 1
                raise PasswordChecksBusy
            self._admitted += 1
        seat = Seat(self)
        try:
            yield seat
        finally:
            if seat.future is None:
                self._leave()

    async def run(self, kind: str, fn: Callable[..., T], *args: object) -> T:
        """Run fn(*args) in a thread; kind ("checks" or "hashes") is what it counts as once it starts."""
        async with self.seat() as seat:
            return await seat.run(kind, fn, *args)

    def _job(self, kind: str, fn: Callable[..., T], *args: object) -> T:
        with self._lock:
            self._counts[kind] += 1
            self._running += 1
        try:
            return fn(*args)
        finally:
            with self._lock:
                self._running -= 1

    def _leave(self, _future: Future | None = None) -> None:
        with self._lock:
            self._admitted -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not permitted or not Linux: run at normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CHECK_NICENESS)


class Seat:
    """One admitted job's place; `run` once."""

    def __init__(self, pool: PasswordPool) -> None:
        self.pool = pool
        self.future: Future | None = None

    async def run(self, kind: str, fn: Callable[..., T], *args: object) -> T:
        if self.future is not None:
            raise RuntimeError("a seat runs one job")
        self.future = self.pool._executor.submit(self.pool._job, kind, fn, *args)
        # The seat is given up when the job ends or is cancelled before it starts, not when the caller stops
        # waiting: a caller that went away must not make room while its check still holds a thread.
        self.future.add_done_callback(self.pool._leave)
        return await asyncio.wrap_future(self.future)


_pool: PasswordPool | None = None
_pool_lock = threading.Lock()


def default_concurrency() -> int:
    """Half the cores, at least one: the other half stays with the event loop (and the rest of the machine)."""
    return max(1, (os.cpu_count() or 2) // 2)


def pool() -> PasswordPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            settings = get_settings()
            _pool = PasswordPool(workers=settings.password_check_concurrency or default_concurrency(),
                                 queue=settings.password_check_queue)
        return _pool


def reset_pool() -> None:
    """A new pool from the current settings (tests change them); the old one finishes what it runs."""
    global _pool
    with _pool_lock:
        old, _pool = _pool, None
    if old is not None:
        old.shutdown()


def stats() -> PoolStats:
    return pool().stats()


def seat():  # noqa: ANN201 - PasswordPool.seat's context manager
    return pool().seat()


async def hash_password(password: str, seat: Seat | None = None) -> str:
    if seat is not None:
        return await seat.run("hashes", security.hash_password, password)
    return await pool().run("hashes", security.hash_password, password)


async def verify_password(password: str, password_hash: str, seat: Seat | None = None) -> bool:
    if seat is not None:
        return await seat.run("checks", security.verify_password, password, password_hash)
    return await pool().run("checks", security.verify_password, password, password_hash)


async def burn_password_check(password: str, seat: Seat | None = None) -> None:
    """The work of a check against an unknown account, so timing does not reveal which accounts exist."""
    if seat is not None:
        await seat.run("checks", security.burn_password_check, password)
    else:
        await pool().run("checks", security.burn_password_check, password)
