"""Bot statuses and last-poll marks, written for all the bots of a runner in batches.

A thousand bots starting, or polling every few seconds, must not be a thousand UPDATEs: statuses are
queued and written a fifth of a second later grouped by (status, error), and published on Redis for the
dashboards; polls are remembered and written every third of a lease as a few statements of
POLL_MARK_SLICE bots spaced out over time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.bots import queries
from chatai.cache import get_redis
from chatai.db.models import Bot, utcnow
from chatai.services.bots import STATUS_CHANNEL

log = logging.getLogger(__name__)

POLL_MARK_SLICE = 100  # bots per last_poll_at statement
STATUS_BATCH_SECONDS = 0.2


class StatusWriter:
    def __init__(self, *, runner_id: str, mode: str, lease_ttl: float,
                 session: Callable[[], AbstractAsyncContextManager[AsyncSession]],
                 db: Callable[[], AbstractAsyncContextManager[AsyncConnection]]) -> None:
        self.runner_id = runner_id
        self.mode = mode
        self.lease_ttl = lease_ttl
        self._session = session
        self._db = db
        self._queue: dict[uuid.UUID, tuple[uuid.UUID, str, str]] = {}  # bot -> (owner, status, error)
        self._queued = asyncio.Event()
        self._polled: set[uuid.UUID] = set()
        self.last_poll: datetime | None = None

    def queue(self, bot_id: uuid.UUID, owner_id: uuid.UUID, status: str, error: str) -> None:
        self._queue[bot_id] = (owner_id, status, error)
        self._queued.set()

    def note_poll(self, bot_id: uuid.UUID) -> None:
        self._polled.add(bot_id)
        self.last_poll = utcnow()

    async def status_loop(self) -> None:
        while True:
            await self._queued.wait()
            await asyncio.sleep(STATUS_BATCH_SECONDS)  # batch: a thousand bots starting is one UPDATE
            self._queued.clear()
            try:
                await self.flush_status()
            except Exception:  # noqa: BLE001
                log.warning("bot status not written", exc_info=True)

    async def poll_marks_loop(self) -> None:
        interval = self.lease_ttl / 3
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await self.flush_polls(spread=interval / 2)

    async def flush_status(self) -> None:
        queue, self._queue = self._queue, {}
        if not queue:
            return
        groups: dict[tuple[str, str], list[uuid.UUID]] = {}
        for bot_id, (_owner, status, error) in queue.items():
            groups.setdefault((status, error), []).append(bot_id)
        now = utcnow()
        async with self._session() as session:
            for (status, error), ids in groups.items():
                values: dict[str, Any] = {"status": status, "updated_at": now}
                if error:
                    values.update(last_error=error, last_error_at=now)
                if status == "running":  # recovered: the error stays in the bot's event log, not on the row
                    values.update(runner_id=self.runner_id, mode=self.mode, last_error="")
                # A paused bot stays 'paused' even if a worker reports late.
                await session.execute(sa.update(Bot).where(Bot.id.in_(ids), Bot.desired_state == "running")
                                      .values(**values))
            await session.commit()
        with contextlib.suppress(Exception):
            async with get_redis().pipeline(transaction=False) as pipe:
                for bot_id, (owner, status, error) in queue.items():
                    pipe.publish(STATUS_CHANNEL, json.dumps({"bot_id": str(bot_id), "owner_id": str(owner),
                                                             "status": status, "last_error": error}))
                await pipe.execute()

    async def flush_polls(self, *, spread: float = 0.0) -> None:
        """last_poll_at for the bots that polled since the last flush: not one UPDATE per poll, and not one
        of a thousand rows either (a burst of work for PostgreSQL on the cores the hot path needs), but
        statements of POLL_MARK_SLICE bots spaced over `spread` seconds."""
        polled, self._polled = list(self._polled), set()
        if not polled:
            return
        now = utcnow()
        lease_until = datetime.fromtimestamp(time.time() + self.lease_ttl, UTC)
        starts = range(0, len(polled), POLL_MARK_SLICE)
        pause = spread / len(starts)
        for n, start in enumerate(starts):
            try:
                if n and pause:
                    await asyncio.sleep(pause)
                async with self._db() as conn:
                    await queries.mark_polled(conn, polled[start:start + POLL_MARK_SLICE], now=now,
                                              runner_id=self.runner_id, lease_until=lease_until)
            except BaseException:
                self._polled.update(polled[start:])  # the next flush (or the one at stop) writes them
                raise
