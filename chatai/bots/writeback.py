"""'answered' marks written the moment a send returns, and live-view nudges batched on Redis.

Marks: the window between Telegram accepting sendMessage and the 'answered' mark being committed is the
one place where a crash sends an answer twice (Telegram's sendMessage has no idempotency key). Batching
marks every few tens of ms made that window the batch interval: killing a runner mid-burst sent 0-2
duplicates per kill. Now one writer is always either idle or writing: a mark queued while it is idle
starts its write at once (next event-loop step, no timer), and marks queued while a write is in flight
go together in the next statement, which starts the moment the previous one returns. So a burst still
costs one statement per round trip, not one per answer, and no mark waits for a timer.

What it guarantees: a mark is queued only after Telegram accepted sendMessage, and until it is written
`owes()` answers True, so the recovery sweep (which looks for updates still 'received') never answers
them again. A clean stop flushes; a failed write keeps the marks and retries.

Nudges (Redis publishes for live views) are best effort and still batched every `interval`: a live view
may trail by that much; nothing is answered twice because of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from chatai.bots.logsafe import describe
from chatai.services import dialogs

log = logging.getLogger(__name__)

MAX_BATCH = 500
RETRY_PAUSE = 0.5


class WriteBehind:
    def __init__(self, connect: Callable[[], Any], *, interval: float = 0.05) -> None:
        self._connect = connect  # () -> async context manager yielding an AUTOCOMMIT connection
        self.interval = interval  # for nudges only
        self._marks: list[dialogs.AnsweredMark] = []
        self._owed: set[tuple[uuid.UUID, int]] = set()  # queued or being written
        self._events: list[str] = []
        self._marks_wanted = asyncio.Event()
        self._events_wanted = asyncio.Event()
        self._lock = asyncio.Lock()  # one write in flight at a time
        self.writes = 0  # statements written (tests: coalescing)

    def mark_answered(self, mark: dialogs.AnsweredMark) -> None:
        self._marks.append(mark)
        self._owed.add((mark.bot_id, mark.update_id))
        self._marks_wanted.set()

    def nudge(self, *, dialog_id: uuid.UUID, owner_id: uuid.UUID, role: str) -> None:
        """Best-effort live-view event (the database stays the truth)."""
        self._events.append(json.dumps({"type": "message", "dialog_id": str(dialog_id), "owner_id": str(owner_id),
                                        "role": role}))
        self._events_wanted.set()

    def owes(self, bot_id: uuid.UUID, update_id: int) -> bool:
        """Answered, mark not written yet: recovery must not answer it again."""
        return (bot_id, update_id) in self._owed

    async def run(self) -> None:
        await asyncio.gather(self._write_marks_loop(), self._publish_loop())

    async def _write_marks_loop(self) -> None:
        while True:
            await self._marks_wanted.wait()
            self._marks_wanted.clear()
            try:
                await self._write_marks()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - marks stay queued; retried after a pause
                log.warning("answered marks not written yet; retrying: %s", describe(exc))
                await asyncio.sleep(RETRY_PAUSE)
                self._marks_wanted.set()

    async def _publish_loop(self) -> None:
        while True:
            await self._events_wanted.wait()
            await asyncio.sleep(self.interval)  # gather what the other bots answer meanwhile
            self._events_wanted.clear()
            await self._publish()

    async def flush(self) -> None:
        """Everything queued, written now (a clean stop)."""
        await self._publish()
        await self._write_marks()

    async def _write_marks(self) -> None:
        """Write until nothing is queued: each statement takes everything queued when the previous one
        returned (at most MAX_BATCH)."""
        async with self._lock:
            while self._marks:
                batch, self._marks = self._marks[:MAX_BATCH], self._marks[MAX_BATCH:]
                try:
                    async with self._connect() as conn:
                        await dialogs.mark_answered(conn, batch)
                except BaseException:
                    self._marks[:0] = batch  # keep them (and keep owing them)
                    raise
                self.writes += 1
                for m in batch:
                    self._owed.discard((m.bot_id, m.update_id))

    async def _publish(self) -> None:
        events, self._events = self._events, []
        if not events:
            return
        from chatai.cache import get_redis

        with contextlib.suppress(Exception):  # a missed nudge only delays a live view
            async with get_redis().pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.publish(dialogs.DIALOG_EVENTS_CHANNEL, event)
                await pipe.execute()

    def drop(self) -> None:
        """Simulated crash (tests): what was not written is lost."""
        self._marks.clear()
        self._owed.clear()
        self._events.clear()
