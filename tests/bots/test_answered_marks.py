"""'answered' marks start writing the moment a send returns (no timer), and marks arriving while a write is
in flight go together in the next statement (the crash-duplicate window is one round trip, not a batch)."""

from __future__ import annotations

import asyncio
import contextlib

from chatai.bots.writeback import WriteBehind
from chatai.db.session import get_async_engine
from chatai.services import dialogs
from chatai.services.dialogs import AnsweredMark, Incoming
from tests.bots.conftest import PATIENCE, connect, wait_for
from tests.bots.test_exactly_once import _rows


@contextlib.asynccontextmanager
async def autocommit():
    async with get_async_engine().connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


async def test_marks_start_at_once_and_coalesce_while_a_write_is_in_flight(tenant, fake_telegram):
    bot, _token = await connect(fake_telegram, tenant)
    ids = dict(bot_id=bot.id, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id)
    async with autocommit() as conn:
        pending = await dialogs.record_incoming(conn, incoming=[
            Incoming(update_id=n, kind="text", chat_id=100 + n, user_id=n, text=f"q{n}") for n in range(1, 5)], **ids)
        replies = [(await dialogs.save_reply(conn, pending=p, text="a", answered_by="llm"))[0] for p in pending]
    marks = [AnsweredMark(bot_id=bot.id, update_id=p.update_id, reply_id=r, telegram_message_id=900 + p.update_id,
                          latency_ms=5, dialog_id=p.dialog_id) for p, r in zip(pending, replies, strict=True)]

    first_write_started = asyncio.Event()
    release_first = asyncio.Event()

    @contextlib.asynccontextmanager
    async def connect_db():
        if not first_write_started.is_set():
            first_write_started.set()
            await release_first.wait()  # a slow first statement
        async with autocommit() as conn:
            yield conn

    wb = WriteBehind(connect_db, interval=3600.0)  # no timer fires during the test: only the mark starts a write
    runner = asyncio.create_task(wb.run())
    try:
        wb.mark_answered(marks[0])
        await asyncio.wait_for(first_write_started.wait(), PATIENCE)  # started by the mark itself
        for mark in marks[1:]:  # sent while the first mark is being written
            wb.mark_answered(mark)
        await asyncio.sleep(0.1)
        assert wb.writes == 0 and all(wb.owes(bot.id, m.update_id) for m in marks)
        release_first.set()
        assert await wait_for(lambda: not any(wb.owes(bot.id, m.update_id) for m in marks))
        assert wb.writes == 2  # the first mark, then the three queued meanwhile in one statement
        assert (await _rows(bot.id))[0] == {1: "answered", 2: "answered", 3: "answered", 4: "answered"}
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
