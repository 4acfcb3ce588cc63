"""Charging answers through the real runner and the fake Bot API: commit when delivered, release on each
failure path, settle after a crash, and the zero balance end to end (polite notice, handoff, owner
alert, answers resume after a top-up)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from chatai.conversation import charging
from chatai.db.models import MICRO, Dialog, Message, Notification
from chatai.db.money_models import BillingAccount, Charge, LedgerEntry, Price
from chatai.db.session import async_session
from chatai.services import billing
from tests.bots.conftest import FakeBrain, connect, wait_for
from tests.fakes import yookassa_server

fake_yookassa = yookassa_server.fake_yookassa  # the fixture, for the tests of this module

PRICE = 5 * MICRO


@pytest.fixture
async def priced(tenant, monkeypatch):
    """Prices as seeded by the migration (5 per answer), a fresh price cache, an immediate settle sweep."""
    monkeypatch.setattr(charging, "_prices", {})
    monkeypatch.setattr(charging, "SETTLE_MIN_AGE", __import__("datetime").timedelta(0))
    async with async_session() as s:
        s.add_all([Price(item="answer", price_micros=PRICE), Price(item="qa_answer", price_micros=PRICE)])
        await billing.ensure_account(s, user_id=tenant.owner_id)
        await s.commit()
    return tenant


async def _fund(owner_id, amount: int) -> None:
    async with async_session() as s:
        await billing.credit(s, account_id=owner_id, amount_micros=amount, kind="adjustment", key=f"fund:{amount}")
        await s.commit()


async def _money(owner_id) -> tuple[int, int, list[str]]:
    async with async_session() as s:
        await s.connection(execution_options={"isolation_level": "REPEATABLE READ"})  # one instant's books
        account = await s.get(BillingAccount, owner_id)
        charges = (await s.execute(sa.select(Charge.status).order_by(Charge.created_at))).scalars().all()
        _n, problems = await billing.check_accounts(s)
    assert problems == []
    return account.balance_micros, account.reserved_micros, list(charges)


async def _settled(owner_id, expected: list[str]):
    money = await _money(owner_id)
    return money if money[2] == expected and money[1] == 0 else None


async def test_delivered_answer_is_charged_once_with_cost_on_message_and_dialog(priced, fake_telegram, runners):
    await _fund(priced.owner_id, 100 * MICRO)
    bot, token = await connect(fake_telegram, priced)
    await runners(answer_fn=FakeBrain())
    fake_telegram.push_text(token, "/start", chat_id=7)  # the greeting is free
    fake_telegram.push_text(token, "When do you deliver?", chat_id=7)
    await fake_telegram.await_sent(token, 2)
    balance, _reserved, charges = await wait_for(lambda: _settled(priced.owner_id, ["committed"]))
    assert balance == 95 * MICRO
    async with async_session() as s:
        reply = (await s.execute(sa.select(Message).where(Message.role == "assistant", Message.answered_by == "llm"))
                 ).scalar_one()
        dialog = (await s.execute(sa.select(Dialog))).scalar_one()
        commits = (await s.execute(sa.select(sa.func.count()).select_from(LedgerEntry)
                                   .where(LedgerEntry.kind == "commit"))).scalar()
    assert reply.cost_micros == PRICE and dialog.cost_micros == PRICE and commits == 1


async def test_llm_failure_releases_the_reservation(priced, fake_telegram, runners):
    await _fund(priced.owner_id, 100 * MICRO)

    async def broken(**_kw):
        raise RuntimeError("model down")

    _bot, token = await connect(fake_telegram, priced)
    await runners(answer_fn=broken)
    fake_telegram.push_text(token, "Hello?", chat_id=8)
    sent = await fake_telegram.await_sent(token, 1)
    assert "try again" in sent[0]["text"]
    balance, _r, _c = await wait_for(lambda: _settled(priced.owner_id, ["released"]))
    assert balance == 100 * MICRO


async def test_send_failure_releases_the_reservation(priced, fake_telegram, runners):
    await _fund(priced.owner_id, 100 * MICRO)
    _bot, token = await connect(fake_telegram, priced)
    fake_telegram.fail_next(token, "sendMessage", 403)  # the user blocked the bot
    await runners(answer_fn=FakeBrain())
    fake_telegram.push_text(token, "Hello?", chat_id=9)
    balance, _r, _c = await wait_for(lambda: _settled(priced.owner_id, ["released"]))
    assert balance == 100 * MICRO and fake_telegram.sent_messages(token) == []


async def test_runner_killed_between_reserve_and_commit_is_settled_on_restart(priced, fake_telegram, runners):
    await _fund(priced.owner_id, 100 * MICRO)
    stuck = FakeBrain(gate=asyncio.Event())
    bot, token = await connect(fake_telegram, priced)
    doomed = await runners(answer_fn=stuck)
    fake_telegram.push_text(token, "Where is my order?", chat_id=12)
    await asyncio.wait_for(stuck.started.wait(), 10)
    await doomed.abort()  # reserved, never committed
    assert (await _money(priced.owner_id))[1:] == (PRICE, ["open"])
    await runners(answer_fn=FakeBrain())  # recovery answers with the same reservation and commits it
    await fake_telegram.await_sent(token, 1)
    balance, _r, _c = await wait_for(lambda: _settled(priced.owner_id, ["committed"]))
    assert balance == 95 * MICRO and len(fake_telegram.sent_messages(token)) == 1


async def test_settle_sweep_commits_an_answer_delivered_just_before_a_crash(priced, fake_telegram, runners,
                                                                          monkeypatch):
    """Delivered and marked answered, the commit never ran (the runner died): the sweep commits it; and an
    update the runner gave up on is released."""
    await _fund(priced.owner_id, 100 * MICRO)

    async def lost_commit(*_a, **_kw):
        return None

    monkeypatch.setattr(charging, "after_send", lost_commit)
    monkeypatch.setattr(charging, "SETTLE_INTERVAL", 3600.0)
    bot, token = await connect(fake_telegram, priced)
    first = await runners(answer_fn=FakeBrain())
    fake_telegram.push_text(token, "hello", chat_id=52)
    await fake_telegram.await_sent(token, 1)
    await wait_for(lambda: _update_status(bot.id, "answered"))
    await first.abort()
    assert (await _money(priced.owner_id))[2] == ["open"]
    await runners(answer_fn=FakeBrain())  # the sweep runs at start
    balance, _r, _c = await wait_for(lambda: _settled(priced.owner_id, ["committed"]))
    assert balance == 95 * MICRO and len(fake_telegram.sent_messages(token)) == 1


async def _update_status(bot_id, status):
    from chatai.db.models import TelegramUpdate

    async with async_session() as s:
        return (await s.execute(sa.select(TelegramUpdate.status).where(TelegramUpdate.bot_id == bot_id))
                ).scalar() == status


async def test_zero_balance_end_to_end(priced, fake_telegram, runners, fake_yookassa):
    from chatai.services.payments import confirm_payment, get_provider, start_topup

    brain = FakeBrain()
    bot, token = await connect(fake_telegram, priced)
    await runners(answer_fn=brain)
    fake_telegram.push_text(token, "Сколько стоит доставка?", chat_id=21, language="ru")
    sent = await fake_telegram.await_sent(token, 1)
    assert "временно недоступен" in sent[0]["text"] and "сотрудник" in sent[0]["text"]
    assert brain.calls == []  # no answer generated for free
    async with async_session() as s:
        dialog = (await s.execute(sa.select(Dialog))).scalar_one()
        system = (await s.execute(sa.select(Message.text).where(Message.role == "system"))).scalars().all()
        alerts = (await s.execute(sa.select(Notification.kind))).scalars().all()
    assert dialog.status == "waiting" and system == ["balance_zero"] and alerts == ["balance_zero"]
    fake_telegram.push_text(token, "Алло?", chat_id=21, language="ru")  # waiting for a person: AI muted
    await asyncio.sleep(0.5)
    assert len(fake_telegram.sent_messages(token)) == 1

    # The owner tops up through YooKassa: the dialog goes back to the AI, which answers the customer's last
    # question by itself (issue 23: never silence), with the earlier one in the history it is given.
    async with async_session() as s:
        url = await start_topup(s, user_id=priced.owner_id, amount_micros=500 * MICRO, return_url="http://app/ok",
                                provider=get_provider())
        fake_yookassa.set_status(url.rsplit("/", 1)[1], "succeeded")
        assert await confirm_payment(s, payment_id=url.rsplit("/", 1)[1], provider=get_provider()) == "credited"
        dialog = await s.get(Dialog, dialog.id)
        assert dialog.status == "ai"
        assert (await s.execute(sa.select(Notification.read_at))).scalar() is not None
    sent = await fake_telegram.await_sent(token, 2)
    assert sent[1]["text"].startswith("Answer to: Алло?")
    assert [c["question"] for c in brain.calls] == ["Алло?"]
    assert ("user", "Сколько стоит доставка?") in brain.calls[0]["history"]
    balance, _r, _c = await wait_for(lambda: _settled(priced.owner_id, ["committed"]))
    assert balance == 495 * MICRO


async def test_answer_produced_while_a_person_took_over_is_not_sent_nor_charged(priced, fake_telegram, runners):
    from chatai.services import handoff

    await _fund(priced.owner_id, 100 * MICRO)
    brain = FakeBrain(gate=asyncio.Event())
    bot, token = await connect(fake_telegram, priced)
    await runners(answer_fn=brain)
    fake_telegram.push_text(token, "When do you deliver?", chat_id=9)
    await asyncio.wait_for(brain.started.wait(), 10)  # the model is generating...
    async with async_session() as s:
        dialog = (await s.execute(sa.select(Dialog))).scalar_one()
        await handoff.take_over(s, owner_id=priced.owner_id, dialog_id=dialog.id, operator_id=priced.owner_id)
    brain.gate.set()  # ...and finishes after the owner took the dialog over
    balance, _reserved, charges = await wait_for(lambda: _settled(priced.owner_id, ["released"]))
    assert balance == 100 * MICRO
    await asyncio.sleep(0.3)
    assert fake_telegram.sent_messages(token) == []


async def test_the_answer_that_crosses_the_low_balance_threshold_mails_the_owner_once(priced, fake_telegram, runners,
                                                                                     monkeypatch):
    from chatai.db.mail_models import OutboxMail
    from chatai.settings import get_settings

    bot, token = await connect(fake_telegram, priced)
    monkeypatch.setattr(get_settings(), "smtp_host", "127.0.0.1")  # mail on: alerts are queued in the outbox
    threshold = get_settings().low_balance_answers * PRICE
    await _fund(priced.owner_id, threshold + PRICE // 2)  # one answer takes it under the threshold
    await runners(answer_fn=FakeBrain())
    for n, question in enumerate(("When do you deliver?", "And on Sunday?", "Do you ship abroad?"), 1):
        fake_telegram.push_text(token, question, chat_id=8)
        await fake_telegram.await_sent(token, n)
    await wait_for(lambda: _settled(priced.owner_id, ["committed", "committed", "committed"]))
    async with async_session() as s:
        kinds = (await s.execute(sa.select(OutboxMail.kind).where(OutboxMail.user_id == priced.owner_id))).scalars()
        assert [k for k in kinds if k == "balance_low"] == ["balance_low"]
