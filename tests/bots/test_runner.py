"""The runner against the fake Bot API, driving real python-telegram-bot over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa

from chatai.db.models import Dialog, Message, TelegramUpdate
from chatai.db.session import async_session
from chatai.services.bots import pause_bot, replace_token, resume_bot
from tests.bots.conftest import FakeBrain, bot_row, connect, make_tenant, status_is, wait_for, worker_stopped
from tests.fakes.telegram_methods import check_html
from tests.fakes.telegram_updates import photo_update, text_update


async def _statuses(bot_id):
    async with async_session() as s:
        rows = await s.execute(sa.select(TelegramUpdate.update_id, TelegramUpdate.status)
                               .where(TelegramUpdate.bot_id == bot_id).order_by(TelegramUpdate.update_id))
        return dict(rows.all())


async def _messages(bot_id):
    async with async_session() as s:
        rows = await s.execute(sa.select(Message).join(Dialog, Dialog.id == Message.dialog_id)
                               .where(Dialog.bot_id == bot_id).order_by(Message.created_at))
        return list(rows.scalars())


async def test_text_message_answered_with_sources_and_history(tenant, fake_telegram, runners):
    brain = FakeBrain(delay=0.6)
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain)
    fake_telegram.push_text(token, "When do you deliver?", chat_id=501)
    sent = await fake_telegram.await_sent(token, 1)
    assert len(sent) == 1 and sent[0]["chat_id"] == 501 and sent[0]["parse_mode"] == "HTML"
    assert "Answer to: When do you deliver?" in sent[0]["text"]
    assert "Source: faq.md › Delivery" in sent[0]["text"]
    assert fake_telegram.calls(token, "sendChatAction"), "typing indicator while the answer is produced"
    await wait_for(lambda: _all_answered(bot.id, 1))

    fake_telegram.push_text(token, "And on Sundays?", chat_id=501)
    await fake_telegram.await_sent(token, 2)
    assert brain.calls[1]["history"] == [("user", "When do you deliver?"),
                                         ("assistant", "Answer to: When do you deliver?")]
    assert brain.calls[1]["language"] == "en"
    await wait_for(lambda: _all_answered(bot.id, 2))
    messages = await _messages(bot.id)
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    reply = messages[1]
    assert reply.answered_by == "llm" and reply.sources[0]["document"] == "faq.md"
    assert reply.telegram_message_id == sent[0]["message_id"] and reply.latency_ms is not None
    assert reply.prompt_tokens == 3 and reply.completion_tokens == 5
    async with async_session() as s:
        dialog = (await s.execute(sa.select(Dialog).where(Dialog.bot_id == bot.id))).scalar_one()
    assert (dialog.telegram_chat_id, dialog.owner_id, dialog.assistant_id) == (501, tenant.owner_id,
                                                                               tenant.assistant_id)
    assert (await bot_row(bot.id)).status == "running"


async def _all_answered(bot_id, n):
    statuses = await _statuses(bot_id)
    return len(statuses) == n and set(statuses.values()) == {"answered"}


async def test_start_gets_the_greeting(db, fake_telegram, runners):
    tenant = await make_tenant(name="Helper", greeting="Hi! I am the <ACME> helper.")
    bot, token = await connect(fake_telegram, tenant)
    brain = FakeBrain()
    await runners(answer_fn=brain)
    fake_telegram.push_text(token, "/start", chat_id=7)
    sent = await fake_telegram.await_sent(token, 1)
    assert sent[0]["text"] == "Hi! I am the &lt;ACME&gt; helper."
    assert brain.calls == []


async def test_long_answer_split_cleanly(tenant, fake_telegram, runners):
    paragraph = "Our **return policy** covers <every> item & more. " * 40
    brain = FakeBrain(reply=lambda q: "\n\n".join([paragraph] * 6))  # ~12,000 characters
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain)
    fake_telegram.push_text(token, "Tell me everything", chat_id=8)
    assert await wait_for(lambda: _all_answered(bot.id, 1))  # marked answered once every part was accepted
    sent = fake_telegram.sent_messages(token)
    assert 3 <= len(sent) <= 4
    for message in sent:
        assert len(message["text"]) <= 4096
        assert check_html(message["text"]) == ""  # the fake also refuses broken markup with 400
    assert "Source: faq.md" in sent[-1]["text"] and "Source:" not in sent[0]["text"]  # once, at the end
    assert "&lt;every&gt;" in sent[0]["text"] and "<b>return policy</b>" in sent[0]["text"]
    await wait_for(lambda: _all_answered(bot.id, 1))


async def test_non_text_gets_text_only_notice_in_user_language(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain)
    fake_telegram.push_update(token, photo_update(chat_id=9, language="ru"))
    fake_telegram.push_update(token, photo_update(chat_id=10, language="en"))
    sent = await fake_telegram.await_sent(token, 2)
    by_chat = {m["chat_id"]: m["text"] for m in sent}
    assert "текстовые" in by_chat[9]
    assert "only read text" in by_chat[10]
    assert brain.calls == []
    messages = await _messages(bot.id)
    assert {m.text for m in messages if m.role == "user"} == {"[photo]"}


async def test_redelivered_update_answered_once(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    first = await runners(answer_fn=brain)
    update = text_update("Hello?", chat_id=11, update_id=5000)
    fake_telegram.push_update(token, update)
    await fake_telegram.await_sent(token, 1)
    await wait_for(lambda: _all_answered(bot.id, 1))
    await first.stop()
    # Telegram re-delivers (offset not confirmed before the restart): the same update id again.
    fake_telegram.push_update(token, update)
    second = await runners(answer_fn=brain)
    await wait_for(lambda: any(c[0] == "getUpdates" and not c[1].get("offset")
                               for c in fake_telegram.calls(token)[-3:]) and second.workers)
    await asyncio.sleep(1.5)
    assert len(fake_telegram.sent_messages(token)) == 1
    assert len(brain.calls) == 1
    assert len(await _messages(bot.id)) == 2


async def test_runner_killed_mid_answer_answers_once_after_restart(tenant, fake_telegram, runners):
    stuck = FakeBrain(gate=asyncio.Event())  # never returns: the runner dies while "thinking"
    bot, token = await connect(fake_telegram, tenant)
    doomed = await runners(answer_fn=stuck)
    fake_telegram.push_text(token, "Where is my order?", chat_id=12)
    await asyncio.wait_for(stuck.started.wait(), 10)
    await doomed.abort()  # like SIGKILL: no lease released, nothing written
    assert await _statuses(bot.id) == {1000: "received"}

    brain = FakeBrain()
    await runners(answer_fn=brain)
    sent = await fake_telegram.await_sent(token, 1)
    assert len(sent) == 1 and "Answer to: Where is my order?" in sent[0]["text"]
    await wait_for(lambda: _all_answered(bot.id, 1))
    await asyncio.sleep(1.0)  # sweeps and re-polls must not answer again
    assert len(fake_telegram.sent_messages(token)) == 1
    assert [m.role for m in await _messages(bot.id)] == ["user", "assistant"]


async def test_saved_answer_resent_after_crash_without_new_model_call(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    fake_telegram.fail_next(token, "sendMessage", 500, times=50)  # Telegram down when sending
    first = await runners(answer_fn=brain)
    fake_telegram.push_text(token, "Price?", chat_id=13)
    await wait_for(lambda: len(fake_telegram.calls(token, "sendMessage")) >= 1)
    await first.abort()
    fake_telegram.bot(token).failures.clear()
    second_brain = FakeBrain()
    await runners(answer_fn=second_brain)
    sent = await fake_telegram.await_sent(token, 1)
    assert len(sent) == 1 and "Answer to: Price?" in sent[0]["text"]
    assert second_brain.calls == []  # the saved answer was reused
    await wait_for(lambda: _all_answered(bot.id, 1))


async def test_revoked_token_marks_error_while_other_bots_answer(tenant, fake_telegram, runners, caplog):
    caplog.set_level(logging.DEBUG)
    good, good_token = await connect(fake_telegram, tenant)
    bad, bad_token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain())
    await wait_for(lambda: status_is(bad.id, "running"))
    fake_telegram.revoke(bad_token)
    fake_telegram.push_text(good_token, "still there?", chat_id=14)
    await fake_telegram.await_sent(good_token, 1)
    row = await wait_for(lambda: status_is(bad.id, "error"))
    assert row and "401" in row.last_error and row.last_error_at is not None
    assert bad_token not in row.last_error
    polls_after = len(fake_telegram.calls(bad_token, "getUpdates"))
    fake_telegram.push_text(good_token, "and now?", chat_id=15)
    await fake_telegram.await_sent(good_token, 2)
    assert len(fake_telegram.calls(bad_token, "getUpdates")) == polls_after  # stopped, not hammering
    assert (await bot_row(good.id)).status == "running"
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert bad_token not in text and good_token not in text


async def test_429_retry_after_obeyed_without_delaying_other_chats(tenant, fake_telegram, runners):
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain())
    fake_telegram.fail_next(token, "sendMessage", 429, retry_after=2)
    fake_telegram.push_text(token, "first", chat_id=21)
    await wait_for(lambda: len(fake_telegram.calls(token, "sendMessage")) >= 1)
    fake_telegram.push_text(token, "second", chat_id=22)
    sent = await fake_telegram.await_sent(token, 2)
    assert [m["chat_id"] for m in sent] == [22, 21]  # the other chat was not held up
    attempts = [c[2] for c in fake_telegram.calls(token, "sendMessage") if int(c[1]["chat_id"]) == 21]
    assert len(attempts) == 2 and attempts[1] - attempts[0] >= 1.95


async def test_human_handled_dialog_is_not_answered_by_ai(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain)
    fake_telegram.push_text(token, "hi", chat_id=31)
    await fake_telegram.await_sent(token, 1)
    async with async_session() as s:
        await s.execute(sa.update(Dialog).where(Dialog.bot_id == bot.id).values(status="human"))
        await s.commit()
    fake_telegram.push_text(token, "I want a person", chat_id=31)
    await wait_for(lambda: _count_user_messages(bot.id, 2))
    await asyncio.sleep(0.5)
    assert len(fake_telegram.sent_messages(token)) == 1 and len(brain.calls) == 1
    assert set((await _statuses(bot.id)).values()) == {"answered", "ignored"}


async def _count_user_messages(bot_id, n):
    return len([m for m in await _messages(bot_id) if m.role == "user"]) >= n


async def test_pause_resume_and_token_change_take_effect_by_command(tenant, fake_telegram):
    from chatai.bots.runner import BotRunner
    from tests.bots.conftest import FAST

    bot, token = await connect(fake_telegram, tenant)
    # No reconcile round during the test: whatever takes effect below, the Redis command did it (how soon is
    # the machine's business; a test does not time it).
    runner = BotRunner(answer_fn=FakeBrain(), **{**FAST, "reconcile_interval": 3600})
    await runner.start()
    try:
        await wait_for(lambda: status_is(bot.id, "running"))
        worker = runner.workers[bot.id]
        async with async_session() as s:
            await pause_bot(s, owner_id=tenant.owner_id, bot_id=bot.id)
        assert await wait_for(lambda: bot.id not in runner.workers)
        assert await wait_for(lambda: worker_stopped(worker))
        await asyncio.sleep(0.3)
        polls = len(fake_telegram.calls(token, "getUpdates"))
        await asyncio.sleep(1.2)
        assert len(fake_telegram.calls(token, "getUpdates")) == polls
        assert (await bot_row(bot.id)).status == "paused"

        async with async_session() as s:
            await resume_bot(s, owner_id=tenant.owner_id, bot_id=bot.id)
        assert await wait_for(lambda: status_is(bot.id, "running"))

        new_token = token.split(":")[0] + ":CC" + "z" * 33
        fake_telegram.add_bot(new_token, "same_bot")
        async with async_session() as s:
            await replace_token(s, owner_id=tenant.owner_id, bot_id=bot.id, token=new_token)
        assert await wait_for(lambda: fake_telegram.calls(new_token, "getUpdates"))
        fake_telegram.push_text(new_token, "new token works?", chat_id=41)
        assert await fake_telegram.await_sent(new_token, 1)
    finally:
        await runner.stop()


async def test_two_runners_split_bots_and_take_over_a_dead_one(db, fake_telegram, runners):
    tenant = await make_tenant()
    bots = [await connect(fake_telegram, tenant) for _ in range(6)]
    a = await runners(answer_fn=FakeBrain(), runner_id="runner-a")
    b = await runners(answer_fn=FakeBrain(), runner_id="runner-b")
    all_ids = {bot.id for bot, _ in bots}
    assert await wait_for(lambda: set(a.workers) | set(b.workers) == all_ids)
    await asyncio.sleep(1.0)
    assert not set(a.workers) & set(b.workers)
    for _, token in bots:
        assert fake_telegram.bot(token).conflicts == 0 and fake_telegram.bot(token).max_pollers == 1

    orphaned = set(a.workers) or set(b.workers)
    dead, survivor = (a, b) if set(a.workers) else (b, a)
    await dead.abort()
    assert await wait_for(lambda: set(survivor.workers) == all_ids)
    token_of = {bot.id: token for bot, token in bots}
    moved_token = token_of[next(iter(orphaned))]
    fake_telegram.push_text(moved_token, "anyone?", chat_id=51)
    assert await fake_telegram.await_sent(moved_token, 1)
    for _, token in bots:
        assert fake_telegram.bot(token).max_pollers == 1


async def test_runner_health_reports_running_bots(tenant, fake_telegram, runners):
    from chatai.bots.health import runner_health

    bot, _ = await connect(fake_telegram, tenant)
    assert (await runner_health())["status"] == "down"
    runner = await runners(answer_fn=FakeBrain())
    await wait_for(lambda: status_is(bot.id, "running"))

    async def reported() -> dict | None:  # the next heartbeat after the bot came up, however late it is
        health = await runner_health()
        return health if health["bots_running"] == 1 and health["last_poll"] else None

    health = await wait_for(reported)
    assert health and health["status"] == "ok" and health["runners"] == 1
    assert health["bots_error"] == 0 and health["last_poll"]
    row = await bot_row(bot.id)
    assert row.last_poll_at is not None and row.runner_id == runner.runner_id


async def test_bots_started_together_do_not_poll_in_step(db, fake_telegram, runners):
    """Idle bots started together would end their long polls together, every poll_timeout, for good: the
    first poll of each gets a random timeout, later ones the full one."""
    tenant = await make_tenant()
    bots = [await connect(fake_telegram, tenant) for _ in range(8)]
    await runners(answer_fn=FakeBrain(), poll_timeout=6)
    assert await wait_for(lambda: all(len(fake_telegram.calls(t, "getUpdates")) >= 2 for _, t in bots))
    timeouts = [[int(float(c[1]["timeout"])) for c in fake_telegram.calls(t, "getUpdates")] for _, t in bots]
    firsts = [t[0] for t in timeouts]
    assert all(1 <= first <= 6 for first in firsts) and len(set(firsts)) > 1
    assert all(t[1] == 6 for t in timeouts)
