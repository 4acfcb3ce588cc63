"""Answers appear as they are written in Telegram: drafts (sendMessageDraft) in a private chat, then exactly
one final message, charged once; "typing" instead when the Bot API server rejects drafts. Through the real
runner and the fake Bot API."""

from __future__ import annotations

import sqlalchemy as sa

from chatai.bots import handlers
from chatai.conversation import charging
from chatai.db.models import MICRO, TelegramUpdate
from chatai.db.money_models import Charge, Price
from chatai.db.session import async_session
from chatai.services import billing
from tests.bots.conftest import FakeAnswer, FakeSource, connect, wait_for


class SteppedBrain:
    """Streams the answer word by word; before each next word it waits until `shown(n)` holds (the test's
    view of the chat), so what the customer saw in between is checked without timing."""

    def __init__(self, words: list[str], shown) -> None:
        self.words, self.shown, self.calls = words, shown, 0

    async def __call__(self, *, assistant_id, question, history=(), language=None):
        self.calls += 1
        for n, word in enumerate(self.words):
            if n:
                assert await wait_for(lambda n=n: self.shown(n)), f"nothing shown after word {n}"
            yield word
        yield FakeAnswer("".join(self.words), [FakeSource("faq.md", "Delivery", 0.9, "2 days")])


async def _priced_and_funded(owner_id, monkeypatch) -> None:
    monkeypatch.setattr(charging, "_prices", {})
    async with async_session() as s:
        s.add_all([Price(item="answer", price_micros=5 * MICRO), Price(item="qa_answer", price_micros=5 * MICRO)])
        await billing.ensure_account(s, user_id=owner_id)
        await billing.credit(s, account_id=owner_id, amount_micros=50 * MICRO, kind="adjustment", key="fund")
        await s.commit()


async def _answered(bot_id) -> bool:
    async with async_session() as s:
        return (await s.execute(sa.select(sa.func.count()).select_from(TelegramUpdate).where(
            TelegramUpdate.bot_id == bot_id, TelegramUpdate.status == "answered"))).scalar() >= 1


async def test_drafts_then_exactly_one_final_message_charged_once(tenant, fake_telegram, runners, monkeypatch):
    monkeypatch.setattr(handlers.DraftStream, "interval", 0.0)  # every word drafted (pacing is bench's)
    await _priced_and_funded(tenant.owner_id, monkeypatch)
    bot, token = await connect(fake_telegram, tenant)
    brain = SteppedBrain(["We ", "deliver ", "in 2 days."], lambda n: len(fake_telegram.drafts(token)) >= n)
    await runners(answer_fn=brain)

    update_id = fake_telegram.push_text(token, "When do you deliver?", chat_id=4242)
    sent = await fake_telegram.await_sent(token, 1)
    assert await wait_for(lambda: _answered(bot.id))
    drafts = fake_telegram.drafts(token)
    # The text so far, growing; the whole text is not drafted once the answer is complete: the message follows.
    assert [d["text"] for d in drafts] == ["We ", "We deliver "]
    assert {(d["chat_id"], d["draft_id"]) for d in drafts} == {(4242, update_id)}
    assert all(d["at"] < sent[0]["at"] for d in drafts)  # drafts first, then the message
    assert len(fake_telegram.sent_messages(token)) == 1  # a draft is not a message
    assert "We deliver in 2 days." in sent[0]["text"] and "faq.md" in sent[0]["text"]  # formatted, with sources
    async with async_session() as s:
        assert (await s.execute(sa.select(Charge.status))).scalars().all() == ["committed"]


async def test_rejected_drafts_fall_back_to_typing_and_are_not_tried_again(tenant, fake_telegram, runners):
    bot, token = await connect(fake_telegram, tenant)
    fake_telegram.reject_drafts(token)
    brain = SteppedBrain(["Open ", "from 9."], lambda n: bool(fake_telegram.calls(token, "sendChatAction")))
    await runners(answer_fn=brain)

    fake_telegram.push_text(token, "When do you open?", chat_id=5151)
    sent = await fake_telegram.await_sent(token, 1)
    assert "Open from 9." in sent[0]["text"]
    assert len(fake_telegram.calls(token, "sendMessageDraft")) == 1 and fake_telegram.drafts(token) == []
    typing = fake_telegram.calls(token, "sendChatAction")
    assert typing and typing[0][1]["action"] == "typing" and int(typing[0][1]["chat_id"]) == 5151

    fake_telegram.push_text(token, "And on Sunday?", chat_id=5151)
    sent = await fake_telegram.await_sent(token, 2)
    assert len(sent) == 2 and brain.calls == 2
    assert len(fake_telegram.calls(token, "sendMessageDraft")) == 1  # this bot's server does not do drafts


async def test_drafts_switched_off_by_the_operator_show_typing(tenant, fake_telegram, runners, monkeypatch):
    from chatai.settings import get_settings

    monkeypatch.setenv("TELEGRAM_DRAFTS", "false")
    get_settings.cache_clear()
    try:
        bot, token = await connect(fake_telegram, tenant)
        brain = SteppedBrain(["Open ", "from 9."], lambda n: bool(fake_telegram.calls(token, "sendChatAction")))
        await runners(answer_fn=brain)
        fake_telegram.push_text(token, "When do you open?", chat_id=6161)
        sent = await fake_telegram.await_sent(token, 1)
        assert "Open from 9." in sent[0]["text"]
        assert fake_telegram.calls(token, "sendMessageDraft") == []
    finally:
        monkeypatch.delenv("TELEGRAM_DRAFTS")
        get_settings.cache_clear()


class Streaming:
    """A stand-in model writing a long answer word by word (its own pace), for every chat at once."""

    words = [f"word{n} " for n in range(20)]

    async def __call__(self, *, assistant_id, question, history=(), language=None):
        import asyncio

        for word in self.words:
            await asyncio.sleep(0.02)
            yield word
        yield FakeAnswer("".join(self.words), [FakeSource("faq.md", "Delivery", 0.9, "2 days")])


async def test_drafts_of_many_chats_count_toward_the_bots_limit(tenant, fake_telegram, runners, monkeypatch):
    """Drafts go through the bot's send throttle with its messages: in no second does the fake see more of
    the bot's sendMessage + sendMessageDraft calls than the limit (its own arrival times, not the test's)."""
    from chatai.bots.throttle import Throttle

    limit, chats = 10, list(range(7001, 7025))  # a lower limit than Telegram's 30: the same rule, a shorter test
    monkeypatch.setattr(handlers.DraftStream, "interval", 0.0)  # every word offered as a draft
    bot, token = await connect(fake_telegram, tenant)
    runner = await runners(answer_fn=Streaming())
    assert await wait_for(lambda: bot.id in runner.workers and runner.workers[bot.id].status == "running")
    runner.workers[bot.id].throttle = Throttle(per_bot=limit)

    for chat_id in chats:
        fake_telegram.push_text(token, "Do you deliver?", chat_id=chat_id)
    sent = await fake_telegram.await_sent(token, len(chats))
    assert sorted(m["chat_id"] for m in sent) == chats  # one final message per chat
    assert all("word19" in m["text"] for m in sent)
    calls = sorted(at for method, _params, at in fake_telegram.calls(token)
                   if method in ("sendMessage", "sendMessageDraft"))
    busiest = max(sum(1 for at in calls if start <= at < start + 1.0) for start in calls)
    drafts = fake_telegram.drafts(token)
    assert drafts and len(calls) == len(chats) + len(drafts)  # drafts were shown, and counted
    assert busiest <= limit, f"{busiest} calls in one second"
    by_chat = {}
    for draft in drafts:
        by_chat.setdefault(draft["chat_id"], []).append(draft["at"])
    final = {m["chat_id"]: m["at"] for m in sent}
    assert all(at < final[chat] for chat, times in by_chat.items() for at in times)  # never after the answer
