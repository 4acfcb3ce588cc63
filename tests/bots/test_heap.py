"""The runner's garbage-collector policy (bots/heap.py): the heap frozen after a wave of bot starts, and full
collections run on a schedule instead of by CPython while a runner runs.

The keeper's clock and its settle sleeps are the test's (a busy machine must not decide what "quiet for
`settle` seconds" means); the scheduled collection is waited for with a generous bound."""

from __future__ import annotations

import asyncio
import gc
import types

from chatai.bots import heap
from tests.bots.conftest import wait_for


class Clock:
    """The keeper's time.monotonic and its asyncio.sleep: a sleep is requested, then released by the test."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.requested: list[float] = []
        self._release = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.requested.append(seconds)
        await self._release.wait()
        self._release.clear()

    def advance_to(self, now: float) -> None:
        self.now = now
        self._release.set()


async def test_heap_frozen_after_a_wave_of_starts_and_full_collections_scheduled(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(heap, "time", types.SimpleNamespace(monotonic=lambda: clock.now,
                                                            perf_counter=lambda: 0.0))
    monkeypatch.setattr(heap, "asyncio", types.SimpleNamespace(Event=asyncio.Event, wait_for=asyncio.wait_for,
                                                               sleep=clock.sleep))
    keeper = heap.HeapKeeper(settle=10.0, min_starts=3, full_every=0.3)
    full = []

    def on_gc(phase, info):
        if phase == "stop" and info["generation"] == 2:
            full.append(info)

    before = gc.get_threshold()
    gc.callbacks.append(on_gc)
    task = asyncio.create_task(keeper.run())
    try:
        await asyncio.sleep(0)
        assert gc.get_threshold()[2] == heap.NEVER  # CPython's own full collections are off
        gc.unfreeze()
        keeper.bot_started()
        keeper.bot_started()
        await asyncio.sleep(0.05)
        assert clock.requested == [] and gc.get_freeze_count() == 0  # two starts: not a wave
        keeper.bot_started()  # the third, at 1000.0: a wave, which settles first
        assert await wait_for(lambda: clock.requested == [10.0])
        assert gc.get_freeze_count() == 0  # still settling
        clock.now = 1005.0
        keeper.bot_started()  # another start while settling: quiet is counted from it
        clock.advance_to(1010.0)
        assert await wait_for(lambda: clock.requested == [10.0, 5.0])
        assert gc.get_freeze_count() == 0
        clock.advance_to(1015.0)  # quiet for 10 s since the last start
        assert await wait_for(lambda: gc.get_freeze_count() > 0)
        full.clear()
        assert await wait_for(lambda: full), "a scheduled full collection"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        frozen_after_stop = gc.get_freeze_count()
        gc.callbacks.remove(on_gc)
        gc.unfreeze()
    assert gc.get_threshold() == before
    # The last keeper gave the frozen objects back: garbage frozen with them (a stopped runner's engines and
    # their connections) is collectable again, not kept for the life of the process.
    assert frozen_after_stop == 0
