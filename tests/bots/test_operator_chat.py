"""The operator chat (issue 22 part 1) through the real runner and the fake Bot API: linking, alerts, take
over by button, reply-to delivery, a second operator refused, release, a burst as one summary, quiet
hours and the owner's setting, and another owner's data refused on every path."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import sqlalchemy as sa

from chatai.db.models import Dialog, Message, TelegramUpdate, User, utcnow
from chatai.db.operator_models import OperatorHold, TelegramOperator
from chatai.db.session import async_session
from chatai.services import handoff, notifications, operator_links
from chatai.web.i18n import text as say
from tests.bots.conftest import FakeBrain, connect, make_tenant, wait_for
from tests.fakes.telegram_updates import callback_update, reply_update

CUSTOMER = 601
OLGA, PETR, STRANGER = 9001, 9002, 9003


async def _set_locale(owner_id: uuid.UUID, locale: str) -> None:
    async with async_session() as s:
        await s.execute(sa.update(User).where(User.id == owner_id).values(locale=locale))
        await s.commit()


async def _code(owner_id: uuid.UUID, bot_id: uuid.UUID, **kw) -> str:
    async with async_session() as s:
        return (await operator_links.create_link_code(s, owner_id=owner_id, bot_id=bot_id, **kw)).code


async def _open_link(fake, token: str, code: str, user_id: int, name: str) -> str:
    """The account `user_id` opens t.me/<bot>?start=<code>; the bot's answer in that chat."""
    before = len([m for m in fake.sent_messages(token) if m["chat_id"] == user_id])
    fake.push_text(token, f"/start {code}", chat_id=user_id, first_name=name)
    assert await wait_for(lambda: len([m for m in fake.sent_messages(token) if m["chat_id"] == user_id]) > before)
    return [m for m in fake.sent_messages(token) if m["chat_id"] == user_id][-1]["text"]


async def _linked(fake, token: str, tenant, bot, user_id: int, name: str) -> None:
    answer = await _open_link(fake, token, await _code(tenant.owner_id, bot.id), user_id, name)
    assert answer == say("en", "opchat_linked")


def _in_chat(fake, token: str, chat_id: int) -> list[dict]:
    return [m for m in fake.sent_messages(token) if m["chat_id"] == chat_id]


async def _next_in_chat(fake, token: str, chat_id: int, count: int) -> list[dict]:
    assert await wait_for(lambda: len(_in_chat(fake, token, chat_id)) >= count), _in_chat(fake, token, chat_id)
    return _in_chat(fake, token, chat_id)


async def _dialog(bot_id: uuid.UUID, chat_id: int) -> Dialog | None:
    async with async_session() as s:
        return (await s.execute(sa.select(Dialog).where(Dialog.bot_id == bot_id, Dialog.telegram_chat_id == chat_id))
                ).scalar_one_or_none()


async def _status(bot_id: uuid.UUID, chat_id: int) -> str:
    dialog = await _dialog(bot_id, chat_id)
    return dialog.status if dialog else ""


async def _press(fake, token: str, sent: dict, data: str, user_id: int) -> str:
    """Press a button of a sent message; the sentence the bot shows (answerCallbackQuery)."""
    before = len(fake.callback_answers(token))
    fake.push_update(token, callback_update(sent, data, user_id=user_id))
    assert await wait_for(lambda: len(fake.callback_answers(token)) > before)
    return fake.callback_answers(token)[-1]["text"]


def _button(sent: dict, label: str) -> dict:
    return next(b for row in sent["reply_markup"]["inline_keyboard"] for b in row if b["text"] == label)


async def _operator_dialogs(*chat_ids: int) -> int:
    async with async_session() as s:
        return await s.scalar(sa.select(sa.func.count()).select_from(Dialog)
                              .where(Dialog.telegram_chat_id.in_(chat_ids)))


async def test_linking_valid_reused_expired_and_another_owners_code(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    other = await make_tenant("other-owner@example.com")
    other_bot, _ = await connect(fake_telegram, other)
    await _set_locale(tenant.owner_id, "ru")  # the bot confirms in the owner's language
    await runners(answer_fn=brain)

    code = await _code(tenant.owner_id, bot.id)
    assert await _open_link(fake_telegram, token, code, OLGA, "Olga") == say("ru", "opchat_linked")
    assert await _open_link(fake_telegram, token, code, PETR, "Petr") == say("ru", "opchat_used")
    expired = await _code(tenant.owner_id, bot.id, now=utcnow() - timedelta(minutes=16))
    assert await _open_link(fake_telegram, token, expired, PETR, "Petr") == say("ru", "opchat_expired")
    foreign = await _code(other.owner_id, other_bot.id)  # another owner's link, opened in this owner's bot
    assert await _open_link(fake_telegram, token, foreign, PETR, "Petr") == say("ru", "opchat_other_bot")
    assert await _open_link(fake_telegram, token, "op_made-up", PETR, "Petr") == say("ru", "opchat_invalid")

    async with async_session() as s:
        mine = await operator_links.list_operators(s, owner_id=tenant.owner_id)
        theirs = await operator_links.list_operators(s, owner_id=other.owner_id)
    assert [(o.telegram_user_id, o.name, o.bot_username) for o in mine] == [(OLGA, "Olga", bot.username)]
    assert theirs == []
    # None of it was a customer's question: no dialog, no AI call, every update settled as 'ignored'.
    assert brain.calls == [] and await _operator_dialogs(OLGA, PETR) == 0
    async with async_session() as s:
        statuses = (await s.execute(sa.select(TelegramUpdate.status).where(TelegramUpdate.bot_id == bot.id))).scalars()
        assert set(statuses) == {"ignored"}

    # A linked operator's own messages never reach the AI either.
    fake_telegram.push_text(token, "What does delivery cost?", chat_id=OLGA, first_name="Olga")
    sent = await _next_in_chat(fake_telegram, token, OLGA, 2)
    assert sent[-1]["text"] == say("ru", "opchat_which_customer")
    assert brain.calls == [] and await _operator_dialogs(OLGA) == 0


async def test_alert_take_over_forward_reply_and_release(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain, operator_alert_gather=0.2)
    await _linked(fake_telegram, token, tenant, bot, OLGA, "Olga")

    fake_telegram.push_text(token, "Позовите оператора", chat_id=CUSTOMER, first_name="Alice")
    alert = (await _next_in_chat(fake_telegram, token, OLGA, 2))[1]
    dialog = await _dialog(bot.id, CUSTOMER)
    assert alert["text"].startswith(say("en", "opchat_alert", customer="Alice", bot=bot.username))
    assert "Позовите оператора" in alert["text"] and alert["parse_mode"] is None  # customer words stay text
    assert _button(alert, "Take over")["callback_data"] == f"op:t:{dialog.id}"
    assert _button(alert, "Return to AI")["callback_data"] == f"op:r:{dialog.id}"
    assert _button(alert, "Open in dashboard")["url"].endswith(f"/dashboard/inbox?dialog={dialog.id}")

    answer = await _press(fake_telegram, token, alert, f"op:t:{dialog.id}", OLGA)
    assert answer == say("en", "opchat_taken", customer="Alice")
    taken = await _dialog(bot.id, CUSTOMER)
    assert taken.status == "human" and taken.operator_id == tenant.owner_id
    # The pressed alert keeps only what the holder can still do (editMessageReplyMarkup).
    edited = await wait_for(lambda: [b["text"] for row in _in_chat(fake_telegram, token, OLGA)[1]["reply_markup"][
        "inline_keyboard"] for b in row] == ["Return to AI", "Open in dashboard"])
    assert edited, _in_chat(fake_telegram, token, OLGA)[1]["reply_markup"]

    # The customer's further messages reach the holder's chat as they arrive.
    fake_telegram.push_text(token, "Алло, вы тут?", chat_id=CUSTOMER, first_name="Alice")
    forwarded = (await _next_in_chat(fake_telegram, token, OLGA, 3))[2]
    assert forwarded["text"] == say("en", "opchat_forward", customer="Alice", text="Алло, вы тут?")

    # A reply to the forwarded message is the operator's reply to the customer, through the dialog's bot.
    before = len(_in_chat(fake_telegram, token, CUSTOMER))
    fake_telegram.push_update(token, reply_update("Да, <b>здесь</b>!", forwarded, chat_id=OLGA))
    to_customer = (await _next_in_chat(fake_telegram, token, CUSTOMER, before + 1))[-1]
    assert to_customer["text"] == "Да, &lt;b&gt;здесь&lt;/b&gt;!"  # shown as typed, never as markup
    async with async_session() as s:
        replies = (await s.execute(sa.select(Message.text).where(Message.dialog_id == dialog.id,
                                                                 Message.role == "operator"))).scalars().all()
    assert replies == ["Да, <b>здесь</b>!"]

    fake_telegram.push_text(token, "/release", chat_id=OLGA, first_name="Olga")
    released = (await _next_in_chat(fake_telegram, token, OLGA, 4))[3]
    assert released["text"] == say("en", "opchat_released", customer="Alice")
    assert (await _next_in_chat(fake_telegram, token, CUSTOMER, before + 2))[-1]["text"] == \
        handoff.end_user_text("released", "ru")
    assert await _status(bot.id, CUSTOMER) == "ai"
    assert brain.calls == [] and await _operator_dialogs(OLGA) == 0


async def test_second_operator_is_told_who_holds_the_dialog(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain, operator_alert_gather=0.2)
    await _linked(fake_telegram, token, tenant, bot, OLGA, "Olga")
    await _linked(fake_telegram, token, tenant, bot, PETR, "Petr")

    fake_telegram.push_text(token, "I want to talk to a human", chat_id=CUSTOMER, first_name="Alice")
    olga_alert = (await _next_in_chat(fake_telegram, token, OLGA, 2))[1]
    petr_alert = (await _next_in_chat(fake_telegram, token, PETR, 2))[1]
    dialog = await _dialog(bot.id, CUSTOMER)

    # Petr answers by replying to his alert: that takes the waiting dialog over and reaches the customer.
    before = len(_in_chat(fake_telegram, token, CUSTOMER))
    fake_telegram.push_update(token, reply_update("Hi, Petr here", petr_alert, chat_id=PETR, first_name="Petr"))
    assert (await _next_in_chat(fake_telegram, token, CUSTOMER, before + 1))[-1]["text"] == "Hi, Petr here"
    async with async_session() as s:
        hold = await s.get(OperatorHold, dialog.id)
        petr = (await s.execute(sa.select(TelegramOperator).where(TelegramOperator.telegram_user_id == PETR))
                ).scalar_one()
    assert hold.operator_id == petr.id

    # Olga is refused, by name, on every path; nothing of hers reaches the customer.
    held = say("en", "opchat_held_by_other", holder="Petr")
    assert await _press(fake_telegram, token, olga_alert, f"op:t:{dialog.id}", OLGA) == held
    assert await _press(fake_telegram, token, olga_alert, f"op:r:{dialog.id}", OLGA) == held
    fake_telegram.push_update(token, reply_update("Olga here", olga_alert, chat_id=OLGA))
    assert (await _next_in_chat(fake_telegram, token, OLGA, 3))[-1]["text"] == held
    assert len(_in_chat(fake_telegram, token, CUSTOMER)) == before + 1
    assert await _status(bot.id, CUSTOMER) == "human"

    # The holder's "Return to AI" button hands it back.
    answer = await _press(fake_telegram, token, petr_alert, f"op:r:{dialog.id}", PETR)
    assert answer == say("en", "opchat_released", customer="Alice")
    assert await wait_for(lambda: _status(bot.id, CUSTOMER)) == "ai"
    async with async_session() as s:
        assert await s.get(OperatorHold, dialog.id) is None
    assert brain.calls == []


async def _make_waiting(tenant, bot, count: int, first: int = 0) -> list[uuid.UUID]:
    """`count` dialogs of the bot that start waiting in one transaction, then their live events (a burst)."""
    now = utcnow()
    async with async_session() as s:
        dialogs = [Dialog(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, bot_id=bot.id,
                          telegram_chat_id=50_000 + n, user_name=f"Customer {n}", status="waiting", handoff_at=now)
                   for n in range(first, first + count)]
        s.add_all(dialogs)
        await s.commit()
    await handoff.publish_events([handoff.status_event(d) for d in dialogs])
    return [d.id for d in dialogs]


async def _held_by_olga(fake, tenant, runners) -> tuple:
    """A bot with Olga linked as operator, Alice asking for a person, and Olga pressing "Take over" on the
    alert: (bot, token, the alert, the dialog)."""
    bot, token = await connect(fake, tenant)
    await runners(answer_fn=FakeBrain(), operator_alert_gather=0.2)
    await _linked(fake, token, tenant, bot, OLGA, "Olga")
    fake.push_text(token, "Позовите оператора", chat_id=CUSTOMER, first_name="Alice")
    alert = (await _next_in_chat(fake, token, OLGA, 2))[1]
    dialog = await _dialog(bot.id, CUSTOMER)
    await _press(fake, token, alert, f"op:t:{dialog.id}", OLGA)
    return bot, token, alert, dialog


async def _alerted_since(operator_user_id: int, moment) -> bool:
    async with async_session() as s:
        until = await s.scalar(sa.select(TelegramOperator.alerted_until)
                               .where(TelegramOperator.telegram_user_id == operator_user_id))
    return until >= moment


async def test_burst_of_fifty_waiting_dialogs_is_one_summary(tenant, fake_telegram, runners):
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain(), operator_alert_gather=0.2)
    await _linked(fake_telegram, token, tenant, bot, OLGA, "Olga")

    await _make_waiting(tenant, bot, 50)
    summary = (await _next_in_chat(fake_telegram, token, OLGA, 2))[1]
    assert summary["text"] == say("en", "opchat_summary", n=50)
    assert _button(summary, "Open in dashboard")["url"].endswith("/dashboard/inbox")
    await asyncio.sleep(0.5)  # anything else would have been sent by now (gather 0.2 s): nothing was
    assert len(_in_chat(fake_telegram, token, OLGA)) == 2


async def test_alerts_respect_quiet_hours_and_the_owners_setting(tenant, fake_telegram, runners):
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain(), operator_alert_gather=0.2)
    await _linked(fake_telegram, token, tenant, bot, OLGA, "Olga")
    now = utcnow()
    start = (now - timedelta(minutes=30)).strftime("%H:%M")
    end = (now + timedelta(minutes=30)).strftime("%H:%M")
    async with async_session() as s:
        await operator_links.set_quiet_hours(s, owner_id=tenant.owner_id, start=start, end=end, timezone="UTC")

    first = await _make_waiting(tenant, bot, 1)
    async with async_session() as s:
        handoff_at = (await s.get(Dialog, first[0])).handoff_at
    assert await wait_for(lambda: _alerted_since(OLGA, handoff_at))  # skipped, not sent
    assert len(_in_chat(fake_telegram, token, OLGA)) == 1

    async with async_session() as s:
        await operator_links.set_quiet_hours(s, owner_id=tenant.owner_id, start="", end="")
        await notifications.set_preference(s, user_id=tenant.owner_id, kind="handoff_waiting", enabled=False)
        await s.commit()
    second = await _make_waiting(tenant, bot, 1, first=1)
    async with async_session() as s:
        handoff_at = (await s.get(Dialog, second[0])).handoff_at
    assert await wait_for(lambda: _alerted_since(OLGA, handoff_at))
    assert len(_in_chat(fake_telegram, token, OLGA)) == 1

    async with async_session() as s:
        await notifications.set_preference(s, user_id=tenant.owner_id, kind="handoff_waiting", enabled=True)
        await s.commit()
    await _make_waiting(tenant, bot, 1, first=2)
    alert = (await _next_in_chat(fake_telegram, token, OLGA, 2))[1]
    assert alert["text"].startswith(say("en", "opchat_alert", customer="Customer 2", bot=bot.username))


async def test_another_owners_operator_and_strangers_are_refused(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    other = await make_tenant("other-owner@example.com")
    other_bot, other_token = await connect(fake_telegram, other)
    await runners(answer_fn=brain, operator_alert_gather=0.2)
    await _linked(fake_telegram, token, tenant, bot, OLGA, "Olga")
    await _linked(fake_telegram, other_token, other, other_bot, PETR, "Petr")

    fake_telegram.push_text(token, "Позовите оператора", chat_id=CUSTOMER, first_name="Alice")
    alert = (await _next_in_chat(fake_telegram, token, OLGA, 2))[1]
    dialog = await _dialog(bot.id, CUSTOMER)
    await asyncio.sleep(0.5)
    assert len(_in_chat(fake_telegram, other_token, PETR)) == 1  # only the link's confirmation: no alert

    # The other owner's operator presses this owner's buttons in their own bot: not found, nothing changes.
    not_found = say("en", "opchat_not_found")
    assert await _press(fake_telegram, other_token, alert, f"op:t:{dialog.id}", PETR) == not_found
    assert await _press(fake_telegram, other_token, alert, f"op:r:{dialog.id}", PETR) == not_found
    # ... or replies to a copy of the alert: no alert of theirs has that id, so no customer is reached.
    fake_telegram.push_update(other_token, reply_update("Hi", alert, chat_id=PETR, first_name="Petr"))
    assert (await _next_in_chat(fake_telegram, other_token, PETR, 2))[-1]["text"] == \
        say("en", "opchat_which_customer")
    # Someone never linked presses a button of this bot.
    assert await _press(fake_telegram, token, alert, f"op:t:{dialog.id}", STRANGER) == \
        say("en", "opchat_not_operator")
    assert await _status(bot.id, CUSTOMER) == "waiting"
    assert len(_in_chat(fake_telegram, token, CUSTOMER)) == 1  # only the "a person will answer" notice

    async with async_session() as s:
        ids = [o.id for o in await operator_links.list_operators(s, owner_id=other.owner_id)]
        for call in (lambda: operator_links.create_link_code(s, owner_id=tenant.owner_id, bot_id=other_bot.id),
                     lambda: operator_links.unlink(s, owner_id=tenant.owner_id, operator_id=ids[0])):
            try:
                await call()
            except operator_links.OperatorLinkError as exc:
                assert exc.code == "not_found"
            else:
                raise AssertionError("another owner's bot or operator was not refused")
        assert len(await operator_links.list_operators(s, owner_id=other.owner_id)) == 1


async def test_webhook_mode_hands_operator_updates_to_the_runner(tenant, fake_telegram, runners, monkeypatch):
    import httpx
    from starlette.applications import Starlette

    from chatai.bots.webhook import SECRET_HEADER, webhook_routes
    from chatai.security import decrypt_secret
    from chatai.settings import get_settings
    from tests.bots.conftest import bot_row, status_is
    from tests.fakes.telegram_updates import text_update

    monkeypatch.setenv("PUBLIC_URL", "https://support.example.com")
    get_settings.cache_clear()
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain, mode="webhook")
    assert await wait_for(lambda: status_is(bot.id, "running"))
    assert "callback_query" in fake_telegram.calls(token, "setWebhook")[-1][1]["allowed_updates"]
    secret = decrypt_secret((await bot_row(bot.id)).webhook_secret)
    code = await _code(tenant.owner_id, bot.id)
    app = Starlette(routes=webhook_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        async def deliver(update: dict) -> None:
            for _ in range(2):  # Telegram retries a delivery it thinks failed: handled once
                response = await client.post(f"/telegram/webhook/{bot.id}", json=update,
                                             headers={SECRET_HEADER: secret})
                assert response.status_code == 200

        await deliver(text_update(f"/start {code}", chat_id=OLGA, first_name="Olga", update_id=901))
        assert (await _next_in_chat(fake_telegram, token, OLGA, 1))[0]["text"] == say("en", "opchat_linked")
        await deliver(text_update("Just checking", chat_id=OLGA, first_name="Olga", update_id=902))
        assert (await _next_in_chat(fake_telegram, token, OLGA, 2))[1]["text"] == say("en", "opchat_which_customer")
    await asyncio.sleep(0.5)
    assert len(_in_chat(fake_telegram, token, OLGA)) == 2
    assert brain.calls == [] and await _operator_dialogs(OLGA) == 0


async def test_telegram_actions_reach_the_inbox_live_and_dashboard_actions_reach_telegram(tenant, fake_telegram,
                                                                                           runners):
    import json

    from chatai.cache import get_redis
    from chatai.services.dialogs import DIALOG_EVENTS_CHANNEL

    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain(), operator_alert_gather=0.2)
    await _linked(fake_telegram, token, tenant, bot, OLGA, "Olga")
    events = get_redis().pubsub()
    await events.subscribe(DIALOG_EVENTS_CHANNEL)
    fake_telegram.push_text(token, "Позовите оператора", chat_id=CUSTOMER, first_name="Alice")
    alert = (await _next_in_chat(fake_telegram, token, OLGA, 2))[1]
    dialog = await _dialog(bot.id, CUSTOMER)

    await _press(fake_telegram, token, alert, f"op:t:{dialog.id}", OLGA)
    fake_telegram.push_update(token, reply_update("On it", alert, chat_id=OLGA))
    seen: list[dict] = []

    async def inbox_saw(**wanted: str) -> bool:
        while True:
            message = await events.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message is None:
                return any(all(e.get(k) == v for k, v in wanted.items()) for e in seen)
            seen.append(json.loads(message["data"]))

    assert await wait_for(lambda: inbox_saw(type="status", dialog_id=str(dialog.id), status="human"))
    assert await wait_for(lambda: inbox_saw(type="message", dialog_id=str(dialog.id), role="operator",
                                            delivery_status="sent"))
    await events.aclose()

    # The reverse: the owner hands the dialog back in the dashboard; its Telegram holder is told at once.
    async with async_session() as s:
        await handoff.release(s, owner_id=tenant.owner_id, dialog_id=dialog.id, operator_id=tenant.owner_id)
    told = (await _next_in_chat(fake_telegram, token, OLGA, 3))[2]
    assert told["text"] == say("en", "opchat_released_elsewhere", customer="Alice")
    async with async_session() as s:
        assert await s.get(OperatorHold, dialog.id) is None


async def test_a_held_dialog_timing_out_tells_its_telegram_holder(tenant, fake_telegram, runners):
    bot, token, _alert, dialog = await _held_by_olga(fake_telegram, tenant, runners)
    assert await wait_for(lambda: _status(bot.id, CUSTOMER)) == "human"

    async with async_session() as s:  # the operator stayed silent past the assistant's handoff timeout
        assert await handoff.time_out(s, dialog_id=dialog.id, now=utcnow() + timedelta(hours=2))
    told = (await _next_in_chat(fake_telegram, token, OLGA, 3))[2]
    assert told["text"] == say("en", "opchat_timed_out", customer="Alice")


async def test_alerts_beyond_the_per_minute_limit_become_a_summary(tenant, fake_telegram, runners, monkeypatch):
    from chatai.bots import operator_alerts

    monkeypatch.setattr(operator_alerts, "MAX_ALERTS_PER_MINUTE", 1)
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain(), operator_alert_gather=0.2)
    await _linked(fake_telegram, token, tenant, bot, OLGA, "Olga")

    await _make_waiting(tenant, bot, 1)
    alert = (await _next_in_chat(fake_telegram, token, OLGA, 2))[1]
    assert alert["text"].startswith(say("en", "opchat_alert", customer="Customer 0", bot=bot.username))
    await _make_waiting(tenant, bot, 1, first=1)  # within the minute: over the limit
    summary = (await _next_in_chat(fake_telegram, token, OLGA, 3))[2]
    assert summary["text"] == say("en", "opchat_summary", n=1)
