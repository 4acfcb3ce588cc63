"""`python -m chatai operators list/link-code` as its own process against the test database."""

from __future__ import annotations

import json
import re
from datetime import datetime

from chatai.db.models import Bot
from chatai.db.operator_models import TelegramOperator
from chatai.db.session import async_session
from chatai.services import operator_links
from tests.cli.test_core_cli import cli
from tests.factories import make_tenant


async def _bot(tenant, telegram_bot_id: int, username: str) -> Bot:
    async with async_session() as s:
        bot = Bot(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, telegram_bot_id=telegram_bot_id,
                  username=username, token_encrypted="-", desired_state="paused")
        s.add(bot)
        await s.commit()
        return bot


async def test_operators_link_code_then_list(db):
    owner = await make_tenant("ops-owner@example.com")
    other = await make_tenant("ops-other@example.com")
    bot = await _bot(owner, 81, "shop_bot")
    foreign = await _bot(other, 82, "their_bot")

    made = cli("operators", "link-code", "--owner", "OPS-owner@example.com", "--bot", str(bot.id))
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    assert re.fullmatch(r"https://t\.me/shop_bot\?start=op_[A-Za-z0-9_-]{32}", link)
    async with async_session() as s:  # the printed code is one the bot accepts
        redeemed = await operator_links.redeem(s, bot_id=bot.id, code=link.split("=", 1)[1], telegram_user_id=7,
                                               chat_id=7, name="Анна К", username="anna")
    assert redeemed.outcome == "linked"

    refused = cli("operators", "link-code", "--owner", "ops-owner@example.com", "--bot", str(foreign.id))
    assert refused.returncode == 1 and refused.stderr.strip() == f"error: the owner has no bot {foreign.id}"
    assert cli("operators", "link-code", "--owner", "nobody@example.com", "--bot", str(bot.id)).returncode == 1

    async with async_session() as s:
        s.add(TelegramOperator(owner_id=other.owner_id, bot_id=foreign.id, telegram_user_id=8, chat_id=8,
                               name="Hidden"))
        await s.commit()
    listed = cli("operators", "list", "--owner", "ops-owner@example.com", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [{k: v for k, v in r.items() if k != "linked_at"} for r in rows] == [
        {"telegram_user_id": 7, "name": "Анна К", "bot": "shop_bot"}]
    assert datetime.fromisoformat(rows[0]["linked_at"]).tzinfo is not None
    text = cli("operators", "list", "--owner", "ops-owner@example.com")
    assert "Анна К" in text.stdout and "@shop_bot" in text.stdout and "Hidden" not in text.stdout
