"""Analytics split by channel; the owner's playground is never counted as a customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chatai.db.models import Dialog, Message
from chatai.db.session import async_session
from chatai.services import analytics
from chatai.services.overview import owner_overview, platform_overview
from tests.factories import make_tenant

NOW = datetime.now(UTC).replace(microsecond=0)
PERIOD = analytics.Period(since=NOW - timedelta(days=7), until=NOW + timedelta(seconds=1))


async def _dialog(owner_id, assistant_id, channel: str, messages: list[tuple], user_id: int | None = None):
    at = NOW - timedelta(days=1)
    async with async_session() as s:
        d = Dialog(owner_id=owner_id, assistant_id=assistant_id, channel=channel, telegram_user_id=user_id,
                   last_message_at=at + timedelta(minutes=len(messages)), created_at=at)
        s.add(d)
        await s.flush()
        for i, (role, text, *by) in enumerate(messages):
            s.add(Message(dialog_id=d.id, role=role, text=text, answered_by=by[0] if by else "",
                          created_at=at + timedelta(minutes=i)))
        await s.commit()


async def test_figures_by_channel_without_the_playground(db):
    t = await make_tenant("channels@example.com")
    other = await make_tenant("noise@example.com")
    await _dialog(t.owner_id, t.assistant_id, "telegram", [("user", "a"), ("assistant", "b", "llm")], user_id=1)
    await _dialog(t.owner_id, t.assistant_id, "telegram", [("user", "c"), ("assistant", "d", "qa"),
                                                           ("user", "person!"), ("system", "handoff_requested"),
                                                           ("operator", "hi", "operator")], user_id=2)
    await _dialog(t.owner_id, t.assistant_id, "web", [("user", "e"), ("assistant", "f", "fallback")])
    await _dialog(t.owner_id, t.assistant_id, "playground", [("user", "try"), ("assistant", "g", "llm")] * 5)
    await _dialog(other.owner_id, other.assistant_id, "web", [("user", "x")] * 9)

    async with async_session() as s:
        split = await analytics.by_channel(s, owner_id=t.owner_id, period=PERIOD)
        total = await analytics.summary(s, owner_id=t.owner_id, period=PERIOD)
        counted = await owner_overview(s, owner_id=t.owner_id)
        platform = await platform_overview(s)
    assert [(c.channel, c.dialogs, c.end_users, c.messages, c.by_ai, c.by_person, c.handoffs) for c in split] == [
        ("telegram", 2, 2, 6, 2, 1, 1), ("web", 1, 1, 2, 0, 0, 0)]
    assert (total.dialogs, total.end_users, total.messages, total.by_llm) == (3, 3, 8, 1)  # no playground
    assert (counted.dialogs, platform.dialogs) == (3, 4)  # the overview's "Conversations" too
