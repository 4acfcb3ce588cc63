"""The password pool's bookkeeping: at most `workers` jobs run, `queue` more wait, the rest are refused at
once; a caller that stops waiting keeps its seat until its job has really ended (no thread is freed by it)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from chatai import security
from chatai.services.password_work import PasswordChecksBusy, PasswordPool


@pytest.fixture
def small_pool():
    pool = PasswordPool(workers=1, queue=1)
    yield pool
    pool.shutdown()


def _holder():
    started, gate = threading.Event(), threading.Event()

    def hold():
        started.set()
        gate.wait()
        return "held"

    return started, gate, hold


async def test_one_runs_one_waits_the_next_is_refused_and_counted(small_pool):
    started, gate, hold = _holder()
    running = asyncio.create_task(small_pool.run("hashes", hold))
    await asyncio.to_thread(started.wait)
    waiting = asyncio.create_task(small_pool.run("checks", lambda: "waited"))
    await asyncio.sleep(0)  # the waiting job takes its seat
    with pytest.raises(PasswordChecksBusy):
        await small_pool.run("checks", lambda: "refused")
    stats = small_pool.stats()
    assert (stats.running, stats.admitted, stats.refused, stats.checks) == (1, 2, 1, 0)
    gate.set()
    assert await running == "held" and await waiting == "waited"
    stats = small_pool.stats()
    assert (stats.running, stats.admitted, stats.hashes, stats.checks) == (0, 0, 1, 1)


async def test_a_caller_that_goes_away_keeps_its_seat_until_its_job_ends(small_pool):
    started, gate, hold = _holder()
    caller = asyncio.create_task(small_pool.run("hashes", hold))
    await asyncio.to_thread(started.wait)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert small_pool.stats().admitted == 1  # the thread is still busy with it
    done = threading.Event()
    small_pool._executor.submit(done.set)  # queued behind the held job: runs once it ends
    gate.set()
    await asyncio.to_thread(done.wait)
    assert small_pool.stats().admitted == 0


async def test_a_seat_given_up_before_its_job_frees_its_place(small_pool):
    async with small_pool.seat():
        assert small_pool.stats().admitted == 1
    assert small_pool.stats().admitted == 0


async def test_checks_give_the_same_answers_as_the_blocking_functions(small_pool):
    stored = security.hash_password("a perfectly fine secret")
    assert await small_pool.run("checks", security.verify_password, "a perfectly fine secret", stored)
    assert not await small_pool.run("checks", security.verify_password, "something else", stored)
