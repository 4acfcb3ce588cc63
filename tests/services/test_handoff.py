"""The handoff service against the real database and Redis: state changes, ownership, races, timeouts."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from chatai.db.models import Assistant, Bot, Dialog, Message, User, utcnow
from chatai.db.session import async_session
from chatai.services import handoff, handoff_delivery
from chatai.services.handoff import HandoffError
from tests.factories import Tenant, make_tenant
from tests.waits import PATIENCE

_tg_ids = iter(range(880001, 889999))
_chats = iter(range(555, 9999))


async def _bot(tenant: Tenant, *, desired_state: str = "running") -> uuid.UUID:
    async with async_session() as s:
        bot = Bot(assistant_id=tenant.assistant_id, owner_id=tenant.owner_id, telegram_bot_id=next(_tg_ids),
                  token_encrypted="-", desired_state=desired_state)
        s.add(bot)
        await s.commit()
        return bot.id


async def _dialog(tenant: Tenant, bot_id: uuid.UUID | None, *, status: str = "ai", language: str = "en",
                  user_text: str = "Hello", **fields) -> uuid.UUID:
    async with async_session() as s:
        dialog = Dialog(bot_id=bot_id, assistant_id=tenant.assistant_id, owner_id=tenant.owner_id,
                        telegram_chat_id=next(_chats), user_language=language, status=status, **fields)
        s.add(dialog)
        await s.flush()
        s.add(Message(dialog_id=dialog.id, role="user", text=user_text, created_at=utcnow() - timedelta(seconds=5)))
        await s.commit()
        return dialog.id


async def _get(dialog_id: uuid.UUID) -> Dialog:
    async with async_session() as s:
        return await s.get(Dialog, dialog_id)


async def _messages(dialog_id: uuid.UUID) -> list[Message]:
    async with async_session() as s:
        rows = await s.execute(sa.select(Message).where(Message.dialog_id == dialog_id)
                               .order_by(Message.created_at, Message.id))
        return list(rows.scalars())


async def _user(email: str) -> uuid.UUID:
    async with async_session() as s:
        user = User(email=email, password_hash="-")
        s.add(user)
        await s.commit()
        return user.id


async def _call(fn, **kwargs):
    async with async_session() as s:
        return await fn(s, **kwargs)


@pytest.fixture
async def shop(db):
    tenant = await make_tenant()
    bot_id = await _bot(tenant)
    return tenant, bot_id


async def test_request_moves_ai_to_waiting_once_with_the_reason(shop):
    tenant, bot_id = shop
    dialog_id = await _dialog(tenant, bot_id)
    assert await _call(handoff.request_handoff, dialog_id=dialog_id, reason="user")
    assert not await _call(handoff.request_handoff, dialog_id=dialog_id, reason="low_confidence")
    dialog = await _get(dialog_id)
    assert dialog.status == "waiting" and dialog.handoff_at is not None and dialog.operator_id is None
    assert [(m.role, m.text) for m in await _messages(dialog_id)][1:] == [("system", "handoff_requested")]


async def test_request_respects_the_assistant_settings(db):
    tenant = await make_tenant(handoff_enabled=True, handoff_on_low_confidence=False)
    bot_id = await _bot(tenant)
    dialog_id = await _dialog(tenant, bot_id)
    assert await _call(handoff.start_handoff, dialog_id=dialog_id, reason="low_confidence") == "off"
    async with async_session() as s:
        await s.execute(sa.update(Assistant).values(handoff_enabled=False))
        await s.commit()
    assert await _call(handoff.start_handoff, dialog_id=dialog_id, reason="user") == "off"
    assert (await _get(dialog_id)).status == "ai"
    # Out of money the end user must reach a person whatever the settings say.
    assert await _call(handoff.request_handoff, dialog_id=dialog_id, reason="balance_zero")
    assert [m.text for m in await _messages(dialog_id) if m.role == "system"] == ["balance_zero"]


async def test_request_publishes_live_status_and_message_events(shop):
    from chatai.cache import get_redis
    from chatai.services.dialogs import DIALOG_EVENTS_CHANNEL

    tenant, bot_id = shop
    dialog_id = await _dialog(tenant, bot_id)
    pubsub = get_redis().pubsub()
    await pubsub.subscribe(DIALOG_EVENTS_CHANNEL)
    await pubsub.get_message(timeout=PATIENCE)  # the subscribe confirmation
    await _call(handoff.request_handoff, dialog_id=dialog_id, reason="user")
    events = []
    while len(events) < 2:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=PATIENCE)  # published already
        assert message is not None, events
        events.append(json.loads(message["data"]))
    await pubsub.aclose()
    assert {"type": "status", "dialog_id": str(dialog_id), "owner_id": str(tenant.owner_id),
            "status": "waiting"} in events
    assert any(e["type"] == "message" and e["role"] == "system" for e in events)


async def test_take_over_of_another_owners_dialog_is_refused(shop):
    tenant, bot_id = shop
    dialog_id = await _dialog(tenant, bot_id, status="waiting", handoff_at=utcnow())
    intruder = await make_tenant("intruder@example.com")
    for action, extra in ((handoff.take_over, {}), (handoff.release, {}),
                          (handoff.send_operator_message, {"text": "Hi, I am support"})):
        with pytest.raises(HandoffError) as err:
            await _call(action, owner_id=intruder.owner_id, dialog_id=dialog_id, operator_id=intruder.owner_id,
                        **extra)
        assert err.value.code == "not_found"
    with pytest.raises(HandoffError, match="not_found"):
        await _call(handoff.take_over, owner_id=tenant.owner_id, dialog_id=uuid.uuid4(), operator_id=tenant.owner_id)
    dialog = await _get(dialog_id)
    assert (dialog.status, dialog.operator_id) == ("waiting", None)
    assert [m.role for m in await _messages(dialog_id)] == ["user"]


async def test_concurrent_take_overs_end_with_exactly_one_holder(shop):
    tenant, bot_id = shop
    dialog_id = await _dialog(tenant, bot_id, status="waiting", handoff_at=utcnow())
    operators = [tenant.owner_id] + [await _user(f"op{n}@example.com") for n in range(5)]
    results = await asyncio.gather(*(
        _call(handoff.take_over, owner_id=tenant.owner_id, dialog_id=dialog_id, operator_id=op) for op in operators
    ), return_exceptions=True)
    winners = [op for op, r in zip(operators, results, strict=True) if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, HandoffError) and r.code == "held_by_other" for r in results if r is not None)
    dialog = await _get(dialog_id)
    assert dialog.status == "human" and dialog.operator_id == winners[0] and dialog.operator_active_at is not None
    assert [m.text for m in await _messages(dialog_id) if m.role == "system"] == ["taken_over"]
    # The holder taking over again (a second tab) changes nothing.
    await _call(handoff.take_over, owner_id=tenant.owner_id, dialog_id=dialog_id, operator_id=winners[0])
    assert [m.text for m in await _messages(dialog_id) if m.role == "system"] == ["taken_over"]


async def test_operator_message_is_recorded_pending_by_its_holder_only(shop):
    tenant, bot_id = shop
    dialog_id = await _dialog(tenant, bot_id)
    owner = tenant.owner_id
    send = handoff.send_operator_message
    with pytest.raises(HandoffError, match="not_held"):
        await _call(send, owner_id=owner, dialog_id=dialog_id, operator_id=owner, text="Hello")
    await _call(handoff.take_over, owner_id=owner, dialog_id=dialog_id, operator_id=owner)
    for text, code in (("   ", "empty_text"), ("x" * 4097, "too_long"), ("😀" * 2049, "too_long")):
        with pytest.raises(HandoffError, match=code):
            await _call(send, owner_id=owner, dialog_id=dialog_id, operator_id=owner, text=text)
    colleague = await _user("colleague@example.com")
    with pytest.raises(HandoffError, match="held_by_other"):
        await _call(send, owner_id=owner, dialog_id=dialog_id, operator_id=colleague, text="Hello")
    message_id = await _call(send, owner_id=owner, dialog_id=dialog_id, operator_id=owner,
                             text="  Hi, this is Anna <b>from support</b>  ")
    message = next(m for m in await _messages(dialog_id) if m.id == message_id)
    assert (message.role, message.text, message.operator_id) == ("operator", "Hi, this is Anna <b>from support</b>",
                                                                 owner)
    assert (message.delivery_status, message.answered_by) == ("pending", "operator")
    outgoing = await _call(handoff_delivery.pending_outgoing, bot_ids=[bot_id])
    dialog = await _get(dialog_id)
    assert [(o.message_id, o.chat_id, o.role) for o in outgoing] == [(message_id, dialog.telegram_chat_id, "operator")]


async def test_operator_message_to_a_stopped_bot_is_refused_and_stranded_ones_fail(shop):
    tenant, bot_id = shop
    owner = tenant.owner_id
    dialog_id = await _dialog(tenant, bot_id)
    await _call(handoff.take_over, owner_id=owner, dialog_id=dialog_id, operator_id=owner)
    message_id = await _call(handoff.send_operator_message, owner_id=owner, dialog_id=dialog_id, operator_id=owner,
                             text="One moment please")
    async with async_session() as s:
        await s.execute(sa.update(Bot).where(Bot.id == bot_id).values(desired_state="paused"))
        await s.execute(sa.update(User).where(User.id == owner).values(locale="ru"))
        await s.commit()
    with pytest.raises(HandoffError, match="bot_unavailable"):
        await _call(handoff.send_operator_message, owner_id=owner, dialog_id=dialog_id, operator_id=owner,
                    text="Are you there?")
    events = await _call(handoff_delivery.fail_stranded)
    assert [e["message_id"] for e in events] == [str(message_id)]
    message = next(m for m in await _messages(dialog_id) if m.id == message_id)
    assert message.delivery_status == "failed"
    assert message.delivery_error.startswith("Бот остановлен")  # a sentence, in the owner's language
    assert await _call(handoff_delivery.fail_stranded) == []


async def test_release_queues_a_notice_in_the_end_users_language(shop):
    tenant, bot_id = shop
    owner = tenant.owner_id
    dialog_id = await _dialog(tenant, bot_id, language="en", user_text="Позовите оператора")
    with pytest.raises(HandoffError, match="not_held"):
        await _call(handoff.release, owner_id=owner, dialog_id=dialog_id, operator_id=owner)
    await _call(handoff.take_over, owner_id=owner, dialog_id=dialog_id, operator_id=owner)
    colleague = await _user("colleague@example.com")
    with pytest.raises(HandoffError, match="held_by_other"):
        await _call(handoff.release, owner_id=owner, dialog_id=dialog_id, operator_id=colleague)
    await _call(handoff.release, owner_id=owner, dialog_id=dialog_id, operator_id=owner)
    dialog = await _get(dialog_id)
    assert (dialog.status, dialog.operator_id, dialog.handoff_at) == ("ai", None, None)
    notice = (await _messages(dialog_id))[-1]
    assert notice.role == "assistant" and notice.delivery_status == "pending"
    assert notice.text == handoff.end_user_text("released", "ru")  # they wrote Russian


async def _backdate(dialog_id: uuid.UUID, minutes: float, **extra_minutes: float) -> None:
    values = {"handoff_at": utcnow() - timedelta(minutes=minutes)}
    values.update({k: utcnow() - timedelta(minutes=v) for k, v in extra_minutes.items()})
    async with async_session() as s:
        await s.execute(sa.update(Dialog).where(Dialog.id == dialog_id).values(**values))
        await s.commit()


async def test_waiting_dialog_times_out_after_the_assistant_setting(db):
    tenant = await make_tenant(handoff_timeout_minutes=3)
    bot_id = await _bot(tenant)
    fresh = await _dialog(tenant, bot_id)
    stale = await _dialog(tenant, bot_id, language="en", user_text="Где мой заказ?")
    other_bot = await _dialog(tenant, await _bot(tenant))
    for dialog_id in (fresh, stale, other_bot):
        await _call(handoff.request_handoff, dialog_id=dialog_id, reason="user")
    await _backdate(fresh, 2.5)
    await _backdate(stale, 3.5)
    await _backdate(other_bot, 3.5)
    assert await _call(handoff.due_timeouts, bot_ids=[bot_id]) == [stale]
    assert await _call(handoff.time_out, dialog_id=stale)
    assert not await _call(handoff.time_out, dialog_id=stale)  # once
    assert not await _call(handoff.time_out, dialog_id=fresh)  # not due
    dialog = await _get(stale)
    assert (dialog.status, dialog.handoff_at) == ("ai", None)
    messages = await _messages(stale)
    assert [(m.role, m.text) for m in messages][-2:] == [("system", "timed_out"),
                                                         ("assistant", handoff.end_user_text("timed_out", "ru"))]
    assert messages[-1].delivery_status == "pending"


async def test_held_dialog_times_out_only_when_its_operator_is_silent(shop):
    tenant, bot_id = shop  # the default timeout: 10 minutes
    owner = tenant.owner_id
    dialog_id = await _dialog(tenant, bot_id)
    await _call(handoff.request_handoff, dialog_id=dialog_id, reason="user")
    await _call(handoff.take_over, owner_id=owner, dialog_id=dialog_id, operator_id=owner)
    await _backdate(dialog_id, 30, operator_active_at=4)  # waited long, but the operator replied 4 min ago
    assert await _call(handoff.due_timeouts, bot_ids=[bot_id]) == []
    await _backdate(dialog_id, 30, operator_active_at=11)
    assert await _call(handoff.due_timeouts, bot_ids=[bot_id]) == [dialog_id]
    # The operator replies just before the sweep acts: the reply wins, the dialog stays theirs.
    await _call(handoff.send_operator_message, owner_id=owner, dialog_id=dialog_id, operator_id=owner, text="Here")
    assert not await _call(handoff.time_out, dialog_id=dialog_id)
    assert (await _get(dialog_id)).status == "human"


async def test_waiting_without_a_clock_gets_one_instead_of_waiting_forever(shop):
    tenant, bot_id = shop
    dialog_id = await _dialog(tenant, bot_id, status="waiting")  # a writer that forgot handoff_at
    assert await _call(handoff.due_timeouts, bot_ids=[bot_id]) == []
    assert (await _get(dialog_id)).handoff_at is not None


async def test_timeout_default_is_ten_minutes_in_model_and_database(db):
    assert Assistant(owner_id=uuid.uuid4(), name="x").handoff_timeout_minutes == 10
    owner = await _user("plain@example.com")
    async with async_session() as s:
        await s.execute(sa.text("INSERT INTO assistants (id, owner_id, name, system_prompt, model, temperature, "
                                "greeting, language, top_k, score_threshold, qa_direct_threshold, embedding_provider, "
                                "handoff_enabled, handoff_on_low_confidence, enabled, created_at, updated_at) VALUES "
                                "(:id, :owner, 'x', '', '', 0.2, '', 'auto', 5, 0.3, 0.85, '', true, true, true, "
                                "now(), now())"), {"id": uuid.uuid4(), "owner": owner})
        assert await s.scalar(sa.select(Assistant.handoff_timeout_minutes)) == 10


async def test_dialog_whose_bot_is_gone_times_out_on_any_runner(shop):
    tenant, _bot_id = shop
    dialog_id = await _dialog(tenant, None)
    await _call(handoff.request_handoff, dialog_id=dialog_id, reason="user")
    await _backdate(dialog_id, 11)
    assert await _call(handoff.due_timeouts, bot_ids=[]) == [dialog_id]  # a runner that owns no bot yet
    assert await _call(handoff.time_out, dialog_id=dialog_id)
    assert [m.role for m in await _messages(dialog_id)][-1] == "system"  # no bot: no notice to deliver
