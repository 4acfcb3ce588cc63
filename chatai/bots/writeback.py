"""Write-behind for what may trail an answer by a few tens of milliseconds: 'answered' marks and the
live-view nudges on Redis.

Why: marking an update answered is the third database round trip of every message, and two Redis
publishes follow it; at a hundred messages a second across a thousand bots, one statement and one
pipeline per flush (every `interval`) for all bots cost a fraction of that.

What it does not weaken: a mark is queued only after Telegram accepted sendMessage, and until it is
written `owes()` answers True, so the recovery sweep (which looks for updates still 'received') never
answers them again. A clean stop flushes; a crash loses at most the last `interval` of marks, the same
at-least-once window as a crash between sendMessage and a direct write (see services/dialogs.py).
A failed flush keeps the marks and retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from chatai.services import dialogs

log = logging.getLogger(__name__)

MAX_BATCH = 500


class WriteBehind:
    def __init__(self, connect: Callable[[], Any], *, interval: float = 0.05) -> None:
        self._connect = connect  # () -> async context manager yielding an AUTOCOMMIT connection
        self.interval = interval
        self._marks: list[dialogs.AnsweredMark] = []
        self._owed: set[tuple[uuid.UUID, int]] = set()  # queued or being written
        self._events: list[str] = []
        self._wanted = asyncio.Event()
        self._lock = asyncio.Lock()

    def mark_answered(self, mark: dialogs.AnsweredMark) -> None:
        self._marks.append(mark)
        self._owed.add((mark.bot_id, mark.update_id))
        self._wanted.set()

    def nudge(self, *, dialog_id: uuid.UUID, owner_id: uuid.UUID, role: str) -> None:
        """Best-effort live-view event (the database stays the truth)."""
        self._events.append(json.dumps({"type": "message", "dialog_id": str(dialog_id), "owner_id": str(owner_id),
                                        "role": role}))
        self._wanted.set()

    def owes(self, bot_id: uuid.UUID, update_id: int) -> bool:
        """Answered, mark not written yet: recovery must not answer it again."""
        return (bot_id, update_id) in self._owed

    async def run(self) -> None:
        while True:
            await self._wanted.wait()
            await asyncio.sleep(self.interval)  # gather what the other bots answer meanwhile
            self._wanted.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - marks stay queued; next round retries
                log.warning("answered marks not written yet; retrying", exc_info=True)
                await asyncio.sleep(min(1.0, self.interval * 10))
                self._wanted.set()

    async def flush(self) -> None:
        async with self._lock:
            await self._publish()
            while self._marks:
                batch, self._marks = self._marks[:MAX_BATCH], self._marks[MAX_BATCH:]
                try:
                    async with self._connect() as conn:
                        await dialogs.mark_answered(conn, batch)
                except BaseException:
                    self._marks[:0] = batch  # keep them (and keep owing them)
                    raise
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
