"""The low-balance mail (issue 23): sent whenever the balance crosses the threshold downwards, whatever moved
it (an answer's charge, an admin debit), once per crossing, re-armed when the balance goes back above it,
exactly once when many answers are charged at the same time. Real PostgreSQL and a real SMTP server."""

from __future__ import annotations

import asyncio

import pytest

from chatai.db.models import MICRO, User
from chatai.db.session import async_session
from chatai.services import billing, charges, mail
from chatai.settings import get_settings
from tests.factories import make_tenant

PRICE = 5 * MICRO
LOW = "Your ChatAI balance is running low"
ZERO = "Your ChatAI balance has run out"


@pytest.fixture
def mail_on(db, smtp, monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", smtp.port)
    monkeypatch.setattr(settings, "smtp_security", "none")
    monkeypatch.setattr(settings, "public_url", "http://chatai.test")
    smtp.clear()
    return smtp


def _threshold() -> int:
    return get_settings().low_balance_answers * PRICE


async def _owner(email: str, balance: int):
    tenant = await make_tenant(email)
    admin = User(email=f"admin-{email}", password_hash="-", role="admin")
    async with async_session() as s:
        s.add(admin)
        await billing.set_price(s, item="answer", channel="telegram", price_micros=PRICE, actor_id=tenant.owner_id)
        await billing.open_account(s, user_id=tenant.owner_id, welcome=False)
        await billing.credit(s, account_id=tenant.owner_id, amount_micros=balance, kind="topup", key=f"seed:{email}")
        await s.commit()
    return tenant.owner_id, admin.id


async def _answer(owner_id, key: str) -> str:
    async with async_session() as s:
        status = await charges.reserve(s, account_id=owner_id, key=key, amount_micros=PRICE)
        if status == "reserved":
            await charges.settle_charge(s, key=key, commit=True, item="answer")
        await s.commit()
    return status


async def _debit(owner_id, admin_id, micros: int) -> None:
    async with async_session() as s:
        await billing.adjust(s, account_id=owner_id, amount_micros=-micros, reason="chargeback", actor_id=admin_id)
        await s.commit()


async def _alerts(server, email: str) -> list[str]:
    async with async_session() as s:
        await mail.send_pending(s)
    return [m.subject for m in server.to(email) if m.subject in (LOW, ZERO)]


async def test_an_admin_debit_across_the_threshold_then_answers_mails_low_once(mail_on):
    """The walk: an admin debit took the balance under the threshold, answers used up the rest, and only
    "balance exhausted" arrived."""
    owner_id, admin_id = await _owner("debit@example.com", _threshold() + 10 * PRICE)
    await _debit(owner_id, admin_id, 11 * PRICE)  # just under the threshold
    assert await _alerts(mail_on, "debit@example.com") == [LOW]
    for i in range(3):
        assert await _answer(owner_id, f"a{i}") == "reserved"
    assert await _alerts(mail_on, "debit@example.com") == [LOW]  # no second mail for the same fall


async def test_a_fall_straight_below_one_answer_still_mails_low(mail_on):
    owner_id, admin_id = await _owner("cliff@example.com", _threshold() + PRICE)
    await _debit(owner_id, admin_id, _threshold() + PRICE // 2)  # half an answer left
    assert await _alerts(mail_on, "cliff@example.com") == [LOW]
    body = next(m for m in mail_on.to("cliff@example.com") if m.subject == LOW).text
    assert "₽2.50" in body


async def test_a_debit_that_stays_above_or_starts_below_does_not_mail(mail_on):
    owner_id, admin_id = await _owner("calm@example.com", _threshold() + 3 * PRICE)
    await _debit(owner_id, admin_id, 3 * PRICE)  # lands exactly on the threshold: not below it
    assert await _alerts(mail_on, "calm@example.com") == []
    assert await _answer(owner_id, "cross") == "reserved"  # this answer crosses
    await _debit(owner_id, admin_id, PRICE)  # already below: no new crossing
    assert await _alerts(mail_on, "calm@example.com") == [LOW]


async def test_the_alert_re_arms_when_the_balance_goes_back_above(mail_on):
    owner_id, admin_id = await _owner("rearm@example.com", _threshold())
    assert await _answer(owner_id, "first") == "reserved"  # threshold -> below: mail 1
    async with async_session() as s:
        await billing.credit(s, account_id=owner_id, amount_micros=2 * PRICE, kind="topup", key="topup:back")
        await s.commit()
    # Now threshold + 1 answer: the first answer lands on the threshold, the second crosses again.
    assert await _answer(owner_id, "second") == "reserved"
    assert await _alerts(mail_on, "rearm@example.com") == [LOW]
    assert await _answer(owner_id, "third") == "reserved"
    assert await _alerts(mail_on, "rearm@example.com") == [LOW, LOW]


async def test_many_answers_charged_at_once_across_the_threshold_mail_exactly_once(mail_on):
    owner_id, _ = await _owner("rush@example.com", _threshold() + 3 * PRICE)
    statuses = await asyncio.gather(*[_answer(owner_id, f"rush{i}") for i in range(12)])
    assert statuses.count("reserved") == 12
    async with async_session() as s:
        assert (await billing.get_balance(s, user_id=owner_id)).balance_micros == _threshold() - 9 * PRICE
    assert await _alerts(mail_on, "rush@example.com") == [LOW]


async def test_a_retried_settlement_does_not_mail_twice(mail_on):
    owner_id, _ = await _owner("retry@example.com", _threshold())
    assert await _answer(owner_id, "once") == "reserved"
    async with async_session() as s:  # the settle sweep or a retry reaching the same charge
        assert await charges.settle_charge(s, key="once", commit=True, item="answer") == 0
        await s.commit()
    assert await _alerts(mail_on, "retry@example.com") == [LOW]


async def test_answers_and_admin_debits_racing_across_the_threshold_mail_exactly_once(mail_on):
    owner_id, admin_id = await _owner("race@example.com", _threshold() + 4 * PRICE)
    await asyncio.gather(*[_answer(owner_id, f"race{i}") for i in range(6)],
                         *[_debit(owner_id, admin_id, PRICE) for _ in range(4)])
    async with async_session() as s:
        assert (await billing.get_balance(s, user_id=owner_id)).balance_micros == _threshold() - 6 * PRICE
    assert await _alerts(mail_on, "race@example.com") == [LOW]
