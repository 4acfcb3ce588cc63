"""Waiting and stopping that never lose a cancellation (chatai/cancellation.py). On Python 3.11,
asyncio.wait_for swallowed a cancellation arriving in the instant the awaited event was set: a runner loop
waiting that way never ended, and the runner's stop waited for it forever (a CI run hung there)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from chatai import cancellation
from chatai.cancellation import cancel_and_wait, wait_set

HANG_GUARD = 30.0  # a loop that lost its cancellation never ends: fail the test instead of hanging it


async def _loop_ends_when_cancelled_as_the_event_is_set(wait, yields: int, guard: float = HANG_GUARD) -> bool:
    event = asyncio.Event()

    async def loop() -> None:
        while True:
            await wait(event)
            event.clear()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)  # the loop is waiting
    event.set()
    for _ in range(yields):  # every instant between the set and the loop running again
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=guard)
    if not done:
        task.cancel()  # the old way lost it: end it for the next case
        await asyncio.wait([task], timeout=1)
    return bool(done)


@pytest.mark.parametrize("yields", range(5))
async def test_a_cancellation_as_the_event_is_set_ends_the_loop(yields):
    assert await _loop_ends_when_cancelled_as_the_event_is_set(lambda e: wait_set(e, 60), yields)


async def test_the_race_is_real_with_wait_for_on_this_python():
    """What the module is for: one of these instants loses the cancellation with wait_for (3.11); if a newer
    Python fixed it, this test says so and can go."""
    async def old_way(event):
        try:
            await asyncio.wait_for(event.wait(), 60)
        except TimeoutError:
            pass

    import sys
    lost = [not await _loop_ends_when_cancelled_as_the_event_is_set(old_way, n, guard=1.0) for n in range(3)]
    assert any(lost) == (sys.version_info < (3, 12))


async def test_wait_set_says_whether_the_event_came():
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    event.set()
    assert await wait_set(event, 60) is True


async def test_a_task_that_swallows_its_cancellation_is_cancelled_again_and_named(monkeypatch, caplog):
    monkeypatch.setattr(cancellation, "RECANCEL_SECONDS", 0.01)
    swallowed = []

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                swallowed.append(1)
                if len(swallowed) >= 3:
                    raise

    async def failing() -> None:
        raise ValueError("boom")

    tasks = [asyncio.create_task(stubborn(), name="stubborn"), asyncio.create_task(failing(), name="failing")]
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="chatai.cancellation"):
        async with asyncio.timeout(HANG_GUARD):
            await cancel_and_wait(tasks, what="test loops")
    assert all(t.done() for t in tasks) and tasks[0].cancelled() and len(swallowed) == 3
    assert "test loops: task stubborn is still running after being cancelled" in caplog.text
