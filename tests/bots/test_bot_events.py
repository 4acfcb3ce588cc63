"""The bot event log: the service (owner only, newest first, at most 200 kept), the events the services write
(paused, resumed, token replaced), the bots page's "Event log" dialog, and webhook secrets encrypted at rest
(including the data migration of secrets stored in clear)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

import chatai.chatai  # noqa: F401 - registers every page state (in the session's context, not one test's)
from chatai.db.models import Bot, BotEvent, TelegramUpdate, utcnow
from chatai.db.session import async_session, get_async_engine
from chatai.security import decrypt_secret, encrypt_secret
from chatai.services import bot_events, bots
from chatai.services.assistants import NotFound
from tests.bots.conftest import bot_row, connect
from tests.factories import make_tenant
from tests.fakes.telegram_server import make_token
from tests.fakes.telegram_updates import text_update


async def test_events_are_listed_newest_first_for_the_owner_only_and_capped(tenant, fake_telegram):
    bot, _token = await connect(fake_telegram, tenant)
    other = await make_tenant("other@example.com")
    start = utcnow() - timedelta(hours=1)
    async with get_async_engine().connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for n in range(bot_events.KEEP + 5):
            await bot_events.record(conn, bot_id=bot.id, owner_id=tenant.owner_id, kind="error",
                                    message=f"event {n}", at=start + timedelta(seconds=n))
    async with async_session() as s:
        events = await bot_events.list_events(s, owner_id=tenant.owner_id, bot_id=bot.id)
        with pytest.raises(NotFound):
            await bot_events.list_events(s, owner_id=other.owner_id, bot_id=bot.id)
        with pytest.raises(NotFound):
            await bot_events.list_events(s, owner_id=tenant.owner_id, bot_id=uuid.uuid4())
        stored = (await s.execute(sa.select(sa.func.count()).select_from(BotEvent))).scalar()
    assert stored == bot_events.KEEP == len(events)
    assert events[0].message == f"event {bot_events.KEEP + 4}" and events[-1].message == "event 5"
    with pytest.raises(ValueError):
        async with async_session() as s:
            await bot_events.record(s, bot_id=bot.id, owner_id=tenant.owner_id, kind="made_up")


async def test_pause_resume_and_token_replacement_are_logged(tenant, fake_telegram):
    bot, token = await connect(fake_telegram, tenant)
    async with async_session() as s:
        await bots.pause_bot(s, owner_id=tenant.owner_id, bot_id=bot.id)
    async with async_session() as s:
        await bots.resume_bot(s, owner_id=tenant.owner_id, bot_id=bot.id)
    new_token = token.split(":")[0] + ":" + "B" * 35
    fake_telegram.add_bot(new_token, bot.username)
    async with async_session() as s:
        await bots.replace_token(s, owner_id=tenant.owner_id, bot_id=bot.id, token=new_token)
        events = await bot_events.list_events(s, owner_id=tenant.owner_id, bot_id=bot.id)
    assert [e.kind for e in events] == ["token_replaced", "resumed", "paused"]
    assert all(new_token not in e.message and token not in e.message for e in events)


async def test_bots_page_event_log_shows_own_bot_only(db, fake_telegram):
    from chatai.services import accounts
    from chatai.web.pages.bots import BotsState
    from tests.web.clients import signed_in_root

    async with async_session() as s:
        token_a = await accounts.sign_up(s, email="a@example.com", password="password a")
        token_b = await accounts.sign_up(s, email="b@example.com", password="password b")
        user_a = await accounts.user_for_token(s, token_a)
        bot = Bot(assistant_id=(await _assistant(s, user_a.id)), owner_id=user_a.id, telegram_bot_id=43,
                  username="a_bot", token_encrypted=encrypt_secret(make_token(43)), token_hint="43:…xxxx")
        s.add(bot)
        await s.commit()
        await bot_events.record(s, bot_id=bot.id, owner_id=user_a.id, kind="error",
                                message="<b>Cannot reach Telegram</b>; retrying.")
        await s.commit()

    async def state_for(token: str) -> BotsState:
        return await (await signed_in_root(token)).get_state(BotsState)

    mine = await state_for(token_a)
    await BotsState.load_bots.fn(mine)
    await BotsState.open_events.fn(mine, str(bot.id))
    assert mine.events_open and mine.events_bot == "a_bot"
    assert [(e["kind"], e["message"]) for e in mine.events] == [("error", "<b>Cannot reach Telegram</b>; retrying.")]
    BotsState.set_events_open.fn(mine, False)
    assert mine.events == [] and not mine.events_open

    theirs = await state_for(token_b)
    await BotsState.open_events.fn(theirs, str(bot.id))
    assert theirs.events == [] and not theirs.events_open and theirs.error


async def _assistant(session, owner_id):
    from chatai.services import assistants

    return (await assistants.create_assistant(session, owner_id=owner_id, name="A")).id


async def test_a_poison_webhook_delivery_is_acknowledged_after_the_limit(tenant, fake_telegram, monkeypatch):
    from chatai.bots.webhook import SECRET_HEADER, webhook_routes

    bot, _token = await connect(fake_telegram, tenant)
    async with async_session() as s:
        await s.execute(sa.update(Bot).where(Bot.id == bot.id).values(mode="webhook"))
        await s.commit()
    secret = decrypt_secret((await bot_row(bot.id)).webhook_secret)
    poison = text_update("my secret words", chat_id=2**70, update_id=4242)  # cannot be stored, ever
    app = Starlette(routes=webhook_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        codes = [(await client.post(f"/telegram/webhook/{bot.id}", json=poison,
                                    headers={SECRET_HEADER: secret})).status_code for _ in range(3)]
    assert codes == [500, 500, 200]  # Telegram retries twice, then the update is given up
    async with async_session() as s:
        status = (await s.execute(sa.select(TelegramUpdate.status).where(TelegramUpdate.update_id == 4242))).scalar()
        events = await bot_events.list_events(s, owner_id=tenant.owner_id, bot_id=bot.id)
    assert status == "failed" and [e.kind for e in events] == ["update_failed"]
    assert "my secret words" not in events[0].message


async def test_migration_encrypts_webhook_secrets_stored_in_clear(db, fake_telegram):
    from chatai.db import migrate

    tenant = await make_tenant("migrate@example.com")
    db.close()
    await asyncio.to_thread(migrate.downgrade, "0003")
    try:
        async with async_session() as s:
            await s.execute(sa.text("""
                INSERT INTO bots (id, assistant_id, owner_id, telegram_bot_id, username, token_encrypted, token_hint,
                                  mode, webhook_secret, desired_state, status, last_error, runner_id, created_at,
                                  updated_at)
                VALUES (:id, :aid, :owner, 44, 'old_bot', 'x', '', 'webhook', 'plain-old-secret', 'paused', 'paused',
                        '', '', now(), now())"""), {"id": uuid.uuid4(), "aid": tenant.assistant_id,
                                                   "owner": tenant.owner_id})
            await s.commit()
    finally:
        await asyncio.to_thread(migrate.upgrade)
    async with async_session() as s:
        stored = (await s.execute(sa.select(Bot.webhook_secret).where(Bot.telegram_bot_id == 44))).scalar_one()
    assert stored != "plain-old-secret" and decrypt_secret(stored) == "plain-old-secret"
