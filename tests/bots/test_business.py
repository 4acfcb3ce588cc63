"""Telegram Business through the real runner and the fake Bot API: connections, answering in the owner's own
chats (channel "business", charged exactly as Telegram), the owner's own message as a takeover, what may not
be answered, edits and deletions, operator replies through the connection, and another owner's bot."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from chatai.business.models import BusinessConnection
from chatai.db.models import MICRO, Dialog, Message, TelegramUpdate, utcnow
from chatai.db.session import async_session
from chatai.services import handoff
from tests.bots.conftest import FakeBrain, connect, wait_for
from tests.bots.test_charging import _fund, _settled, priced  # noqa: F401 - the fixture
from tests.factories import make_tenant
from tests.fakes import telegram_business as tb

CUSTOMER = 5001  # the customer's chat id, the same in the bot's chat and in the owner's account
ACCOUNT = 880001  # the owner's Telegram account


async def _connection(bot_id, connection_id="bc-1") -> BusinessConnection | None:
    async with async_session() as s:
        return await s.get(BusinessConnection, (bot_id, connection_id))


async def _dialogs(owner_id) -> list[Dialog]:
    async with async_session() as s:
        return list((await s.execute(sa.select(Dialog).where(Dialog.owner_id == owner_id)
                                     .order_by(Dialog.created_at))).scalars())


async def _messages(dialog_id) -> list[tuple[str, str]]:
    async with async_session() as s:
        rows = await s.execute(sa.select(Message.role, Message.text).where(Message.dialog_id == dialog_id)
                               .order_by(Message.created_at))
        return [(r, t) for r, t in rows.all()]


async def _update_status(bot_id, update_id) -> str | None:
    async with async_session() as s:
        row = await s.get(TelegramUpdate, (bot_id, update_id))
        return row.status if row else None


async def _connected(fake, tenant, runners, brain=None, **kw):
    bot, token = await connect(fake, tenant)
    await runners(answer_fn=brain or FakeBrain())
    tb.connect(fake, token, connection_id="bc-1", user_id=ACCOUNT, first_name="Maria", username="maria_shop", **kw)
    assert await wait_for(lambda: _connection(bot.id))
    return bot, token


async def test_connection_lifecycle_connect_can_reply_false_disable_and_revoke(tenant, fake_telegram, runners):
    bot, token = await _connected(fake_telegram, tenant, runners)
    row = await _connection(bot.id)
    assert (row.owner_id, row.telegram_user_id, row.user_name, row.username) == (tenant.owner_id, ACCOUNT, "Maria",
                                                                                  "maria_shop")
    assert (row.enabled, row.can_reply, row.revoked_at, row.answerable) == (True, True, None, True)
    assert row.rights == {"can_reply": True, "can_read_messages": True}

    tb.change(fake_telegram, token, "bc-1", can_reply=False)
    assert await wait_for(lambda: _is(bot.id, can_reply=False))
    assert not (await _connection(bot.id)).answerable
    tb.change(fake_telegram, token, "bc-1", can_reply=True, enabled=False)
    assert await wait_for(lambda: _is(bot.id, enabled=False))
    tb.change(fake_telegram, token, "bc-1", enabled=True)
    assert await wait_for(lambda: _is(bot.id, enabled=True))

    # Revoked with no update reaching the bot: the first answer through it is refused by Telegram.
    tb.revoke(fake_telegram, token, "bc-1")
    update_id, _ = tb.customer_message(fake_telegram, token, "bc-1", "Hello?", chat_id=CUSTOMER)
    assert await wait_for(lambda: _revoked(bot.id))
    assert await wait_for(lambda: _update_status_is(bot.id, update_id, "ignored"))
    assert fake_telegram.sent_messages(token) == []
    later, _ = tb.customer_message(fake_telegram, token, "bc-1", "Anyone?", chat_id=CUSTOMER)
    assert await wait_for(lambda: _update_status_is(bot.id, later, "ignored"))  # stored, never answered
    (dialog,) = await _dialogs(tenant.owner_id)
    assert [t for r, t in await _messages(dialog.id) if r == "user"] == ["Hello?", "Anyone?"]


async def _is(bot_id, **expected):
    row = await _connection(bot_id)
    return row if all(getattr(row, k) == v for k, v in expected.items()) else None


async def _revoked(bot_id):
    row = await _connection(bot_id)
    return row is not None and row.revoked_at is not None


async def _update_status_is(bot_id, update_id, status):
    return await _update_status(bot_id, update_id) == status


async def test_business_chat_answered_through_the_connection_charged_exactly_once(priced, fake_telegram,  # noqa: F811
                                                                                  runners):
    await _fund(priced.owner_id, 100 * MICRO)
    brain = FakeBrain(gate=asyncio.Event())
    bot, token = await _connected(fake_telegram, priced, runners, brain=brain)
    update_id, _ = tb.customer_message(fake_telegram, token, "bc-1", "When do you deliver?", chat_id=CUSTOMER)
    await asyncio.wait_for(brain.started.wait(), 10)
    # "typing" through the connection while the answer is produced (drafts do not exist in business chats)
    assert await wait_for(lambda: fake_telegram.calls(token, "sendChatAction"))
    action = fake_telegram.calls(token, "sendChatAction")[0][1]
    assert (action["business_connection_id"], action["chat_id"], action["action"]) == ("bc-1", CUSTOMER, "typing")
    assert fake_telegram.calls(token, "sendMessageDraft") == []
    brain.gate.set()
    (sent,) = await fake_telegram.await_sent(token, 1)
    assert (sent["chat_id"], sent["business_connection_id"]) == (CUSTOMER, "bc-1")
    assert "Answer to: When do you deliver?" in sent["text"]
    balance, _r, _c = await wait_for(lambda: _settled(priced.owner_id, ["committed"]))
    assert balance == 95 * MICRO

    # Telegram delivers the same update again: nothing more is sent, generated or charged.
    fake_telegram.push_update(token, {"update_id": update_id, "business_message": {
        "message_id": 1, "date": 0, "business_connection_id": "bc-1", "text": "When do you deliver?",
        "chat": {"id": CUSTOMER, "type": "private", "first_name": "Ivan"},
        "from": {"id": CUSTOMER, "is_bot": False, "first_name": "Ivan"}}})
    marker = fake_telegram.push_text(token, "ping", chat_id=CUSTOMER)  # the bot's own chat, same customer
    await fake_telegram.await_sent(token, 2)
    assert await wait_for(lambda: _update_status_is(bot.id, marker, "answered"))
    assert len(tb.business_sends(fake_telegram, token)) == 1 and len(brain.calls) == 2
    assert (await _money_after(priced.owner_id))[0] == 90 * MICRO  # one charge each: business, then the bot chat
    business, own = sorted(await _dialogs(priced.owner_id), key=lambda d: d.channel)
    assert (business.channel, business.business_connection_id, business.telegram_chat_id) == ("business", "bc-1",
                                                                                               CUSTOMER)
    assert (own.channel, own.business_connection_id, own.telegram_chat_id) == ("telegram", "", CUSTOMER)
    assert business.cost_micros == 5 * MICRO


async def _money_after(owner_id):
    return await wait_for(lambda: _settled(owner_id, ["committed", "committed"]))


async def test_the_owner_writing_pauses_the_ai_until_release_or_timeout(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await _connected(fake_telegram, tenant, runners, brain=brain)
    tb.customer_message(fake_telegram, token, "bc-1", "Hi, is it open today?", chat_id=CUSTOMER)
    await fake_telegram.await_sent(token, 1)
    owner_update, _ = tb.owner_message(fake_telegram, token, "bc-1", "Yes, until 8. I'll handle this.",
                                       chat_id=CUSTOMER)
    assert await wait_for(lambda: _update_status_is(bot.id, owner_update, "ignored"))
    (dialog,) = await _dialogs(tenant.owner_id)
    assert (dialog.status, dialog.operator_id) == ("human", tenant.owner_id)
    quiet, _ = tb.customer_message(fake_telegram, token, "bc-1", "Great, and tomorrow?", chat_id=CUSTOMER)
    assert await wait_for(lambda: _update_status_is(bot.id, quiet, "ignored"))
    assert len(fake_telegram.sent_messages(token)) == 1 and len(brain.calls) == 1  # the AI stayed silent
    messages = await _messages(dialog.id)
    assert ("operator", "Yes, until 8. I'll handle this.") in messages
    assert ("system", "business_owner_wrote") in messages

    # The owner releases it in the dashboard: back to the AI, with no "you're back with the AI" notice.
    async with async_session() as s:
        await handoff.release(s, owner_id=tenant.owner_id, dialog_id=dialog.id, operator_id=tenant.owner_id)
    answered, _ = tb.customer_message(fake_telegram, token, "bc-1", "And on Sunday?", chat_id=CUSTOMER)
    assert await wait_for(lambda: _update_status_is(bot.id, answered, "answered"))
    assert [m["text"] for m in fake_telegram.sent_messages(token)][-1].startswith("Answer to: And on Sunday?")
    assert len(fake_telegram.sent_messages(token)) == 2

    # Taken again by the owner; their handoff timeout passes without them writing: the AI answers again.
    tb.owner_message(fake_telegram, token, "bc-1", "Let me check.", chat_id=CUSTOMER)
    assert await wait_for(lambda: _status_is(dialog.id, "human"))
    async with async_session() as s:
        assert not await handoff.time_out(s, dialog_id=dialog.id)  # not due yet
    async with async_session() as s:
        assert await handoff.time_out(s, dialog_id=dialog.id, now=utcnow() + timedelta(hours=2))
    after, _ = tb.customer_message(fake_telegram, token, "bc-1", "Hello again", chat_id=CUSTOMER)
    assert await wait_for(lambda: _update_status_is(bot.id, after, "answered"))
    assert len(fake_telegram.sent_messages(token)) == 3  # no notice went to the owner's chat at the timeout


async def _status_is(dialog_id, status):
    async with async_session() as s:
        return (await s.get(Dialog, dialog_id)).status == status


async def test_can_reply_false_is_stored_and_shown_never_answered(priced, fake_telegram, runners):  # noqa: F811
    await _fund(priced.owner_id, 100 * MICRO)
    brain = FakeBrain()
    bot, token = await _connected(fake_telegram, priced, runners, brain=brain, can_reply=False)
    update_id, _ = tb.customer_message(fake_telegram, token, "bc-1", "Price list please", chat_id=CUSTOMER)
    assert await wait_for(lambda: _update_status_is(bot.id, update_id, "ignored"))
    (dialog,) = await _dialogs(priced.owner_id)
    assert dialog.channel == "business" and await _messages(dialog.id) == [("user", "Price list please")]
    assert fake_telegram.sent_messages(token) == [] and brain.calls == []
    assert fake_telegram.calls(token, "sendChatAction") == []
    assert await _settled(priced.owner_id, [])  # nothing reserved nor charged


async def test_edits_and_deletions_are_recorded_not_answered(tenant, fake_telegram, runners):
    bot, token = await _connected(fake_telegram, tenant, runners)
    _u, message_id = tb.customer_message(fake_telegram, token, "bc-1", "Do you sell tea?", chat_id=CUSTOMER)
    await fake_telegram.await_sent(token, 1)
    edit = tb.edited_message(fake_telegram, token, "bc-1", "Do you sell green tea?", message_id=message_id,
                             chat_id=CUSTOMER)
    gone = tb.deleted_messages(fake_telegram, token, "bc-1", [message_id], chat_id=CUSTOMER)
    assert await wait_for(lambda: _update_status_is(bot.id, gone, "ignored"))
    assert await _update_status(bot.id, edit) == "ignored"
    (dialog,) = await _dialogs(tenant.owner_id)
    messages = await _messages(dialog.id)
    assert messages[0] == ("user", "Do you sell green tea?")
    assert [t for r, t in messages if r == "system"] == ["business_edited", "business_deleted"]
    assert len(fake_telegram.sent_messages(token)) == 1


async def test_operator_reply_goes_to_the_business_chat_through_the_connection(tenant, fake_telegram, runners):
    bot, token = await _connected(fake_telegram, tenant, runners)
    tb.customer_message(fake_telegram, token, "bc-1", "Can a person call me?", chat_id=CUSTOMER)
    await fake_telegram.await_sent(token, 1)
    (dialog,) = await _dialogs(tenant.owner_id)
    async with async_session() as s:
        await handoff.take_over(s, owner_id=tenant.owner_id, dialog_id=dialog.id, operator_id=tenant.owner_id)
    async with async_session() as s:
        await handoff.send_operator_message(s, owner_id=tenant.owner_id, dialog_id=dialog.id,
                                            operator_id=tenant.owner_id, text="Calling you in 5 minutes.")
    sent = await fake_telegram.await_sent(token, 2)
    assert (sent[-1]["text"], sent[-1]["chat_id"], sent[-1]["business_connection_id"]) == (
        "Calling you in 5 minutes.", CUSTOMER, "bc-1")


async def test_a_business_update_for_one_owners_bot_never_reaches_another_owners(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await _connected(fake_telegram, tenant, runners, brain=brain)
    other = await make_tenant("other@example.com", name="Other")
    other_bot, other_token = await connect(fake_telegram, other)
    assert await wait_for(lambda: _running(other_bot.id))
    # A message naming the first owner's connection, delivered to the other owner's bot (forged or misrouted),
    # and one "from" the first owner's account: neither is answered, neither touches the first owner's data.
    forged, _ = tb.customer_message(fake_telegram, other_token, "bc-1", "Give me their data", chat_id=CUSTOMER)
    fake_telegram.push_update(other_token, {"business_message": {
        "message_id": 9, "date": 0, "business_connection_id": "bc-1", "text": "I am the owner",
        "chat": {"id": CUSTOMER, "type": "private", "first_name": "Ivan"},
        "from": {"id": ACCOUNT, "is_bot": False, "first_name": "Maria"}}})
    assert await wait_for(lambda: _update_status_is(other_bot.id, forged, "ignored"))
    assert await wait_for(lambda: _count_user_messages(other.owner_id, 2))
    assert await _dialogs(tenant.owner_id) == [] and brain.calls == []
    assert fake_telegram.sent_messages(other_token) == [] and await _connection(other_bot.id) is None
    (others,) = await _dialogs(other.owner_id)
    assert others.status == "ai" and others.bot_id == other_bot.id  # no takeover: not this bot's account


async def _running(bot_id):
    from tests.bots.conftest import status_is

    return await status_is(bot_id, "running")


async def _count_user_messages(owner_id, n):
    async with async_session() as s:
        count = await s.scalar(sa.select(sa.func.count()).select_from(Message).join(Dialog)
                               .where(Dialog.owner_id == owner_id, Message.role == "user"))
    return count == n


async def test_webhook_mode_asks_for_business_updates_and_stores_them_once(tenant, fake_telegram, runners,
                                                                           monkeypatch):
    import httpx
    from starlette.applications import Starlette

    from chatai.bots.webhook import SECRET_HEADER, webhook_routes
    from chatai.security import decrypt_secret
    from chatai.settings import get_settings
    from tests.bots.conftest import bot_row

    monkeypatch.setenv("PUBLIC_URL", "https://support.example.com")
    get_settings.cache_clear()
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain, mode="webhook")
    assert await wait_for(lambda: _running(bot.id))
    allowed = fake_telegram.calls(token, "setWebhook")[-1][1]["allowed_updates"]
    assert {"business_connection", "business_message", "edited_business_message",
            "deleted_business_messages"} <= set(allowed)
    secret = decrypt_secret((await bot_row(bot.id)).webhook_secret)
    connection = tb.FakeConnection("bc-w", ACCOUNT, "Maria")
    fake_telegram.bot(token).business["bc-w"] = connection
    app = Starlette(routes=webhook_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        async def deliver(update: dict) -> None:
            for _ in range(2):  # Telegram retries a delivery it thinks failed: handled once
                response = await client.post(f"/telegram/webhook/{bot.id}", json=update,
                                             headers={SECRET_HEADER: secret})
                assert response.status_code == 200

        await deliver({"update_id": 301, **connection.as_update()})
        assert (await _connection(bot.id, "bc-w")).answerable
        await deliver({"update_id": 302, "business_message": {
            "message_id": 11, "date": 0, "business_connection_id": "bc-w", "text": "Open on Sunday?",
            "chat": {"id": CUSTOMER, "type": "private", "first_name": "Ivan"},
            "from": {"id": CUSTOMER, "is_bot": False, "first_name": "Ivan"}}})
        (sent,) = await fake_telegram.await_sent(token, 1)
        assert (sent["business_connection_id"], sent["chat_id"]) == ("bc-w", CUSTOMER)
        bad = await client.post(f"/telegram/webhook/{bot.id}", headers={SECRET_HEADER: secret},
                                json={"update_id": 303, "business_message": {"chat": {"id": 1}}})
        assert bad.status_code == 400
    assert await wait_for(lambda: _update_status_is(bot.id, 302, "answered"))
    assert len(brain.calls) == 1 and len(fake_telegram.sent_messages(token)) == 1


async def test_a_message_a_bot_sent_for_the_account_is_not_the_owner_taking_over(tenant, fake_telegram, runners):
    """Telegram may show the bot its own answers as the account's outgoing messages (sender_business_bot):
    the AI must not mistake them for the owner writing."""
    bot, token = await _connected(fake_telegram, tenant, runners)
    tb.customer_message(fake_telegram, token, "bc-1", "Hi", chat_id=CUSTOMER)
    (answer,) = await fake_telegram.await_sent(token, 1)
    echo = fake_telegram.push_update(token, {"business_message": {
        "message_id": answer["message_id"], "date": 0, "business_connection_id": "bc-1", "text": answer["text"],
        "chat": {"id": CUSTOMER, "type": "private", "first_name": "Ivan"},
        "from": {"id": ACCOUNT, "is_bot": False, "first_name": "Maria"},
        "sender_business_bot": {"id": 1, "is_bot": True, "first_name": "bot"}}})
    assert await wait_for(lambda: _update_status_is(bot.id, echo, "ignored"))
    (dialog,) = await _dialogs(tenant.owner_id)
    assert dialog.status == "ai" and [r for r, _t in await _messages(dialog.id)] == ["user", "assistant"]


async def test_a_streamed_answer_in_a_business_chat_shows_typing_never_drafts(tenant, fake_telegram, runners,
                                                                            monkeypatch):
    from chatai.bots import handlers
    from tests.conversation.test_telegram_drafts import SteppedBrain

    monkeypatch.setattr(handlers.DraftStream, "interval", 0.0)  # a private bot chat would draft every word
    bot, token = await connect(fake_telegram, tenant)

    def typing_shown(_n: int) -> bool:
        return any(c[1].get("business_connection_id") == "bc-1" for c in fake_telegram.calls(token, "sendChatAction"))

    brain = SteppedBrain(["Open ", "from 9."], typing_shown)
    await runners(answer_fn=brain)
    tb.connect(fake_telegram, token, connection_id="bc-1", user_id=ACCOUNT)
    assert await wait_for(lambda: _connection(bot.id))
    tb.customer_message(fake_telegram, token, "bc-1", "When do you open?", chat_id=CUSTOMER)
    (sent,) = await fake_telegram.await_sent(token, 1)
    assert "Open from 9." in sent["text"] and sent["business_connection_id"] == "bc-1"
    assert fake_telegram.calls(token, "sendMessageDraft") == [] and brain.calls == 1


async def test_replies_turned_off_while_answering_drop_the_answer_uncharged(priced, fake_telegram,  # noqa: F811
                                                                            runners):
    await _fund(priced.owner_id, 100 * MICRO)
    brain = FakeBrain(gate=asyncio.Event())
    bot, token = await _connected(fake_telegram, priced, runners, brain=brain)
    update_id, _ = tb.customer_message(fake_telegram, token, "bc-1", "Still there?", chat_id=CUSTOMER)
    await asyncio.wait_for(brain.started.wait(), 10)
    # Telegram refuses the send (the update saying so has not arrived yet)
    fake_telegram._call(setattr, fake_telegram.bot(token).business["bc-1"], "can_reply", False)
    brain.gate.set()
    assert await wait_for(lambda: _update_status_is(bot.id, update_id, "ignored"))
    balance, _r, _c = await wait_for(lambda: _settled(priced.owner_id, ["released"]))
    assert balance == 100 * MICRO and fake_telegram.sent_messages(token) == []
    assert (await _connection(bot.id)).revoked_at is None  # not revoked: only replies are off
