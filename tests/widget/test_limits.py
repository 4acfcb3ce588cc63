"""Abuse limits (per visitor and per client address) and the deduplication of a repeated client message id,
each refused with a sentence in the visitor's language."""

import sqlalchemy as sa

from chatai.db.models import Dialog
from chatai.db.session import async_session
from chatai.widget import limits
from chatai.widget.models import WidgetClientMessage
from tests.widget.conftest import start_session


async def _send(client, tenant, visitor, text, client_id, lang="en", new=False):
    return await client.post(f"/widget/api/{tenant.assistant_id}/messages?lang={lang}",
                             headers={"Authorization": f"Bearer {visitor['token']}"},
                             json={"text": text, "client_message_id": client_id, "dialog": visitor["dialog"],
                                   "new": new})


async def test_a_message_over_the_length_limit_is_refused_with_a_sentence(tenant, client):
    visitor = (await start_session(client, tenant.assistant_id, new=True)).json()
    response = await _send(client, tenant, visitor, "x" * (limits.MAX_MESSAGE_CHARS + 1), "c" * 16, lang="ru")
    assert response.status_code == 413
    assert response.json()["error"] == f"Сообщение слишком длинное: не больше {limits.MAX_MESSAGE_CHARS} символов."


async def test_messages_per_minute_per_visitor_are_limited(tenant, client):
    visitor = (await start_session(client, tenant.assistant_id, new=True)).json() | {"assistant": tenant.assistant_id}
    for n in range(limits.VISITOR_MESSAGES.max_hits):
        assert (await _send(client, tenant, visitor, f"question {n}", f"client-{n:08d}")).status_code == 200
    refused = await _send(client, tenant, visitor, "one more", "client-extra-1")
    assert refused.status_code == 429
    assert refused.json()["error"] == "You are sending messages too fast. Please wait a minute and try again."
    # The refused id was never stored: once the minute is over, its retry goes through (not a duplicate).
    await limits.VISITOR_MESSAGES.reset(str(_visitor_id(visitor)))
    assert (await _send(client, tenant, visitor, "one more", "client-extra-1")).headers["content-type"].startswith(
        "text/event-stream")


def _visitor_id(visitor):
    from chatai.widget.tokens import read_token

    return read_token(visitor["token"], assistant_id=visitor["assistant"]).visitor_id


async def test_messages_per_minute_per_address_hold_across_visitors(tenant, client, monkeypatch):
    monkeypatch.setattr(limits, "ADDRESS_MESSAGES", limits.Limit("widget_msg_address", max_hits=3, window_seconds=60))
    sent = []
    for n in range(4):  # a script minting a visitor per message
        visitor = (await start_session(client, tenant.assistant_id, new=True)).json()
        sent.append((await _send(client, tenant, visitor, "spam", f"spam-{n:08d}")).status_code)
    assert sent == [200, 200, 200, 429]


async def test_conversations_per_day_per_visitor_are_limited(tenant, client, monkeypatch):
    # A conversation counts when its first message starts it; pressing "new conversation" alone costs nothing.
    monkeypatch.setattr(limits, "VISITOR_MESSAGES", limits.Limit("widget_msg_visitor", max_hits=100,
                                                                 window_seconds=60))
    visitor = (await start_session(client, tenant.assistant_id, new=True)).json()
    for _ in range(limits.VISITOR_CONVERSATIONS.max_hits + 5):
        assert (await start_session(client, tenant.assistant_id, token=visitor["token"], new=True)).status_code == 200
    for n in range(limits.VISITOR_CONVERSATIONS.max_hits):
        started = await _send(client, tenant, visitor, "/help", f"conversation-{n:04d}", new=True)
        assert started.headers["content-type"].startswith("text/event-stream")
    refused = await _send(client, tenant, visitor, "/help", "conversation-extra", new=True)
    assert refused.status_code == 429
    assert refused.json()["error"].startswith("You have started too many conversations today.")
    async with async_session() as session:
        started_dialogs = (await session.execute(sa.select(sa.func.count()).select_from(Dialog)
                                                 .where(Dialog.owner_id == tenant.owner_id))).scalar_one()
    assert started_dialogs == limits.VISITOR_CONVERSATIONS.max_hits


async def test_a_repeated_client_message_id_is_taken_once(tenant, client):
    visitor = (await start_session(client, tenant.assistant_id, new=True)).json()
    first = await _send(client, tenant, visitor, "Do you deliver?", "double-click-1")
    assert first.headers["content-type"].startswith("text/event-stream")
    again = await _send(client, tenant, visitor, "Do you deliver?", "double-click-1")
    async with async_session() as session:
        rows = (await session.execute(sa.select(WidgetClientMessage.dialog_id))).scalars().all()
    assert again.json() == {"duplicate": True, "dialog": str(rows[0])}
    assert len(rows) == 1
    # The same id in another visitor's conversation is that visitor's own message.
    other = (await start_session(client, tenant.assistant_id, new=True)).json()
    assert (await _send(client, tenant, other, "Do you deliver?", "double-click-1")).headers[
        "content-type"].startswith("text/event-stream")


async def test_a_message_without_a_usable_client_id_is_refused(tenant, client):
    visitor = (await start_session(client, tenant.assistant_id, new=True)).json()
    for client_id in ("", "short", "bad id with spaces!", "x" * 65):
        response = await _send(client, tenant, visitor, "hi", client_id)
        assert response.status_code == 400
        assert response.json()["error"] == "Your message was not sent. Please try again."
