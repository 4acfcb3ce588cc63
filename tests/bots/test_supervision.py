"""Supervision of one failing bot: 409 Conflict (another program polls the same bot) and network trouble."""

from __future__ import annotations

from tests.bots.conftest import FakeBrain, connect, status_is, wait_for


async def test_conflict_marks_error_with_reason_then_recovers(tenant, fake_telegram, runners):
    stolen, stolen_token = await connect(fake_telegram, tenant)
    other, other_token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain())
    await wait_for(lambda: status_is(stolen.id, "running"))
    fake_telegram.set_conflict(stolen_token)  # someone else started polling this bot
    row = await wait_for(lambda: status_is(stolen.id, "error"))
    assert "409" in row.last_error and stolen_token not in row.last_error
    fake_telegram.push_text(other_token, "unaffected?", chat_id=31)
    assert len(await fake_telegram.await_sent(other_token, 1)) == 1
    # Still retried (with backoff), so it comes back by itself once the other program stops.
    fake_telegram.set_conflict(stolen_token, on=False)
    await wait_for(lambda: status_is(stolen.id, "running"))
    fake_telegram.push_text(stolen_token, "back?", chat_id=32)
    assert "Answer to: back?" in (await fake_telegram.await_sent(stolen_token, 1))[0]["text"]


async def test_telegram_unreachable_marks_error_then_recovers(tenant, fake_telegram, runners):
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain())
    await wait_for(lambda: status_is(bot.id, "running"))
    fake_telegram.fail_next(token, "getUpdates", 502, times=4)  # Bad Gateway, four polls in a row
    row = await wait_for(lambda: status_is(bot.id, "error"))
    assert "Cannot reach Telegram" in row.last_error and token not in row.last_error
    await wait_for(lambda: status_is(bot.id, "running"))  # retried with backoff until it worked
    fake_telegram.push_text(token, "hello again", chat_id=41)
    assert "Answer to: hello again" in (await fake_telegram.await_sent(token, 1))[0]["text"]
