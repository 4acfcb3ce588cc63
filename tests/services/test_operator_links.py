"""Operator links (issue 22): the code is stored only as its hash, lives 15 minutes, works once, for its bot;
an account linked again says so; quiet hours across midnight and time zones."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from chatai.db.models import Bot, utcnow
from chatai.db.operator_models import OperatorLinkCode
from chatai.db.session import async_session
from chatai.services import operator_links
from chatai.services.operator_links import OperatorLinkError, QuietHours
from tests.factories import make_tenant


async def _bot(tenant, telegram_bot_id: int, username: str = "shop_bot") -> Bot:
    async with async_session() as s:
        bot = Bot(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, telegram_bot_id=telegram_bot_id,
                  username=username, token_encrypted="-")
        s.add(bot)
        await s.commit()
        return bot


async def _redeem(bot_id, code: str, user_id: int = 7, **kw) -> str:
    async with async_session() as s:
        return (await operator_links.redeem(s, bot_id=bot_id, code=code, telegram_user_id=user_id, chat_id=user_id,
                                            name="Anna", **kw)).outcome


async def test_code_is_hashed_lives_fifteen_minutes_and_works_once(db):
    tenant = await make_tenant()
    bot = await _bot(tenant, 11)
    start = utcnow()
    async with async_session() as s:
        made = await operator_links.create_link_code(s, owner_id=tenant.owner_id, bot_id=bot.id, now=start)
        rows = (await s.execute(sa.select(OperatorLinkCode))).scalars().all()
    assert made.link == f"https://t.me/shop_bot?start={made.code}" and made.expires_at == start + timedelta(minutes=15)
    assert [r.code_hash for r in rows] == [hashlib.sha256(made.code.encode()).hexdigest()]
    assert made.code not in repr([r.model_dump() for r in rows])

    assert await _redeem(bot.id, made.code, now=start + timedelta(minutes=15)) == "expired"
    assert await _redeem(bot.id, made.code, now=start + timedelta(minutes=14, seconds=59)) == "linked"
    assert await _redeem(bot.id, made.code, user_id=8) == "used"
    async with async_session() as s:  # a new link opened by the same account: nothing new, said so
        again = await operator_links.create_link_code(s, owner_id=tenant.owner_id, bot_id=bot.id)
    assert await _redeem(bot.id, again.code) == "already"
    async with async_session() as s:
        assert len(await operator_links.list_operators(s, owner_id=tenant.owner_id)) == 1


async def test_a_bot_without_a_username_gets_no_link(db):
    tenant = await make_tenant()
    bot = await _bot(tenant, 12, username="")
    async with async_session() as s:
        with pytest.raises(OperatorLinkError) as refused:
            await operator_links.create_link_code(s, owner_id=tenant.owner_id, bot_id=bot.id)
    assert refused.value.code == "bot_not_ready"


def test_quiet_hours_span_midnight_in_the_owners_time_zone():
    night = QuietHours(start=22 * 60, end=7 * 60, timezone="Europe/Moscow")  # UTC+3
    assert night.active(datetime(2026, 12, 5, 20, 30, tzinfo=UTC))  # 23:30 in Moscow
    assert night.active(datetime(2026, 12, 5, 3, 59, tzinfo=UTC))  # 06:59
    assert not night.active(datetime(2026, 12, 5, 4, 0, tzinfo=UTC))  # 07:00
    assert not night.active(datetime(2026, 12, 5, 18, 59, tzinfo=UTC))  # 21:59
    lunch = QuietHours(start=13 * 60, end=14 * 60)
    assert lunch.active(datetime(2026, 12, 5, 13, 15, tzinfo=UTC)) and not lunch.active(
        datetime(2026, 12, 5, 14, 0, tzinfo=UTC))
    assert not QuietHours().active(datetime(2026, 12, 5, 3, 0, tzinfo=UTC))
    assert night.as_text() == ("22:00", "07:00") and QuietHours().as_text() == ("", "")


def test_link_payloads_are_told_apart_from_customers_deep_links():
    assert operator_links.is_link_payload("/start op_abc")
    assert operator_links.is_link_payload("/start@shop_bot op_abc")
    assert not operator_links.is_link_payload("/start promo_summer")
    assert not operator_links.is_link_payload("/start")
    assert not operator_links.is_link_payload("op_abc")
