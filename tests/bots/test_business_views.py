"""What the dashboard and the command line show of Telegram Business connections: owner-scoped, each state
by name, and the inbox's notes of business chats translated in both languages."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chatai.business import store
from chatai.business.connections import list_connections
from chatai.business.models import BusinessConnection
from chatai.db.models import Bot
from chatai.db.session import async_session
from chatai.web.components.business_connections import connection_dict
from chatai.web.i18n import text
from chatai.web.state.inbox import EVENT_CODES
from tests.cli.test_core_cli import cli
from tests.factories import make_tenant


async def _bot(tenant, telegram_bot_id: int, username: str) -> Bot:
    async with async_session() as s:
        bot = Bot(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, telegram_bot_id=telegram_bot_id,
                  username=username, token_encrypted="-", desired_state="paused")
        s.add(bot)
        await s.commit()
        return bot


async def _connection(bot: Bot, connection_id: str, user_id: int, name: str, **fields) -> None:
    async with async_session() as s:
        s.add(BusinessConnection(bot_id=bot.id, connection_id=connection_id, owner_id=bot.owner_id,
                                 telegram_user_id=user_id, user_chat_id=user_id, user_name=name, **fields))
        await s.commit()


async def test_connections_are_listed_for_their_owner_only_with_their_state(db):
    owner = await make_tenant("biz-owner@example.com")
    other = await make_tenant("biz-other@example.com")
    bot = await _bot(owner, 91, "shop_bot")
    foreign = await _bot(other, 92, "their_bot")
    await _connection(bot, "a", 1, "Мария", username="maria", can_reply=True)
    await _connection(bot, "b", 2, "Reader", can_reply=False)
    await _connection(bot, "c", 3, "Off", can_reply=True, enabled=False)
    await _connection(bot, "d", 4, "Gone", can_reply=True, revoked_at=datetime(2026, 12, 1, tzinfo=UTC))
    await _connection(foreign, "e", 5, "Hidden", can_reply=True)

    async with async_session() as s:
        mine = await list_connections(s, owner_id=owner.owner_id)
        theirs = await list_connections(s, owner_id=other.owner_id)
        by_bot = await list_connections(s, owner_id=owner.owner_id, bot_id=foreign.id)
    assert [(c.connection_id, c.state) for c in mine] == [("a", "answering"), ("b", "cannot_reply"),
                                                          ("c", "disabled"), ("d", "revoked")]
    assert [c.user_name for c in theirs] == ["Hidden"] and by_bot == []
    assert connection_dict(mine[0]) == {"bot_id": str(bot.id), "name": "Мария", "username": "maria",
                                        "state": "answering", "can_reply": "1"}

    listed = cli("bots", "business", "--owner", "BIZ-owner@example.com", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["bot"], r["connection_id"], r["name"], r["state"], r["can_reply"]) for r in rows] == [
        ("shop_bot", "a", "Мария", "answering", True), ("shop_bot", "b", "Reader", "cannot_reply", False),
        ("shop_bot", "c", "Off", "disabled", True), ("shop_bot", "d", "Gone", "revoked", True)]
    plain = cli("bots", "business", "--owner", "biz-other@example.com")
    assert "Hidden" in plain.stdout and "@their_bot" in plain.stdout and "Мария" not in plain.stdout


def test_states_and_notes_are_sentences_in_english_and_russian():
    for code in (store.OWNER_WROTE, store.EDITED, store.DELETED):
        assert code in EVENT_CODES
        for locale in ("en", "ru"):
            assert text(locale, f"inbox_event_{code}").endswith(".")
    for state in ("answering", "cannot_reply", "disabled", "revoked"):
        assert text("en", f"business_state_{state}") != text("ru", f"business_state_{state}")
