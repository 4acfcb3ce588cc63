"""A "don't know" from the confidence decision (issue 20), through the real runner, the fake Bot API and the
real answer function: never charged, the dialog waits for a person, and the question lands in the owner's
unanswered list; a sure answer from the same knowledge base is charged as before."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from chatai.conversation import charging
from chatai.db.models import MICRO, Assistant, Dialog, Message
from chatai.db.money_models import BillingAccount, Charge, Price
from chatai.db.session import async_session
from chatai.rag.answer import TEXTS, answer_question
from chatai.services import analytics, billing, knowledge
from tests.bots.conftest import connect, wait_for

PRICE = 5 * MICRO


@pytest.fixture
async def shop(tenant, monkeypatch):
    """A priced, funded owner whose assistant knows two Q&A pairs."""
    monkeypatch.setattr(charging, "_prices", {})
    monkeypatch.setattr(charging, "SETTLE_MIN_AGE", timedelta(0))
    async with async_session() as s:
        s.add_all([Price(item="answer", price_micros=PRICE), Price(item="qa_answer", price_micros=PRICE)])
        await billing.ensure_account(s, user_id=tenant.owner_id)
        await billing.credit(s, account_id=tenant.owner_id, amount_micros=100 * MICRO, kind="adjustment",
                             key="fund")
        await s.commit()
        await knowledge.add_qa_pair(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                    question="Можете смолоть купленный кофе?",
                                    answer="Да, смелем бесплатно под любой способ заваривания.")
        await knowledge.add_qa_pair(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                    question="Есть ли парковка?", answer="Да, бесплатная парковка во дворе.")
    return tenant


async def _money(owner_id) -> tuple[int, list[str]]:
    """The balance and the charges as of one instant: one snapshot (REPEATABLE READ), since under READ COMMITTED
    a settle committing between two reads showed a committed charge beside the balance from before it."""
    async with async_session() as s:
        await s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        account = await s.get(BillingAccount, owner_id)
        charges = (await s.execute(sa.select(Charge.status).order_by(Charge.created_at))).scalars().all()
    return account.balance_micros, list(charges)


async def test_dont_know_is_free_hands_off_and_is_listed_as_unanswered(shop, fake_telegram, runners):
    bot, token = await connect(fake_telegram, shop)
    await runners(answer_fn=answer_question)
    # One shared word ("кофе") with the grinding pair: it must not answer, and there is nothing else.
    fake_telegram.push_text(token, "можно отдать нераспечатанный кофе обратно?", chat_id=31, language="ru")
    (reply,) = await fake_telegram.await_sent(token, 1)
    # Issue 23: one message that itself says a person will answer, not "don't know" then "I called a person".
    assert reply["text"] == TEXTS["ru"]["dont_know_person"]
    assert await wait_for(lambda: _released(shop.owner_id))
    await asyncio.sleep(0.3)
    assert len(fake_telegram.sent_messages(token)) == 1
    async with async_session() as s:
        dialog = (await s.execute(sa.select(Dialog))).scalar_one()
        saved = (await s.execute(sa.select(Message).where(Message.role == "assistant"))).scalar_one()
        notices = (await s.execute(sa.select(Message.text).where(Message.role == "system"))).scalars().all()
        period = analytics.Period(since=datetime.now(UTC) - timedelta(days=1),
                                  until=datetime.now(UTC) + timedelta(minutes=1))
        missed = await analytics.unanswered(s, owner_id=shop.owner_id, period=period)
    assert (saved.answered_by, saved.needs_handoff, saved.cost_micros) == ("fallback", True, 0)
    assert dialog.status == "waiting" and notices == ["handoff_low_confidence"]
    assert [(g.question, g.count) for g in missed] == [("можно отдать нераспечатанный кофе обратно?", 1)]


@pytest.mark.parametrize("setting", ["handoff_enabled", "handoff_on_low_confidence"])
async def test_with_handoff_off_dont_know_promises_no_person(shop, fake_telegram, runners, setting):
    async with async_session() as s:
        assistant = await s.get(Assistant, shop.assistant_id)
        setattr(assistant, setting, False)
        await s.commit()
    bot, token = await connect(fake_telegram, shop)
    await runners(answer_fn=answer_question)
    fake_telegram.push_text(token, "Do you sell gift cards for the bike rental?", chat_id=33, language="en")
    (reply,) = await fake_telegram.await_sent(token, 1)
    assert reply["text"] == TEXTS["en"]["dont_know"] and "person" not in reply["text"]
    async with async_session() as s:
        dialog = (await s.execute(sa.select(Dialog))).scalar_one()
        notices = (await s.execute(sa.select(Message.text).where(Message.role == "system"))).scalars().all()
    assert (dialog.status, notices) == ("ai", [])


async def test_a_sure_answer_is_still_charged(shop, fake_telegram, runners):
    bot, token = await connect(fake_telegram, shop)
    await runners(answer_fn=answer_question)
    fake_telegram.push_text(token, "Есть парковка?", chat_id=32, language="ru")
    (reply,) = await fake_telegram.await_sent(token, 1)
    assert reply["text"].startswith("Да, бесплатная парковка во дворе.")
    balance, charges = await wait_for(lambda: _committed(shop.owner_id))
    assert balance == 95 * MICRO and charges == ["committed"]


async def _released(owner_id) -> bool:
    balance, charges = await _money(owner_id)
    return balance == 100 * MICRO and charges in ([], ["released"])


async def _committed(owner_id):
    money = await _money(owner_id)
    return money if money[1] == ["committed"] else None
