"""The operator chat loses nothing (issue 22 review): an alert Telegram did not take is sent later (backoff,
retry_after obeyed) and never twice; an operator who blocked the bot is unlinked with a sentence for the owner;
an operator's update that reached the webhook while no runner listened is handled once a runner runs the bot;
a runner that lost the bot's lease sends nothing for it. Real runner, fake Bot API, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from chatai.bots import operator_alerts, operator_chat
from chatai.bots.contracts import LeaseLost
from chatai.db.models import BotEvent, TelegramUpdate
from chatai.db.operator_models import OperatorUpdate, TelegramOperator
from chatai.db.session import async_session
from chatai.services import operator_links
from chatai.web.i18n import text as say
from chatai.web.texts.bot_events import bot_event_text
from tests.bots.conftest import FakeBrain, connect, wait_for
from tests.bots.test_operator_chat import (
    CUSTOMER,
    OLGA,
    PETR,
    _alerted_since,
    _code,
    _held_by_olga,
    _in_chat,
    _linked,
    _make_waiting,
)

ALERT = say("en", "opchat_alert", customer="{customer}", bot="").split("{customer}")[0]  # the alert's opening


def _alert_calls(fake, token: str, chat_id: int, customer: str) -> list[float]:
    """When the fake saw each sendMessage of an alert about `customer` to `chat_id` (failed ones too)."""
    return [at for _m, params, at in fake.calls(token, "sendMessage")
            if str(params.get("chat_id")) == str(chat_id) and customer in str(params.get("text", ""))]


def _alerts_shown(fake, token: str, chat_id: int, customer: str) -> int:
    return sum(1 for m in _in_chat(fake, token, chat_id) if m["text"].startswith(ALERT) and customer in m["text"])


async def _events(bot_id, kind: str) -> list[str]:
    async with async_session() as s:
        return list((await s.execute(sa.select(BotEvent.message).where(BotEvent.bot_id == bot_id,
                                                                       BotEvent.kind == kind))).scalars())


async def test_failed_alerts_are_sent_later_obeying_retry_after_and_never_twice(tenant, fake_telegram, runners,
                                                                                monkeypatch):
    monkeypatch.setattr(operator_chat, "INLINE_RETRY_AFTER", 0.0)  # every 429 goes to a later round
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain(), operator_alert_gather=0.2)
    await _linked(fake_telegram, token, tenant, bot, OLGA, "Olga")
    # The second of two alerts fails: first a 502, then a 429 asking to wait a second.
    fake_telegram.fail_next(token, "sendMessage", 502, chat_id=OLGA, contains="Customer 1")
    fake_telegram.fail_next(token, "sendMessage", 429, retry_after=1, chat_id=OLGA, contains="Customer 1")

    dialog_ids = await _make_waiting(tenant, bot, 2)
    assert await wait_for(lambda: _alerts_shown(fake_telegram, token, OLGA, "Customer 1") == 1), \
        _in_chat(fake_telegram, token, OLGA)
    tries = _alert_calls(fake_telegram, token, OLGA, "Customer 1")
    assert len(tries) == 3  # 502, 429, sent
    assert tries[2] - tries[1] >= 1.0  # retry_after obeyed (the fake's own clock)
    # The alert that went out in the first round is not sent again by the rounds that followed.
    assert len(_alert_calls(fake_telegram, token, OLGA, "Customer 0")) == 1
    assert _alerts_shown(fake_telegram, token, OLGA, "Customer 0") == 1
    async with async_session() as s:
        from chatai.db.models import Dialog

        last = max([(await s.get(Dialog, d)).handoff_at for d in dialog_ids])
    assert await wait_for(lambda: _alerted_since(OLGA, last))  # done: the cursor moved past both
    await asyncio.sleep(0.6)  # two sweeps: nothing more is sent
    assert len(_alert_calls(fake_telegram, token, OLGA, "Customer")) == 4


async def test_an_operator_who_blocked_the_bot_is_unlinked_and_the_owner_told(tenant, fake_telegram, runners):
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain(), operator_alert_gather=0.2)
    await _linked(fake_telegram, token, tenant, bot, OLGA, "Olga")
    await _linked(fake_telegram, token, tenant, bot, PETR, "Petr")
    fake_telegram.fail_next(token, "sendMessage", 403, chat_id=OLGA)

    await _make_waiting(tenant, bot, 1)
    assert await wait_for(lambda: _alerts_shown(fake_telegram, token, PETR, "Customer 0") == 1)
    events = await wait_for(lambda: _events(bot.id, "operator_unlinked"))
    assert events == [operator_alerts.OPERATOR_BLOCKED.format(who="Olga")]
    russian = bot_event_text("ru", events[0])
    assert russian != events[0] and "Olga" in russian  # the owner reads it in their language
    async with async_session() as s:
        left = await operator_links.list_operators(s, owner_id=tenant.owner_id)
    assert [o.telegram_user_id for o in left] == [PETR]
    await _make_waiting(tenant, bot, 1, first=1)
    assert await wait_for(lambda: _alerts_shown(fake_telegram, token, PETR, "Customer 1") == 1)
    assert len(_alert_calls(fake_telegram, token, OLGA, "Customer")) == 1  # the 403, never retried


async def test_alerts_telegram_keeps_refusing_are_given_up_after_bounded_rounds(tenant, fake_telegram, runners,
                                                                                 monkeypatch):
    monkeypatch.setattr(operator_alerts, "MAX_SEND_ATTEMPTS", 3)
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain(), operator_alert_gather=0.2)
    await _linked(fake_telegram, token, tenant, bot, OLGA, "Olga")
    fake_telegram.fail_next(token, "sendMessage", 500, chat_id=OLGA, times=10)

    first = await _make_waiting(tenant, bot, 1)
    events = await wait_for(lambda: _events(bot.id, "operator_alert_failed"))
    assert events == [operator_alerts.ALERTS_GIVEN_UP.format(who="Olga", n=3)]
    assert bot_event_text("ru", events[0]) != events[0]
    async with async_session() as s:
        from chatai.db.models import Dialog

        handoff_at = (await s.get(Dialog, first[0])).handoff_at
    assert await wait_for(lambda: _alerted_since(OLGA, handoff_at))
    await asyncio.sleep(0.6)
    assert len(_alert_calls(fake_telegram, token, OLGA, "Customer 0")) == 3


async def test_a_customer_message_the_holder_did_not_get_is_forwarded_later_once(tenant, fake_telegram, runners):
    _bot, token, _alert, _dialog_held = await _held_by_olga(fake_telegram, tenant, runners)
    fake_telegram.fail_next(token, "sendMessage", 502, chat_id=OLGA, contains="Алло", times=2)

    fake_telegram.push_text(token, "Алло, вы тут?", chat_id=CUSTOMER, first_name="Alice")
    forwarded = say("en", "opchat_forward", customer="Alice", text="Алло, вы тут?")
    assert await wait_for(lambda: [m["text"] for m in _in_chat(fake_telegram, token, OLGA)][2:] == [forwarded])
    await asyncio.sleep(0.6)  # two sweeps: sent once
    assert [m["text"] for m in _in_chat(fake_telegram, token, OLGA)][2:] == [forwarded]
    assert len(_alert_calls(fake_telegram, token, OLGA, "Алло")) == 3  # two refused, one sent


async def _webhook_client(bot_id):
    import httpx
    from starlette.applications import Starlette

    from chatai.bots.webhook import SECRET_HEADER, webhook_routes
    from chatai.security import decrypt_secret
    from tests.bots.conftest import bot_row

    secret = decrypt_secret((await bot_row(bot_id)).webhook_secret)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=Starlette(routes=webhook_routes())),
                               base_url="http://app")
    return client, {SECRET_HEADER: secret}


async def test_an_operators_webhook_update_no_runner_heard_is_handled_once_a_runner_runs(tenant, fake_telegram,
                                                                                        runners, monkeypatch):
    from chatai.cache import get_redis
    from chatai.settings import get_settings
    from tests.bots.conftest import status_is
    from tests.fakes.telegram_updates import text_update

    monkeypatch.setenv("PUBLIC_URL", "https://support.example.com")
    get_settings.cache_clear()
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    first = await runners(answer_fn=brain, mode="webhook")
    assert await wait_for(lambda: status_is(bot.id, "running"))
    await first.stop()  # no runner listens from here on
    assert (await get_redis().pubsub_numsub("chatai:operators:updates"))[0][1] == 0

    code = await _code(tenant.owner_id, bot.id)
    client, headers = await _webhook_client(bot.id)
    async with client:
        for _ in range(2):  # Telegram delivers it again: stored once
            response = await client.post(f"/telegram/webhook/{bot.id}", headers=headers,
                                         json=text_update(f"/start {code}", chat_id=OLGA, first_name="Olga",
                                                          update_id=901))
            assert response.status_code == 200
    async with async_session() as s:
        stored = (await s.execute(sa.select(OperatorUpdate.update_id).where(OperatorUpdate.bot_id == bot.id))
                  ).scalars().all()
        assert stored == [901]
        assert await s.scalar(sa.select(TelegramUpdate.status).where(TelegramUpdate.bot_id == bot.id,
                                                                     TelegramUpdate.update_id == 901)) == "ignored"
    assert _in_chat(fake_telegram, token, OLGA) == []  # acknowledged, not handled yet: nobody listened

    await runners(answer_fn=brain, mode="webhook")  # a runner takes the bot: its sweep handles the update
    assert await wait_for(lambda: len(_in_chat(fake_telegram, token, OLGA)) == 1)
    assert _in_chat(fake_telegram, token, OLGA)[0]["text"] == say("en", "opchat_linked")

    async def row_gone() -> bool:
        async with async_session() as s:
            return await s.scalar(sa.select(sa.func.count()).select_from(OperatorUpdate)) == 0

    assert await wait_for(row_gone)
    await asyncio.sleep(0.6)  # two sweeps later: handled once
    assert len(_in_chat(fake_telegram, token, OLGA)) == 1
    async with async_session() as s:
        assert [o.telegram_user_id for o in await operator_links.list_operators(s, owner_id=tenant.owner_id)] == \
            [OLGA]
    assert brain.calls == []


async def test_a_runner_that_lost_the_bots_lease_sends_nothing_to_operators(tenant, fake_telegram, runners):
    from tests.bots.conftest import status_is

    bot, token = await connect(fake_telegram, tenant)
    stale = await runners(answer_fn=FakeBrain(), operator_alert_gather=0.2, mode="webhook")
    assert await wait_for(lambda: status_is(bot.id, "running"))
    async with async_session() as s:  # Olga linked (as opening the link does)
        code = await _code(tenant.owner_id, bot.id)
        await operator_links.redeem(s, bot_id=bot.id, code=code, telegram_user_id=OLGA, chat_id=OLGA, name="Olga")
        assert await s.scalar(sa.select(sa.func.count()).select_from(TelegramOperator)) == 1

    async def stalled(_bot_ids):  # Redis does not answer this runner's renewals: its leases run out
        await asyncio.Event().wait()

    stale._leases.renew = stalled
    worker = stale.workers[bot.id]
    assert await wait_for(lambda: time.monotonic() > worker.lease_deadline)
    with pytest.raises(LeaseLost):
        await operator_chat.send(worker, OLGA, "hello")
    assert _in_chat(fake_telegram, token, OLGA) == []

    fresh = await runners(answer_fn=FakeBrain(), operator_alert_gather=0.2, mode="webhook")
    assert await wait_for(lambda: bot.id in fresh.workers and fresh.workers[bot.id].status == "running")
    assert stale.workers.get(bot.id) is worker and worker.status == "running"  # still there, still listening

    await _make_waiting(tenant, bot, 1)
    assert await wait_for(lambda: _alerts_shown(fake_telegram, token, OLGA, "Customer 0") == 1)
    await asyncio.sleep(0.6)  # the stale runner's round and sweeps came and went: nothing of theirs
    assert len(_alert_calls(fake_telegram, token, OLGA, "Customer 0")) == 1


async def test_an_operator_update_a_polling_runner_stored_but_did_not_handle_is_handled_by_the_next(
        tenant, fake_telegram, runners):
    """A polling runner stored the update (its offset moved on, Telegram will not send it again) and died
    before handling it: the bot's next runner finds it and handles it once."""
    from chatai.bots import operator_updates
    from chatai.db.session import get_async_engine
    from tests.fakes.telegram_updates import text_update

    bot, token = await connect(fake_telegram, tenant)
    code = await _code(tenant.owner_id, bot.id)
    update = text_update(f"/start {code}", chat_id=OLGA, first_name="Olga", update_id=77)
    async with get_async_engine().connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        assert await operator_updates.store(conn, bot_id=bot.id, update=update)
        assert not await operator_updates.store(conn, bot_id=bot.id, update=update)  # a re-delivery

    await runners(answer_fn=FakeBrain())
    assert await wait_for(lambda: len(_in_chat(fake_telegram, token, OLGA)) == 1)
    assert _in_chat(fake_telegram, token, OLGA)[0]["text"] == say("en", "opchat_linked")
    await asyncio.sleep(0.6)
    assert len(_in_chat(fake_telegram, token, OLGA)) == 1
    async with async_session() as s:
        assert await s.scalar(sa.select(sa.func.count()).select_from(OperatorUpdate)) == 0
