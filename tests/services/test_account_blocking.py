"""Blocking an owner stops their bots through the real runner and the fake Bot API; unblocking
restores each bot as the owner had it (running or paused)."""

from __future__ import annotations

import asyncio

from chatai.bots.runner import BotRunner
from chatai.db.session import async_session
from chatai.services import accounts
from chatai.services.bots import pause_bot
from tests.bots.conftest import FAST, FakeBrain, bot_row, connect, status_is, wait_for, worker_stopped
from tests.factories import make_tenant
from tests.fakes.telegram_server import fake_telegram  # noqa: F401 - fixture


async def _admin() -> accounts.CurrentUser:
    async with async_session() as s:
        admin = await accounts.create_user(s, email="root@example.com", password="admin password", role="admin")
    return accounts.CurrentUser(id=admin.id, email=admin.email, role="admin", locale="en")


async def _set_blocked(admin, owner_id, blocked):
    async with async_session() as s:
        await accounts.set_blocked(s, admin=admin, user_id=owner_id, blocked=blocked)


async def test_block_stops_bots_by_command_and_unblock_restores_them(db, fake_telegram):  # noqa: F811
    tenant = await make_tenant()
    admin = await _admin()
    running, running_token = await connect(fake_telegram, tenant)
    paused, paused_token = await connect(fake_telegram, tenant)
    async with async_session() as s:
        await pause_bot(s, owner_id=tenant.owner_id, bot_id=paused.id)
    # No reconcile round during the test: only the published command can stop (and restart) the bot.
    runner = BotRunner(answer_fn=FakeBrain(), **{**FAST, "reconcile_interval": 3600})
    await runner.start()
    try:
        assert await wait_for(lambda: status_is(running.id, "running"))
        worker = runner.workers[running.id]
        await _set_blocked(admin, tenant.owner_id, True)
        assert await wait_for(lambda: running.id not in runner.workers)
        assert await wait_for(lambda: worker_stopped(worker))

        # An end user writing to the blocked owner's bot gets nothing.
        await asyncio.sleep(0.3)
        fake_telegram.push_text(running_token, "anyone there?", chat_id=77)
        polls = len(fake_telegram.calls(running_token, "getUpdates"))
        await asyncio.sleep(1.5)
        assert fake_telegram.sent_messages(running_token) == []
        assert len(fake_telegram.calls(running_token, "getUpdates")) == polls

        await _set_blocked(admin, tenant.owner_id, False)
        assert await wait_for(lambda: status_is(running.id, "running"))
        assert (await bot_row(running.id)).desired_state == "running"
        # The bot the owner had paused stays paused.
        await asyncio.sleep(0.5)
        assert paused.id not in runner.workers
        row = await bot_row(paused.id)
        assert (row.desired_state, row.status) == ("paused", "paused")
        assert not fake_telegram.calls(paused_token, "getUpdates")
    finally:
        await runner.stop()


async def test_block_ends_sessions(db):
    admin = await _admin()
    async with async_session() as s:
        token = await accounts.sign_up(s, email="owner@example.com", password="correct horse")
        owner = await accounts.user_for_token(s, token)
    await _set_blocked(admin, owner.id, True)
    async with async_session() as s:
        assert await accounts.user_for_token(s, token) is None
        assert await accounts.list_sessions(s, user_id=owner.id) == []
