"""Name, greeting and switches of the assistants a runner's bots answer for, cached for all their bots.

Why a cache: the answer path needs them for every message, and a thousand bots often share one assistant;
one small Core query per assistant every ASSISTANT_TTL seconds instead of one per message. Why one read
for concurrent misses: when an entry expires under load, every bot of that assistant misses at once, and
each read would take a database connection (admission.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from chatai.bots.admission import Admission
from chatai.bots.contracts import AssistantInfo
from chatai.db.models import Assistant

ASSISTANT_TTL = 30.0


class AssistantCache:
    def __init__(self, db: Callable[[], AbstractAsyncContextManager[AsyncConnection]], admission: Admission) -> None:
        self._db = db
        self._admission = admission
        self._cached: dict[uuid.UUID, AssistantInfo] = {}
        self._reads: dict[uuid.UUID, asyncio.Future[AssistantInfo]] = {}

    def clear(self) -> None:
        self._cached.clear()

    async def get(self, assistant_id: uuid.UUID) -> AssistantInfo:
        cached = self._cached.get(assistant_id)
        if cached is not None and time.monotonic() - cached.loaded < ASSISTANT_TTL:
            return cached
        # The first caller reads in its own task and the others wait for its result, except a caller inside
        # an admitted step (storing a group message): it reads on its own, nested, for waiting on a read that
        # queues for a slot it holds could deadlock.
        if self._admission.holds():
            return await self._read(assistant_id)
        loading = self._reads.get(assistant_id)
        if loading is not None:
            return await asyncio.shield(loading)
        loading = self._reads[assistant_id] = asyncio.get_running_loop().create_future()
        try:
            info = await self._read(assistant_id)
        except BaseException as exc:
            loading.set_exception(exc if isinstance(exc, Exception) else RuntimeError("assistant read cancelled"))
            loading.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            self._reads.pop(assistant_id, None)
        loading.set_result(info)
        return info

    async def _read(self, assistant_id: uuid.UUID) -> AssistantInfo:
        async with self._db() as conn:
            row = (await conn.execute(sa.select(Assistant.name, Assistant.greeting, Assistant.enabled,
                                                Assistant.answer_in_groups)
                                      .where(Assistant.id == assistant_id))).first()
        info = AssistantInfo(name=row.name if row else "", greeting=row.greeting if row else "",
                             enabled=bool(row and row.enabled), loaded=time.monotonic(),
                             answer_in_groups=bool(row and row.answer_in_groups))
        self._cached[assistant_id] = info
        return info
