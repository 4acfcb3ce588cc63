"""The exactly-once bookkeeping of the lean hot path: the one-statement incoming write, the saved reply,
and the 'answered' marks written as each send returns (bots/writeback.py), directly and through a running runner."""

from __future__ import annotations

import asyncio
import contextlib

import sqlalchemy as sa

from chatai.bots.writeback import WriteBehind
from chatai.db.models import Dialog, Message, TelegramUpdate
from chatai.db.session import async_session, get_async_engine
from chatai.services import dialogs
from chatai.services.dialogs import AnsweredMark, Incoming
from tests.bots.conftest import FakeBrain, connect, wait_for


@contextlib.asynccontextmanager
async def autocommit():
    async with get_async_engine().connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


async def _rows(bot_id):
    async with async_session() as s:
        updates = dict((await s.execute(sa.select(TelegramUpdate.update_id, TelegramUpdate.status)
                                        .where(TelegramUpdate.bot_id == bot_id))).all())
        messages = (await s.execute(sa.select(Message.role, Message.text, Message.telegram_update_id,
                                              Message.telegram_message_id, Message.latency_ms)
                                    .join(Dialog, Dialog.id == Message.dialog_id).where(Dialog.bot_id == bot_id)
                                    .order_by(Message.created_at))).all()
        dialog_count = (await s.execute(sa.select(sa.func.count()).select_from(Dialog)
                                        .where(Dialog.bot_id == bot_id))).scalar()
    return updates, messages, dialog_count


def _text(update_id, text, chat_id=42, **kw):
    return Incoming(update_id=update_id, kind="text", chat_id=chat_id, user_id=7, user_name=kw.get("name", "Ann"),
                    language=kw.get("language", "en"), message_id=update_id + 100, text=text)


async def test_incoming_is_one_statement_deduplicated_with_history(tenant, fake_telegram):
    bot, _token = await connect(fake_telegram, tenant)
    ids = dict(bot_id=bot.id, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id)
    async with autocommit() as conn:
        first = await dialogs.record_incoming(conn, incoming=[_text(1, "one")], **ids)
        again = await dialogs.record_incoming(conn, incoming=[_text(1, "one")], **ids)  # re-delivery
        assert [p.update_id for p in first] == [1] and again == []
        assert first[0].history == []  # the message itself is not its own history
        reply, held = await dialogs.save_reply(conn, pending=first[0], text="answer one", answered_by="llm",
                                               sources=[{"document": "a.md"}])
        assert held is False  # nobody took the dialog
        second = await dialogs.record_incoming(
            conn, incoming=[_text(2, "two", name=""), Incoming(update_id=3, kind="none")], **ids)
    assert [p.update_id for p in second] == [2]
    assert second[0].history == [("user", "one"), ("assistant", "answer one")]
    assert second[0].dialog_id == first[0].dialog_id
    updates, messages, dialog_count = await _rows(bot.id)
    assert updates == {1: "received", 2: "received", 3: "ignored"}
    assert [(m.role, m.text, m.telegram_update_id) for m in messages] == [
        ("user", "one", 1), ("assistant", "answer one", 1), ("user", "two", 2)]
    assert dialog_count == 1
    async with async_session() as s:
        dialog = await s.get(Dialog, first[0].dialog_id)
        assert dialog.user_name == "Ann"  # an empty name does not erase the known one
        saved = await s.get(Message, reply)
        assert saved.sources == [{"document": "a.md"}]
    # Recovery sees the saved reply of update 1 and the still-owed update 2.
    async with async_session() as s:
        pending = {p.update_id: p for p in await dialogs.load_pending(s, bot_id=bot.id)}
    assert pending[1].saved_reply.text == "answer one" and pending[2].saved_reply is None


async def test_incoming_for_a_human_handled_dialog_is_muted(tenant, fake_telegram):
    bot, _token = await connect(fake_telegram, tenant)
    ids = dict(bot_id=bot.id, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id)
    async with autocommit() as conn:
        await dialogs.record_incoming(conn, incoming=[_text(1, "hi")], **ids)
        await conn.execute(sa.update(Dialog).where(Dialog.bot_id == bot.id).values(status="human"))
        muted = await dialogs.record_incoming(conn, incoming=[_text(2, "a person please")], **ids)
    assert [p.ai_muted for p in muted] == [True]
    updates, _messages, _ = await _rows(bot.id)
    assert updates == {1: "received", 2: "ignored"}


async def test_write_behind_owes_until_written_and_keeps_marks_on_failure(tenant, fake_telegram):
    bot, _token = await connect(fake_telegram, tenant)
    ids = dict(bot_id=bot.id, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id)
    async with autocommit() as conn:
        pending = await dialogs.record_incoming(conn, incoming=[_text(1, "a"), _text(2, "b", chat_id=43)], **ids)
        replies = [(await dialogs.save_reply(conn, pending=p, text=f"re {p.text}", answered_by="llm"))[0]
                   for p in pending]

    broken = True

    @contextlib.asynccontextmanager
    async def connect_db():
        if broken:
            raise ConnectionError("database away")
        async with autocommit() as conn:
            yield conn

    wb = WriteBehind(connect_db, interval=0.01)
    for p, reply_id, tg_id in zip(pending, replies, (501, 502), strict=True):
        wb.mark_answered(AnsweredMark(bot_id=bot.id, update_id=p.update_id, reply_id=reply_id,
                                      telegram_message_id=tg_id, latency_ms=12, dialog_id=p.dialog_id))
    assert wb.owes(bot.id, 1) and wb.owes(bot.id, 2) and not wb.owes(bot.id, 3)
    try:
        await wb.flush()
    except ConnectionError:
        pass
    assert wb.owes(bot.id, 1) and wb.owes(bot.id, 2)  # kept for the next round
    assert (await _rows(bot.id))[0] == {1: "received", 2: "received"}
    broken = False
    await wb.flush()
    assert not wb.owes(bot.id, 1) and not wb.owes(bot.id, 2)
    updates, messages, _ = await _rows(bot.id)
    assert updates == {1: "answered", 2: "answered"}
    assert {(m.text, m.telegram_message_id, m.latency_ms) for m in messages if m.role == "assistant"} == {
        ("re a", 501, 12), ("re b", 502, 12)}


def hold_marks(runner):
    """Make the runner's mark writes hang (as if the database were slow): marks stay queued or in flight.
    Returns a function that puts the real connection back."""
    real = runner.writeback._connect

    @contextlib.asynccontextmanager
    async def hanging():
        await asyncio.Event().wait()
        yield None

    runner.writeback._connect = hanging
    return lambda: setattr(runner.writeback, "_connect", real)


async def test_queued_mark_is_not_answered_again_and_is_written_at_stop(tenant, fake_telegram, runners,
                                                                         monkeypatch):
    """A mark not written yet (update 'received' in the database) must not look owed to the recovery sweep."""
    from chatai.bots import queries

    sweeps = []
    real_owed = queries.received_updates

    async def counted_owed(conn):
        sweeps.append(1)
        return await real_owed(conn)

    monkeypatch.setattr(queries, "received_updates", counted_owed)
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    runner = await runners(answer_fn=brain)
    release = hold_marks(runner)  # the mark's write hangs
    fake_telegram.push_text(token, "once please", chat_id=51)
    await fake_telegram.await_sent(token, 1)
    seen = len(sweeps)
    assert await wait_for(lambda: len(sweeps) >= seen + 3)  # three recovery sweeps ran since, however slowly
    assert (await _rows(bot.id))[0] == {1000: "received"}
    assert len(fake_telegram.sent_messages(token)) == 1 and len(brain.calls) == 1
    release()
    await runner.stop()  # a clean stop cancels the hanging write and writes what it held
    assert (await _rows(bot.id))[0] == {1000: "answered"}


async def test_crash_with_a_queued_mark_resends_the_saved_answer_only(tenant, fake_telegram, runners):
    """The documented at-least-once window: a crash after sendMessage and before the mark is written.
    The restarted runner resends the SAVED answer (no second model call) and then marks it."""
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    doomed = await runners(answer_fn=brain)
    hold_marks(doomed)
    fake_telegram.push_text(token, "hello", chat_id=52)
    await fake_telegram.await_sent(token, 1)
    await doomed.abort()
    second_brain = FakeBrain()
    await runners(answer_fn=second_brain)
    sent = await fake_telegram.await_sent(token, 2)
    assert sent[0]["text"] == sent[1]["text"] and second_brain.calls == []
    assert await wait_for(lambda: _answered(bot.id))


async def _answered(bot_id):
    return (await _rows(bot_id))[0] == {1000: "answered"}


def test_classify_reads_the_raw_update():
    from chatai.bots.handlers import classify
    from tests.fakes.telegram_updates import photo_update, text_update

    text = classify(text_update("/start now", chat_id=9, language="ru", update_id=77))
    assert (text.update_id, text.kind, text.chat_id, text.language, text.text) == (77, "start", 9, "ru", "/start now")
    assert text.user_name and text.message_id is not None
    photo = classify({**photo_update(chat_id=9), "update_id": 78})
    assert (photo.kind, photo.text) == ("unsupported", "[photo]")
    assert classify({"update_id": 5, "edited_message": {"text": "x"}}).kind == "none"
