"""A poison Telegram update never stops a bot: text PostgreSQL cannot store is cleaned, an update that keeps
failing is marked 'failed' and skipped (the offset moves on, other customers are answered), and neither
logs nor `last_error` carry the customer's words, name or SQL."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from chatai.db.models import Dialog, Message, TelegramUpdate
from chatai.db.session import async_session
from chatai.services import bot_events
from chatai.textsafe import db_safe
from tests.bots.conftest import FakeBrain, bot_row, connect, status_is, wait_for
from tests.fakes.telegram_updates import text_update


def test_db_safe_drops_nul_and_replaces_lone_surrogates():
    assert db_safe("plain text, кириллица, 👍") == "plain text, кириллица, 👍"
    assert db_safe("a\x00b\x00") == "ab"
    assert db_safe("x\ud83dy\udc4d") == "x\ufffdy\ufffd"
    assert db_safe("a\x00\ud800") == "a\ufffd"
    db_safe("\ud800").encode("utf-8")  # encodable now


async def _update_status(bot_id, update_id):
    async with async_session() as s:
        return (await s.execute(sa.select(TelegramUpdate.status).where(
            TelegramUpdate.bot_id == bot_id, TelegramUpdate.update_id == update_id))).scalar_one_or_none()


async def _events(bot):
    async with async_session() as s:
        return await bot_events.list_events(s, owner_id=bot.owner_id, bot_id=bot.id)


async def test_nul_and_lone_surrogates_in_text_and_names_are_stored_and_answered(tenant, fake_telegram, runners):
    bot, token = await connect(fake_telegram, tenant)
    brain = FakeBrain()
    await runners(answer_fn=brain)
    await wait_for(lambda: status_is(bot.id, "running"))
    update = text_update("where\x00 is my order\ud83d?", chat_id=71, first_name="Eve\x00\udc4d")
    update["message"]["chat"]["title"] = "Group\x00"
    fake_telegram.push_update(token, update)
    fake_telegram.push_text(token, "and the next customer?", chat_id=72)
    sent = await fake_telegram.await_sent(token, 2)
    assert len(sent) == 2
    async with async_session() as s:
        dialog = (await s.execute(sa.select(Dialog).where(Dialog.telegram_chat_id == 71))).scalar_one()
        texts = (await s.execute(sa.select(Message.text).where(Message.dialog_id == dialog.id,
                                                               Message.role == "user"))).scalars().all()
    assert texts == ["where is my order\ufffd?"] and dialog.user_name == "Eve\ufffd"
    assert "where is my order\ufffd?" in [c["question"] for c in brain.calls]  # two chats: any order
    assert (await bot_row(bot.id)).status == "running"


async def test_update_that_keeps_failing_is_skipped_and_the_bot_carries_on(tenant, fake_telegram, runners, caplog):
    caplog.set_level(logging.INFO)
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain())
    await wait_for(lambda: status_is(bot.id, "running"))
    # A chat id beyond PostgreSQL's bigint: the statement storing it fails every time, whatever we clean.
    poison = text_update("my secret question", chat_id=2**70, first_name="Mallory Secretname")
    poison_id = fake_telegram.push_update(token, poison)
    fake_telegram.push_text(token, "am I answered?", chat_id=73)

    row = await wait_for(lambda: status_is(bot.id, "error"))
    assert row is not None and "could not be stored" in row.last_error
    for leak in ("SQL", "INSERT", "bigint", "DataError", "my secret question"):
        assert leak not in row.last_error
    sent = await fake_telegram.await_sent(token, 1)
    assert len(sent) == 1 and "am I answered?" in sent[0]["text"]  # the next customer, once the poison is skipped
    assert await wait_for(lambda: _update_status(bot.id, poison_id)) == "failed"
    row = await wait_for(lambda: status_is(bot.id, "running"))
    assert row is not None and row.last_error == ""  # recovered: the history is in the event log
    fake = fake_telegram.bot(token)
    assert await wait_for(lambda: all(u["update_id"] != poison_id for u in fake.updates))  # offset moved on
    events = await wait_for(lambda: _kinds_when(bot, {"error", "update_failed", "recovered"}))
    kinds = [e.kind for e in events]
    assert kinds.index("recovered") < kinds.index("update_failed") < kinds.index("error")  # newest first
    assert kinds.count("error") == 1  # retries do not flap error/recovered
    skipped = next(e for e in events if e.kind == "update_failed")
    assert str(poison_id) in skipped.message and "my secret question" not in skipped.message

    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records if r.levelno >= logging.INFO)
    assert "not stored" in logged
    for leak in ("my secret question", "Mallory", "Secretname"):
        assert leak not in logged
    attempts = sum(1 for r in caplog.records if f"update {poison_id} not stored" in r.getMessage())
    assert attempts == 3  # then skipped: no endless retry (and no endless logging)


async def _kinds_when(bot, wanted):
    events = await _events(bot)
    return events if wanted <= {e.kind for e in events} else None


async def test_answer_that_keeps_failing_is_marked_failed_after_the_limit(tenant, fake_telegram, runners,
                                                                          monkeypatch):
    monkeypatch.setenv("BOT_UPDATE_MAX_ATTEMPTS", "2")
    from chatai.settings import get_settings

    get_settings.cache_clear()
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain())
    await wait_for(lambda: status_is(bot.id, "running"))
    fake_telegram.fail_next(token, "sendMessage", 400, times=2)  # Bad Request, every try
    update_id = fake_telegram.push_text(token, "never deliverable", chat_id=74)
    assert await wait_for(lambda: _update_status(bot.id, update_id)) in ("received", "failed")
    assert await wait_for(lambda: _is_failed(bot.id, update_id))
    events = await wait_for(lambda: _kinds_when(bot, {"update_failed"}))
    assert "could not be answered after 2 attempts" in events[0].message
    fake_telegram.push_text(token, "still there?", chat_id=75)
    sent = await fake_telegram.await_sent(token, 1)
    assert len(sent) == 1 and "still there?" in sent[0]["text"]


async def _is_failed(bot_id, update_id):
    return await _update_status(bot_id, update_id) == "failed"
