"""A web conversation exists from the visitor's first message, never before: opening the panel or pressing
"new conversation" stores no dialog, so the owner's inbox, analytics and customer counts never list an
empty one; the first message starts it (dialog, client id and message in one transaction), its retry after
a dropped connection is stored once, and a message refused by a limit starts nothing. Analytics count a
visitor as one customer however many conversations they start."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from chatai.db.models import Dialog, Message, utcnow
from chatai.db.session import async_session
from chatai.services import analytics, inbox
from chatai.widget import limits
from tests.widget.conftest import open_stream, start_session


async def _send(tenant, visitor: dict, text: str, client_id: str, *, new: bool = False) -> tuple[int, list, dict]:
    """Post a message as the panel does; (status, events, or the JSON body of an answer without a stream)."""
    body = {"text": text, "client_message_id": client_id, "dialog": visitor["dialog"], "new": new}
    async with open_stream("POST", f"/widget/api/{tenant.assistant_id}/messages", token=visitor["token"],
                           body=body) as stream:
        if not stream.headers.get("content-type", "").startswith("text/event-stream"):
            import json

            raw = b""
            while (chunk := await stream.chunks.get()) is not None:
                raw += chunk
            return stream.status, [], json.loads(raw)
        return stream.status, await stream.rest(), {}


async def _owner_view(tenant) -> tuple[list[str], int, int]:
    """What the owner is shown: the inbox's dialog list (names), analytics' dialogs and customers."""
    now = utcnow()
    async with async_session() as session:
        rows = (await inbox.list_dialogs(session, owner_id=tenant.owner_id)).rows
        summary = await analytics.summary(session, owner_id=tenant.owner_id,
                                          period=analytics.Period(now - timedelta(days=1), now + timedelta(hours=1)))
    return [str(r.id) for r in rows], summary.dialogs, summary.end_users


async def _dialog_count(tenant) -> int:
    async with async_session() as session:
        return (await session.execute(sa.select(sa.func.count()).select_from(Dialog)
                                      .where(Dialog.owner_id == tenant.owner_id))).scalar_one()


async def test_opening_the_panel_and_new_conversation_store_no_dialog(tenant, client):
    visitor = (await start_session(client, tenant.assistant_id)).json()
    assert visitor["dialog"] == ""
    for _ in range(3):
        pressed = (await start_session(client, tenant.assistant_id, token=visitor["token"], new=True)).json()
        assert (pressed["dialog"], pressed["messages"]) == ("", [])
    assert await _dialog_count(tenant) == 0
    assert await _owner_view(tenant) == ([], 0, 0)


async def test_new_conversation_appears_with_its_first_message_only(tenant, client):
    visitor = (await start_session(client, tenant.assistant_id)).json()
    _, events, _ = await _send(tenant, visitor, "/help", "first-conversation-1")
    first = next(data["dialog"] for name, data in events if name == "accepted")
    assert (await _owner_view(tenant)) == ([first], 1, 1)

    # "New conversation": the panel is empty, the old conversation is still the only one anywhere.
    fresh = (await start_session(client, tenant.assistant_id, token=visitor["token"], new=True)).json()
    assert (fresh["dialog"], fresh["messages"]) == ("", [])
    assert await _dialog_count(tenant) == 1
    assert (await _owner_view(tenant)) == ([first], 1, 1)

    # Its first message starts it: a second dialog, with that message, listed first.
    _, events, _ = await _send(tenant, fresh, "/help", "second-conversation-1", new=True)
    second = next(data["dialog"] for name, data in events if name == "accepted")
    assert second != first and events[-1][0] == "final"
    assert await _owner_view(tenant) == ([second, first], 2, 1)  # two conversations, one customer (the visitor)
    now = utcnow()
    period = analytics.Period(now - timedelta(days=1), now + timedelta(hours=1))
    async with async_session() as session:
        channels = await analytics.by_channel(session, owner_id=tenant.owner_id, period=period)
    assert [(c.channel, c.dialogs, c.end_users) for c in channels] == [("web", 2, 1)]
    async with async_session() as session:
        texts = (await session.execute(sa.select(Message.role, Message.text).where(Message.dialog_id == second)
                                       .order_by(Message.created_at))).all()
    assert texts[0] == ("user", "/help") and [role for role, _ in texts] == ["user", "assistant"]
    # A reload shows the new conversation (the newest).
    assert (await start_session(client, tenant.assistant_id, token=visitor["token"])).json()["dialog"] == second


async def test_a_retried_first_message_starts_one_conversation(tenant, client):
    visitor = (await start_session(client, tenant.assistant_id, new=True)).json()
    _, events, _ = await _send(tenant, visitor, "/help", "dropped-then-retried", new=True)
    started = next(data["dialog"] for name, data in events if name == "accepted")
    # The connection dropped before "accepted": the panel sends the same id again, still as a new conversation.
    status, events, body = await _send(tenant, visitor, "/help", "dropped-then-retried", new=True)
    assert (status, events, body) == (200, [], {"duplicate": True, "dialog": started})
    assert await _dialog_count(tenant) == 1
    async with async_session() as session:
        users = (await session.execute(sa.select(sa.func.count()).select_from(Message)
                                       .where(Message.role == "user"))).scalar_one()
    assert users == 1


async def test_a_first_message_refused_by_a_limit_starts_nothing(tenant, client, monkeypatch):
    monkeypatch.setattr(limits, "VISITOR_MESSAGES", limits.Limit("widget_msg_visitor", max_hits=1, window_seconds=60))
    visitor = (await start_session(client, tenant.assistant_id, new=True)).json()
    await _send(tenant, visitor, "/help", "allowed-first-1", new=True)
    fresh = (await start_session(client, tenant.assistant_id, token=visitor["token"], new=True)).json()
    status, _, body = await _send(tenant, fresh, "/help", "refused-first-1", new=True)
    assert status == 429 and body["error"] == "You are sending messages too fast. Please wait a minute and try again."
    assert await _dialog_count(tenant) == 1
    listed, dialogs, customers = await _owner_view(tenant)
    assert (len(listed), dialogs, customers) == (1, 1, 1)


async def test_a_first_message_and_its_retry_racing_start_one_conversation(tenant, client):
    import asyncio

    from chatai.widget.answering import start_conversation
    from chatai.widget.tokens import read_token

    token = (await start_session(client, tenant.assistant_id, new=True)).json()["token"]
    visitor = read_token(token, assistant_id=tenant.assistant_id)
    results = await asyncio.gather(*(start_conversation(visitor=visitor, language="en", text="Hello there",
                                                        client_message_id="raced-first-message") for _ in range(2)))
    assert len({dialog_id for dialog_id, _, _ in results}) == 1
    assert sorted(recorded is None for _, _, recorded in results) == [False, True]  # stored once, the other found it
    assert await _dialog_count(tenant) == 1
