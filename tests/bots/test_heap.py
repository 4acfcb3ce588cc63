"""The runner's garbage-collector policy (bots/heap.py): the heap frozen after a wave of bot starts, and full
collections run on a schedule instead of by CPython while a runner runs."""

from __future__ import annotations

import asyncio
import gc

from chatai.bots import heap


async def test_heap_frozen_after_a_wave_of_starts_and_full_collections_scheduled():
    keeper = heap.HeapKeeper(settle=0.1, min_starts=3, full_every=0.3)
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
        await asyncio.sleep(0.2)
        assert gc.get_freeze_count() == 0  # two starts: not a wave
        keeper.bot_started()
        await asyncio.sleep(0.05)
        assert gc.get_freeze_count() == 0  # still settling
        await asyncio.sleep(0.15)
        assert gc.get_freeze_count() > 0
        full.clear()
        await asyncio.sleep(0.45)
        assert full, "a scheduled full collection"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        gc.callbacks.remove(on_gc)
        gc.unfreeze()
    assert gc.get_threshold() == before
