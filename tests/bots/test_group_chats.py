"""Group chats (issue 19: the bot answered in a group, with a fallback). Policy: private chats only by
default; with the assistant's `answer_in_groups` on, a group message is answered only when it addresses
the bot (@mention, a reply to the bot's message, /command@bot). Anything else is recorded and ignored: no
answer, no message or dialog kept, no charge, no fallback. The classifier alone, then the real
python-telegram-bot runner against the fake Bot API, then the webhook route."""

from __future__ import annotations

import sqlalchemy as sa

from chatai.bots.group_chats import BotIdentity, in_group
from chatai.bots.handlers import classify
from chatai.db.models import Assistant, Dialog, Message, TelegramUpdate
from chatai.db.session import async_session
from tests.bots.conftest import FakeBrain, connect, wait_for
from tests.fakes.telegram_updates import group_update, photo_update, text_update

BOT = BotIdentity(username="shop_bot", user_id=777)


def _classify(update, *, groups=True, update_id=1):
    return classify({**update, "update_id": update_id}, bot=BOT, answer_in_groups=groups)


def test_groups_off_ignores_every_group_message_even_when_addressed():
    for update in (group_update("@shop_bot when do you open?"), group_update("/start@shop_bot"),
                   group_update("thanks", reply_to={"message_id": 5, "from": {"id": 777, "is_bot": True}})):
        assert _classify(update, groups=False).kind == "none"
    assert _classify(text_update("when do you open?"), groups=False).kind == "text"  # private: as always


def test_groups_on_answers_only_what_addresses_the_bot():
    def kind_and_text(text, **kw):
        incoming = _classify(group_update(text, **kw))
        return incoming.kind, incoming.text

    assert kind_and_text("@shop_bot when do you open?") == ("text", "when do you open?")
    assert kind_and_text("Hi @Shop_Bot, price of X?") == ("text", "Hi , price of X?")
    assert kind_and_text("/start@shop_bot") == ("start", "/start")
    assert kind_and_text("/help@shop_bot delivery") == ("text", "/help delivery")
    assert kind_and_text("@shop_bot") == ("start", "/start")  # a bare mention: the greeting
    assert kind_and_text("and on Sundays?", reply_to={"message_id": 9, "from": {"id": 777, "is_bot": True}}) == (
        "text", "and on Sundays?")
    assert kind_and_text("same", reply_to={"message_id": 9, "from": {"id": 1, "username": "SHOP_BOT"}})[0] == "text"
    assert _classify(group_update(None, reply_to={"message_id": 9, "from": {"id": 777}})).kind == "unsupported"
    for chatter in ("when do you open?", "/start", "/start@other_bot", "@shop_bot2 hi", "mail me: me@shop_bot",
                    "ask @shop_botx"):
        assert _classify(group_update(chatter)).kind == "none", chatter
    assert _classify(group_update("ok", reply_to={"message_id": 9, "from": {"id": 42}})).kind == "none"
    assert _classify(group_update("@shop_bot hi", kind="group")).kind == "text"  # a basic group too


def test_in_group_never_raises_on_odd_updates():
    assert not in_group({"update_id": 1})
    assert not in_group({"message": "x"})
    assert not in_group({"message": {"chat": None}})
    assert not in_group(text_update("hi"))
    assert in_group(group_update("hi"))


async def _statuses(bot_id) -> dict[int, str]:
    async with async_session() as s:
        rows = await s.execute(sa.select(TelegramUpdate.update_id, TelegramUpdate.status)
                               .where(TelegramUpdate.bot_id == bot_id))
        return dict(rows.all())


async def _group_dialogs(bot_id, chat_id: int) -> list:
    async with async_session() as s:
        return list((await s.execute(sa.select(Dialog).where(Dialog.bot_id == bot_id,
                                                             Dialog.telegram_chat_id == chat_id))).scalars())


async def _allow_groups(assistant_id, on: bool) -> None:
    async with async_session() as s:
        await s.execute(sa.update(Assistant).where(Assistant.id == assistant_id).values(answer_in_groups=on))
        await s.commit()


async def test_runner_by_default_stores_and_ignores_group_messages(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant, username="shop_bot")
    await runners(answer_fn=brain)
    ignored = [fake_telegram.push_update(token, group_update(text)) for text in
               ("@shop_bot when do you open?", "hello all", "/start@shop_bot")]
    fake_telegram.push_text(token, "When do you deliver?", chat_id=501)  # after them: handled after them
    sent = await fake_telegram.await_sent(token, 1)
    statuses = await wait_for(lambda: _done(bot.id, 4))
    assert [statuses[u] for u in ignored] == ["ignored"] * 3
    assert [m["chat_id"] for m in sent] == [501] and len(fake_telegram.sent_messages(token)) == 1
    assert [c["question"] for c in brain.calls] == ["When do you deliver?"]  # no answer produced, none charged
    assert await _group_dialogs(bot.id, -100500) == []  # nothing of the group's chatter is kept


async def _done(bot_id, count: int):
    statuses = await _statuses(bot_id)
    return statuses if len(statuses) == count and "received" not in statuses.values() else None


async def test_runner_with_groups_on_answers_only_when_addressed(tenant, fake_telegram, runners):
    await _allow_groups(tenant.assistant_id, True)
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant, username="shop_bot")
    bot_user_id = int(token.split(":")[0])
    await runners(answer_fn=brain)
    chatter = fake_telegram.push_update(token, group_update("anyone been to the shop?"))
    fake_telegram.push_update(token, group_update("@shop_bot when do you open?"))
    [answer] = await fake_telegram.await_sent(token, 1)
    assert answer["chat_id"] == -100500 and "Answer to: when do you open?" in answer["text"]
    fake_telegram.push_update(token, group_update("and on Sundays?", reply_to={
        "message_id": answer["message_id"], "from": {"id": bot_user_id, "is_bot": True, "username": "shop_bot"}}))
    sent = await fake_telegram.await_sent(token, 2)
    assert "Answer to: and on Sundays?" in sent[1]["text"]
    statuses = await wait_for(lambda: _done(bot.id, 3))
    assert statuses[chatter] == "ignored"
    assert [c["question"] for c in brain.calls] == ["when do you open?", "and on Sundays?"]
    [dialog] = await _group_dialogs(bot.id, -100500)
    async with async_session() as s:
        texts = (await s.execute(sa.select(Message.text).where(Message.dialog_id == dialog.id, Message.role == "user")
                                 .order_by(Message.created_at))).scalars().all()
    assert texts == ["when do you open?", "and on Sundays?"]  # the chatter was never stored


async def test_runner_still_answers_private_photos_and_turning_groups_off_stops_group_answers(
        tenant, fake_telegram, runners, monkeypatch):
    from chatai.bots import assistant_cache

    monkeypatch.setattr(assistant_cache, "ASSISTANT_TTL", 0)  # the owner's switch is read on every group update
    await _allow_groups(tenant.assistant_id, True)
    bot, token = await connect(fake_telegram, tenant, username="shop_bot")
    await runners(answer_fn=FakeBrain())
    fake_telegram.push_update(token, photo_update(chat_id=88))
    await fake_telegram.await_sent(token, 1)  # private chats: unchanged ("text only" notice)
    await _allow_groups(tenant.assistant_id, False)
    late = fake_telegram.push_update(token, group_update("@shop_bot are you there?"))
    fake_telegram.push_text(token, "/start", chat_id=88)
    sent = await fake_telegram.await_sent(token, 2)
    statuses = await wait_for(lambda: _done(bot.id, 3))
    assert statuses[late] == "ignored" and [m["chat_id"] for m in sent] == [88, 88]


async def test_webhook_applies_the_same_policy(tenant, fake_telegram, runners, monkeypatch):
    import httpx
    from starlette.applications import Starlette

    from chatai.bots.webhook import SECRET_HEADER, webhook_routes
    from chatai.security import decrypt_secret
    from chatai.settings import get_settings
    from tests.bots.conftest import bot_row, status_is

    monkeypatch.setenv("PUBLIC_URL", "https://support.example.com")
    get_settings.cache_clear()
    await _allow_groups(tenant.assistant_id, True)
    bot, token = await connect(fake_telegram, tenant, username="shop_bot")
    brain = FakeBrain()
    await runners(answer_fn=brain, mode="webhook")
    await wait_for(lambda: fake_telegram.bot(token).webhook_url)
    await wait_for(lambda: status_is(bot.id, "running"))
    secret = decrypt_secret((await bot_row(bot.id)).webhook_secret)
    app = Starlette(routes=webhook_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        for update_id, text in ((901, "anyone here?"), (902, "@shop_bot do you ship abroad?")):
            response = await client.post(f"/telegram/webhook/{bot.id}", headers={SECRET_HEADER: secret},
                                         json=group_update(text, update_id=update_id))
            assert response.status_code == 200
    [answer] = await fake_telegram.await_sent(token, 1)
    assert answer["chat_id"] == -100500 and "Answer to: do you ship abroad?" in answer["text"]
    statuses = await wait_for(lambda: _done(bot.id, 2))
    assert statuses == {901: "ignored", 902: "answered"}
    assert [c["question"] for c in brain.calls] == ["do you ship abroad?"]
