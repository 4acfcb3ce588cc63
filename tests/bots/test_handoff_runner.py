"""Handoff through the real runner and the fake Bot API: request, silence, take over, reply, release, timeout."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta

import sqlalchemy as sa

from chatai.db.models import Dialog, Message, utcnow
from chatai.db.session import async_session
from chatai.services import handoff, handoff_delivery
from tests.bots.conftest import PATIENCE, FakeAnswer, FakeBrain, connect, make_tenant, wait_for


async def _dialog(bot_id: uuid.UUID, chat_id: int) -> Dialog | None:
    async with async_session() as s:
        return (await s.execute(sa.select(Dialog).where(Dialog.bot_id == bot_id, Dialog.telegram_chat_id == chat_id))
                ).scalar_one_or_none()


async def _status(bot_id: uuid.UUID, chat_id: int) -> str:
    dialog = await _dialog(bot_id, chat_id)
    return dialog.status if dialog else ""


async def _messages(dialog_id: uuid.UUID) -> list[Message]:
    async with async_session() as s:
        rows = await s.execute(sa.select(Message).where(Message.dialog_id == dialog_id)
                               .order_by(Message.created_at, Message.id))
        return list(rows.scalars())


async def _message(message_id: uuid.UUID) -> Message:
    async with async_session() as s:
        return await s.get(Message, message_id)


async def _act(fn, **kwargs):
    async with async_session() as s:
        return await fn(s, **kwargs)


async def _backdate(dialog_id: uuid.UUID, minutes: float) -> None:
    async with async_session() as s:
        await s.execute(sa.update(Dialog).where(Dialog.id == dialog_id).values(
            handoff_at=utcnow() - timedelta(minutes=minutes), operator_active_at=utcnow() - timedelta(minutes=minutes)))
        await s.commit()


async def test_take_over_reply_and_release_round_trip(tenant, fake_telegram, runners):
    from chatai.cache import get_redis
    from chatai.services.dialogs import DIALOG_EVENTS_CHANNEL

    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    # No safety-net sweep during the test: whatever is delivered below came by the Redis nudge.
    await runners(answer_fn=brain, reconcile_interval=3600)
    owner = tenant.owner_id
    events = get_redis().pubsub()
    await events.subscribe(DIALOG_EVENTS_CHANNEL)

    fake_telegram.push_text(token, "Позовите оператора", chat_id=601, language="en")
    sent = await fake_telegram.await_sent(token, 1)
    assert sent[0]["text"] == handoff.end_user_text("waiting", "ru")  # the language they wrote in
    assert await wait_for(lambda: _status(bot.id, 601)) == "waiting"
    assert brain.calls == []
    dialog = await _dialog(bot.id, 601)

    # Waiting, then held: the AI stays silent, the messages are still recorded.
    fake_telegram.push_text(token, "Алло?", chat_id=601)
    await _act(handoff.take_over, owner_id=owner, dialog_id=dialog.id, operator_id=owner)
    fake_telegram.push_text(token, "Вы тут?", chat_id=601)
    assert await wait_for(lambda: _count(dialog.id, "user", 3))
    await asyncio.sleep(0.5)
    assert len(fake_telegram.sent_messages(token)) == 1 and brain.calls == []

    message_id = await _act(handoff.send_operator_message, owner_id=owner, dialog_id=dialog.id, operator_id=owner,
                            text="Здравствуйте, это Анна <из поддержки> & co")
    sent = await fake_telegram.await_sent(token, 2)
    assert sent[1]["chat_id"] == 601
    assert sent[1]["text"] == "Здравствуйте, это Анна &lt;из поддержки&gt; &amp; co"  # as text, never markup
    message = await wait_for(lambda: _sent(message_id))
    assert message.telegram_message_id == sent[1]["message_id"] and message.operator_id == owner
    assert await _event_seen(events, message_id=str(message_id), delivery_status="sent")

    await _act(handoff.release, owner_id=owner, dialog_id=dialog.id, operator_id=owner)
    sent = await fake_telegram.await_sent(token, 3)
    assert sent[2]["text"] == handoff.end_user_text("released", "ru")
    assert await _status(bot.id, 601) == "ai"

    # Back with the AI, which sees the operator's reply as conversation history.
    fake_telegram.push_text(token, "Сколько стоит доставка?", chat_id=601)
    sent = await fake_telegram.await_sent(token, 4)
    assert "Answer to: Сколько стоит доставка?" in sent[3]["text"]
    assert ("operator", "Здравствуйте, это Анна <из поддержки> & co") in brain.calls[0]["history"]
    assert [m.text for m in await _messages(dialog.id) if m.role == "system"] == [
        "handoff_requested", "taken_over", "released"]
    await events.aclose()


async def _count(dialog_id: uuid.UUID, role: str, n: int) -> bool:
    return sum(1 for m in await _messages(dialog_id) if m.role == role) >= n


async def _sent(message_id: uuid.UUID) -> Message | None:
    message = await _message(message_id)
    return message if message.delivery_status == "sent" else None


async def _event_seen(pubsub, **wanted: str) -> bool:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message and all(json.loads(message["data"]).get(k) == v for k, v in wanted.items()):
            return True
    return False


async def test_unknown_answer_hands_off_when_the_assistant_allows(tenant, fake_telegram, runners):
    async def unsure(**kwargs):
        return FakeAnswer("I'm sorry, I don't know the answer to that.", [], answered_by="fallback",
                          needs_handoff=True)

    careful = await make_tenant("careful@example.com", handoff_on_low_confidence=False)
    bot, token = await connect(fake_telegram, tenant)
    other_bot, other_token = await connect(fake_telegram, careful)
    await runners(answer_fn=unsure)
    fake_telegram.push_text(token, "What is the warranty on spare parts?", chat_id=611)
    fake_telegram.push_text(other_token, "What is the warranty on spare parts?", chat_id=612)
    sent = await fake_telegram.await_sent(token, 1)
    other_sent = await fake_telegram.await_sent(other_token, 1)
    assert sent[0]["text"].startswith("I'm sorry, I don't know")
    assert sent[0]["text"].endswith(handoff.end_user_text("waiting", "en"))
    assert await wait_for(lambda: _status(bot.id, 611)) == "waiting"
    dialog = await _dialog(bot.id, 611)
    assert [m.text for m in await _messages(dialog.id) if m.role == "system"] == ["handoff_low_confidence"]
    assert "person" not in other_sent[0]["text"]
    assert await _status(other_bot.id, 612) == "ai"


async def test_handoff_times_out_back_to_the_ai_also_across_a_restart(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    first = await runners(answer_fn=brain)
    fake_telegram.push_text(token, "talk to a human", chat_id=701)
    fake_telegram.push_text(token, "agent please", chat_id=702)
    await fake_telegram.await_sent(token, 2)
    assert await wait_for(lambda: _both_waiting(bot.id))
    one, two = await _dialog(bot.id, 701), await _dialog(bot.id, 702)

    await _backdate(one.id, 11)  # past the default 10 minutes
    sent = await fake_telegram.await_sent(token, 3)
    assert sent[2]["chat_id"] == 701 and sent[2]["text"] == handoff.end_user_text("timed_out", "en")
    assert await wait_for(lambda: _status(bot.id, 701)) == "ai"
    assert "timed_out" in [m.text for m in await _messages(one.id) if m.role == "system"]
    assert await _status(bot.id, 702) == "waiting"  # not due: many sweeps later it still waits

    # The clock is in the database: the next runner finds what became due while none ran.
    await first.stop()
    await _backdate(two.id, 11)
    await runners(answer_fn=brain)
    sent = await fake_telegram.await_sent(token, 4)
    assert sent[3]["chat_id"] == 702
    assert await wait_for(lambda: _status(bot.id, 702)) == "ai"
    assert brain.calls == []


async def _both_waiting(bot_id: uuid.UUID) -> bool:
    return (await _status(bot_id, 701), await _status(bot_id, 702)) == ("waiting", "waiting")


async def test_reply_to_a_user_who_blocked_the_bot_fails_with_a_reason(tenant, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain)
    fake_telegram.push_text(token, "operator!", chat_id=801)
    await fake_telegram.await_sent(token, 1)
    dialog = await wait_for(lambda: _dialog(bot.id, 801))
    owner = tenant.owner_id
    await _act(handoff.take_over, owner_id=owner, dialog_id=dialog.id, operator_id=owner)
    fake_telegram.fail_next(token, "sendMessage", 403)  # Forbidden: bot was blocked by the user
    message_id = await _act(handoff.send_operator_message, owner_id=owner, dialog_id=dialog.id, operator_id=owner,
                            text="Hello?")
    message = await wait_for(lambda: _settled(message_id))
    assert message.delivery_status == "failed"
    assert message.delivery_error == handoff_delivery.failure_sentence("blocked", "en")
    assert len(fake_telegram.sent_messages(token)) == 1
    # What the user never received is no part of the conversation the AI continues.
    await _act(handoff.release, owner_id=owner, dialog_id=dialog.id, operator_id=owner)
    await fake_telegram.await_sent(token, 2)
    fake_telegram.push_text(token, "Where is my parcel?", chat_id=801)
    await fake_telegram.await_sent(token, 3)
    assert brain.calls[0]["question"] == "Where is my parcel?"
    assert all(role != "operator" for role, _text in brain.calls[0]["history"])


async def _settled(message_id: uuid.UUID) -> Message | None:
    message = await _message(message_id)
    return message if message.delivery_status in ("sent", "failed") else None


async def test_reply_written_while_no_runner_ran_is_sent_by_the_sweep(tenant, fake_telegram, runners):
    bot, token = await connect(fake_telegram, tenant)
    first = await runners(answer_fn=FakeBrain())
    fake_telegram.push_text(token, "I want a real person", chat_id=901)
    await fake_telegram.await_sent(token, 1)
    dialog = await wait_for(lambda: _dialog(bot.id, 901))
    await first.stop()
    owner = tenant.owner_id
    await _act(handoff.take_over, owner_id=owner, dialog_id=dialog.id, operator_id=owner)
    message_id = await _act(handoff.send_operator_message, owner_id=owner, dialog_id=dialog.id, operator_id=owner,
                            text="Sorry for the wait, how can I help?")  # its nudge reaches nobody
    await asyncio.sleep(0.3)
    assert len(fake_telegram.sent_messages(token)) == 1
    await runners(answer_fn=FakeBrain())
    sent = await fake_telegram.await_sent(token, 2)
    assert sent[1]["text"] == "Sorry for the wait, how can I help?"
    assert await wait_for(lambda: _sent(message_id))


async def test_handoff_notice_saved_before_a_crash_is_still_sent(tenant, fake_telegram, runners):
    """The runner died after saving the notice and before sending it: the dialog now waits for a person,
    and the end user must still be told so (the update is owed, not muted)."""
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    first = await runners(answer_fn=brain)
    fake_telegram.push_text(token, "hi", chat_id=951)
    await fake_telegram.await_sent(token, 1)
    dialog = await wait_for(lambda: _dialog(bot.id, 951))
    await first.stop()
    notice = handoff.end_user_text("waiting", "en")
    async with async_session() as s:
        now = utcnow()
        await s.execute(sa.text("INSERT INTO telegram_updates (bot_id, update_id, status, received_at) "
                                "VALUES (:bot, 9999, 'received', :now)"), {"bot": bot.id, "now": now})
        s.add(Message(dialog_id=dialog.id, role="user", text="talk to a human", telegram_update_id=9999,
                      created_at=now))
        s.add(Message(dialog_id=dialog.id, role="assistant", text=notice, answered_by="notice",
                      telegram_update_id=9999, created_at=now + timedelta(milliseconds=5)))
        await s.commit()
    await _act(handoff.request_handoff, dialog_id=dialog.id, reason="user")
    await runners(answer_fn=brain)
    sent = await fake_telegram.await_sent(token, 2)
    assert sent[1]["text"] == notice and len(brain.calls) == 1
