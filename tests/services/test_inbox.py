"""The inbox service against the real database: ordering, filters, keyset pages, ru+en search,
transcripts, unread counts, and never another owner's rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chatai.db.models import Assistant, Bot, Dialog, Message, User
from chatai.db.session import async_session
from chatai.services import inbox
from tests.factories import make_tenant

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def _bot(owner_id: uuid.UUID, assistant_id: uuid.UUID, number: int) -> uuid.UUID:
    async with async_session() as s:
        bot = Bot(assistant_id=assistant_id, owner_id=owner_id, telegram_bot_id=number, username=f"bot{number}",
                  token_encrypted="-", status="running")
        s.add(bot)
        await s.commit()
        return bot.id


async def _dialog(owner_id, assistant_id, bot_id, *, name: str, at: datetime, messages: list[tuple[str, str]],
                  status: str = "ai", channel: str = "telegram", read_at: datetime | None = None,
                  **message_fields) -> uuid.UUID:
    async with async_session() as s:
        dialog = Dialog(owner_id=owner_id, assistant_id=assistant_id, bot_id=bot_id, user_name=name, status=status,
                        channel=channel, telegram_chat_id=uuid.uuid4().int % 10**9 if bot_id else None,
                        last_message_at=at, created_at=at - timedelta(minutes=len(messages)))
        if read_at is not None:
            dialog.owner_read_at = read_at
        s.add(dialog)
        await s.flush()
        for i, (role, text) in enumerate(messages):
            s.add(Message(dialog_id=dialog.id, role=role, text=text,
                          created_at=at - timedelta(minutes=len(messages) - 1 - i), **message_fields))
        await s.commit()
        return dialog.id


@pytest.fixture
async def two_owners(db):
    a = await make_tenant("a@example.com")
    b = await make_tenant("b@example.com")
    bot_a = await _bot(a.owner_id, a.assistant_id, 1)
    bot_b = await _bot(b.owner_id, b.assistant_id, 2)
    return a, b, bot_a, bot_b


async def test_list_is_newest_first_with_preview_unread_and_only_mine(two_owners):
    a, b, bot_a, bot_b = two_owners
    old = await _dialog(a.owner_id, a.assistant_id, bot_a, name="Old", at=T0,
                        messages=[("user", "hi"), ("assistant", "hello")], read_at=T0)
    new = await _dialog(a.owner_id, a.assistant_id, bot_a, name="New", at=T0 + timedelta(hours=1),
                        messages=[("user", "one"), ("user", "two"), ("system", "handoff_requested")],
                        status="waiting")
    play = await _dialog(a.owner_id, a.assistant_id, None, name="", at=T0 - timedelta(hours=1),
                         messages=[("user", "test")], channel="playground")
    await _dialog(b.owner_id, b.assistant_id, bot_b, name="B's customer", at=T0 + timedelta(hours=2),
                  messages=[("user", "secret")])
    async with async_session() as s:
        page = await inbox.list_dialogs(s, owner_id=a.owner_id)
    assert [r.id for r in page.rows] == [new, old, play]
    first = page.rows[0]
    assert (first.user_name, first.bot_username, first.status, first.unread, first.messages) == (
        "New", "bot1", "waiting", 2, 3)
    assert (first.preview_role, first.preview) == ("system", "handoff_requested")
    assert page.rows[1].unread == 0 and page.rows[1].preview == "hello"
    assert page.rows[2].channel == "playground" and page.rows[2].bot_username == ""
    assert page.next_cursor is None


async def test_filters_by_assistant_bot_status_and_period(two_owners):
    a, _, bot_a, _ = two_owners
    async with async_session() as s:
        other_assistant = Assistant(owner_id=a.owner_id, name="Sales")
        s.add(other_assistant)
        await s.commit()
    bot_sales = await _bot(a.owner_id, other_assistant.id, 3)
    support = await _dialog(a.owner_id, a.assistant_id, bot_a, name="s", at=datetime.now(UTC),
                            messages=[("user", "x")], status="waiting")
    sales = await _dialog(a.owner_id, other_assistant.id, bot_sales, name="t",
                          at=datetime.now(UTC) - timedelta(days=3), messages=[("user", "y")])

    async def ids(**kw) -> list[uuid.UUID]:
        async with async_session() as s:
            return [r.id for r in (await inbox.list_dialogs(s, owner_id=a.owner_id,
                                                            filters=inbox.InboxFilter(**kw))).rows]

    assert await ids(assistant_id=other_assistant.id) == [sales]
    assert await ids(bot_id=bot_a) == [support]
    assert await ids(status="waiting") == [support]
    assert await ids(status="human") == []
    assert await ids(status="nonsense") == []
    assert await ids(since=datetime.now(UTC) - timedelta(days=1)) == [support]


async def test_keyset_pages_cover_every_dialog_once_in_order_even_with_equal_times(two_owners):
    a, _, bot_a, _ = two_owners
    made = []
    for i in range(7):
        at = T0 + timedelta(minutes=i // 2)  # pairs share a timestamp: the id breaks the tie
        made.append(await _dialog(a.owner_id, a.assistant_id, bot_a, name=f"u{i}", at=at, messages=[("user", "m")]))
    seen, cursor = [], None
    async with async_session() as s:
        while True:
            page = await inbox.list_dialogs(s, owner_id=a.owner_id, cursor=cursor, limit=3)
            seen += page.rows
            if page.next_cursor is None:
                break
            cursor = inbox.Cursor.decode(page.next_cursor.encode())
    assert sorted(r.id for r in seen) == sorted(made) and len(seen) == 7
    keys = [(r.last_message_at, str(r.id)) for r in seen]
    assert keys == sorted(keys, reverse=True)


async def test_search_matches_russian_and_english_word_forms_of_my_dialogs_only(two_owners):
    a, b, bot_a, bot_b = two_owners
    ru = await _dialog(a.owner_id, a.assistant_id, bot_a, name="ru", at=T0,
                       messages=[("user", "Сколько стоит доставка в Москву?")])
    en = await _dialog(a.owner_id, a.assistant_id, bot_a, name="en", at=T0 + timedelta(minutes=1),
                       messages=[("user", "hi"), ("assistant", "Our deliveries leave every morning")])
    await _dialog(b.owner_id, b.assistant_id, bot_b, name="b", at=T0, messages=[("user", "доставки нет")])

    async def found(words: str) -> list[uuid.UUID]:
        async with async_session() as s:
            page = await inbox.list_dialogs(s, owner_id=a.owner_id, filters=inbox.InboxFilter(search=words))
            return [r.id for r in page.rows]

    assert await found("доставки") == [ru]
    assert await found("delivery") == [en]
    assert await found("morning delivery") == [en]
    assert await found("pizza") == []
    assert await found("' OR 1=1 --") == []


async def test_transcript_has_every_role_and_refuses_other_owners(two_owners):
    a, b, bot_a, _ = two_owners
    async with async_session() as s:
        operator = (await s.get(User, a.owner_id)).email
    dialog_id = await _dialog(a.owner_id, a.assistant_id, bot_a, name="Ivan", at=T0, messages=[])
    async with async_session() as s:
        rows = [
            Message(dialog_id=dialog_id, role="user", text="<b>hi</b>", created_at=T0),
            Message(dialog_id=dialog_id, role="assistant", text="From the manual", answered_by="extractive",
                    sources=[{"document": "manual.pdf", "section": "Delivery"}], created_at=T0 + timedelta(seconds=1)),
            Message(dialog_id=dialog_id, role="system", text="handoff_requested", created_at=T0 + timedelta(seconds=2)),
            Message(dialog_id=dialog_id, role="operator", text="I am here", operator_id=a.owner_id,
                    answered_by="operator", created_at=T0 + timedelta(seconds=3)),
        ]
        s.add_all(rows)
        await s.commit()
    async with async_session() as s:
        tr = await inbox.get_transcript(s, owner_id=a.owner_id, dialog_id=dialog_id)
        with pytest.raises(inbox.InboxNotFound):
            await inbox.get_transcript(s, owner_id=b.owner_id, dialog_id=dialog_id)
        short = await inbox.get_transcript(s, owner_id=a.owner_id, dialog_id=dialog_id, limit=2)
    assert [m.role for m in tr.messages] == ["user", "assistant", "system", "operator"]
    assert tr.messages[0].text == "<b>hi</b>"
    assert tr.messages[1].sources[0]["document"] == "manual.pdf" and tr.messages[1].answered_by == "extractive"
    assert tr.messages[3].operator_email == operator
    assert [m.role for m in short.messages] == ["system", "operator"] and short.earlier == 2


async def test_unread_counts_and_mark_read(two_owners):
    a, b, bot_a, _ = two_owners
    d1 = await _dialog(a.owner_id, a.assistant_id, bot_a, name="x", at=T0,
                       messages=[("user", "1"), ("assistant", "2"), ("user", "3")])
    await _dialog(a.owner_id, a.assistant_id, bot_a, name="y", at=T0, messages=[("user", "1")], status="waiting")
    async with async_session() as s:
        summary = await inbox.unread_summary(s, owner_id=a.owner_id)
        assert (summary.unread, summary.waiting, summary.latest_waiting_name) == (3, 1, "y")
        assert (await inbox.unread_summary(s, owner_id=b.owner_id)).unread == 0
        await inbox.mark_read(s, owner_id=b.owner_id, dialog_id=d1)  # not B's: nothing changes
        assert (await inbox.unread_summary(s, owner_id=a.owner_id)).unread == 3
        await inbox.mark_read(s, owner_id=a.owner_id, dialog_id=d1, until=T0)
        assert (await inbox.unread_summary(s, owner_id=a.owner_id)).unread == 1
        row = await inbox.get_dialog_row(s, owner_id=a.owner_id, dialog_id=d1)
        assert row.unread == 0
