"""Keep the garbage collector from stalling the event loop of a process that holds a thousand bots.

Why: a full (oldest generation) collection walks every tracked object still alive, and each running
bot keeps a few hundred alive: its Bot, its connection and parser, and its long poll in flight (a chain
of ~17 coroutines through PTB, httpx and httpcore, re-created after every delivered update). With a
thousand bots a full collection took 50-95 ms of CPU, and CPython started one every ~8 s under load:
that is what the slowest replies waited for.

Two measures:
- Objects alive when a wave of bot starts settles (start-up, a takeover) are moved out of the collector's
  reach with gc.freeze(), right after a full collection (so no garbage cycle is frozen with them). They
  are still freed by reference counting when their bot stops.
- While a runner runs, CPython's own full collections are turned off and one runs every
  `full_every` seconds instead: the same walk, every few minutes instead of every few seconds. Young
  collections stay automatic, so short-lived cycles (most garbage) are still freed within milliseconds;
  only cycles that outlived two young collections wait up to `full_every` for theirs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

from chatai.cancellation import wait_set

log = logging.getLogger(__name__)

NEVER = 2**30  # a third gc threshold CPython never reaches
_holders = 0
_saved_threshold: tuple[int, int, int] | None = None


def freeze() -> None:
    """Collect cyclic garbage, then move every surviving object out of future collections."""
    gc.collect()
    gc.freeze()


def _take_over_full_collections() -> None:
    global _holders, _saved_threshold
    if _holders == 0:
        _saved_threshold = gc.get_threshold()
        young, middle, _oldest = _saved_threshold
        gc.set_threshold(young, middle, NEVER)
    _holders += 1


def _give_back_full_collections() -> None:
    """The last runner of the process stopped: CPython's own full collections again, over every object. What
    was frozen is collectable again too: a process that goes on without a runner (the web app after its
    runner stopped, a test run) would otherwise keep the frozen garbage cycles, and their connections, forever."""
    global _holders
    _holders -= 1
    if _holders == 0:
        gc.unfreeze()
        if _saved_threshold is not None:
            gc.set_threshold(*_saved_threshold)


class HeapKeeper:
    """Runs the full collections of the process while at least one runner is up (see the module doc).

    bot_started() counts bots coming up; once `min_starts` came up and no other start arrived for
    `settle` seconds (their first long polls are open by then), the heap is frozen. A single bot
    connected later is not worth a full collection; it waits for the next wave or scheduled collection.
    """

    def __init__(self, *, settle: float = 2.0, min_starts: int = 50, full_every: float = 300.0) -> None:
        self.settle = settle
        self.min_starts = min_starts
        self.full_every = full_every
        self._starts = 0
        self._last_start = 0.0
        self._wave = asyncio.Event()

    def bot_started(self) -> None:
        self._starts += 1
        self._last_start = time.monotonic()
        if self._starts >= self.min_starts:
            self._wave.set()

    async def run(self) -> None:
        _take_over_full_collections()
        try:
            while True:
                if await wait_set(self._wave, self.full_every):
                    await self._settled()
                    self._wave.clear()
                    self._starts = 0
                    self._collect(then_freeze=True)
                else:
                    self._collect(then_freeze=False)
        finally:
            _give_back_full_collections()

    async def _settled(self) -> None:
        """Until no bot came up for `settle` seconds: their first long polls (connections) are open then."""
        while True:
            quiet = time.monotonic() - self._last_start
            if quiet >= self.settle:
                return
            await asyncio.sleep(self.settle - quiet)

    @staticmethod
    def _collect(*, then_freeze: bool) -> None:
        t0 = time.perf_counter()
        found = gc.collect()
        if then_freeze:
            gc.freeze()
        log.debug("full collection: %d unreachable, %.0f ms%s", found, (time.perf_counter() - t0) * 1000,
                  ", heap frozen" if then_freeze else "")
