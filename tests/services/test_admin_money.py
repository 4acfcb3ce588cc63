"""Admin money figures on seeded data: answers charged (the same rows the owner's history lists), revenue from
top-up money apart from bonus money (welcome, promo, admin credit; first in, first out), top-ups, LLM cost
(tokens x model price x USD rate, "don't know" replies the model decided included) and margin per day and per
account, checked to the micro; the editable price table with its audit row."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from chatai.db.models import MICRO, Assistant, AuditLog, Dialog, Message, User
from chatai.db.money_models import LedgerEntry
from chatai.db.session import async_session
from chatai.services import admin_money, billing_history
from chatai.services.accounts import CurrentUser
from chatai.services.admin_money import MoneyError, Period
from chatai.settings import get_settings

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
ADMIN = CurrentUser(id=uuid.uuid4(), email="root@example.com", role="admin", locale="en")


OCT30, OCT31 = date(2026, 10, 30), date(2026, 10, 31)


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def _account(s, email: str, signed_up: date, model: str = "") -> Dialog:
    user = User(email=email, password_hash="-", created_at=_at(signed_up))
    s.add(user)
    await s.flush()
    assistant = Assistant(owner_id=user.id, name="Support", model=model)
    s.add(assistant)
    await s.flush()
    dialog = Dialog(assistant_id=assistant.id, owner_id=user.id, channel="playground")
    s.add(dialog)
    await s.flush()
    return dialog


def _answer(dialog: Dialog, day: date, *, by: str = "llm", prompt: int = 0, completion: int = 0,
            role: str = "assistant") -> Message:
    return Message(dialog_id=dialog.id, role=role, text="hi", answered_by=by, prompt_tokens=prompt,
                   completion_tokens=completion, created_at=_at(day))


def _ledger(account_id: uuid.UUID, day: date, kind: str, amount: int, hour: int = 12) -> LedgerEntry:
    return LedgerEntry(account_id=account_id, amount_micros=amount, kind=kind, idempotency_key=str(uuid.uuid4()),
                       balance_after_micros=0, created_at=_at(day, hour))


@pytest.fixture
async def seeded(db, monkeypatch):
    monkeypatch.setattr(get_settings(), "llm_usd_rate", 100.0)
    monkeypatch.setattr(get_settings(), "openai_chat_model", "gpt-4o-mini")
    async with async_session() as s:
        admin_row = User(email="root@example.com", password_hash="-", role="admin", id=ADMIN.id)
        s.add(admin_row)
        a = await _account(s, "a@example.com", D1)  # platform default model: gpt-4o-mini 0.15 / 0.60
        b = await _account(s, "b@example.com", D1, model="gpt-4o")  # admin price below: 3.00 / 12.00
        c = await _account(s, "c@example.com", D2, model="my-local-llama")  # no price: cost 0, flagged
        s.add_all([
            _answer(a, D1, prompt=1000, completion=500),  # 1000*0.15 + 500*0.60 = 450 USD-micros -> x100
            _answer(a, D1, prompt=2_000_000, completion=1_000_000),  # 0.30 + 0.60 USD = 0.9 USD -> 90 units
            _answer(a, D1, by="fallback", prompt=10_000),  # a "don't know" the model decided: 0.0015 USD
            _answer(a, D1, by="fallback"),  # a canned "don't know": no model call
            _answer(a, D1, by="extractive", prompt=999, completion=999),  # local: zero, whatever the tokens
            _answer(a, D1, by="greeting"),  # replies that are not answers charged
            _answer(a, D1, by="operator"),
            _answer(a, D1, by="", role="user", prompt=5000),  # the customer's message: not an answer
            _answer(a, OCT31, prompt=10**9),  # before the period
            _answer(b, D2, prompt=10_000, completion=1_000),  # 0.03 + 0.012 = 0.042 USD -> 4.2 units
            _answer(c, D2, prompt=10**6, completion=10**6),
            # a: bonus money [0, 10) then paid money [10, 510), spent first in first out.
            _ledger(a.owner_id, OCT30, "welcome", 10 * MICRO),
            _ledger(a.owner_id, OCT31, "commit", -4 * MICRO),  # before the period: bonus [0, 4)
            _ledger(a.owner_id, D1, "topup", 500 * MICRO, hour=11),
            _ledger(a.owner_id, D1, "reserve", 0, hour=11),  # holds are not revenue
            _ledger(a.owner_id, D1, "commit", -5 * MICRO, hour=12),  # [4, 9): bonus 5
            _ledger(a.owner_id, D1, "adjustment", -2 * MICRO, hour=13),  # [9, 11): an admin debit, not revenue
            _ledger(a.owner_id, D1, "commit", -8 * MICRO, hour=14),  # [11, 19): paid 8
            _ledger(a.owner_id, D1, "commit", 0, hour=15),  # a Q&A answer at a price of zero: not charged
            # b: everything it spent came from welcome and promo credit.
            _ledger(b.owner_id, D2, "welcome", 250 * MICRO, hour=9),
            _ledger(b.owner_id, D2, "promo", 20 * MICRO, hour=10),
            _ledger(b.owner_id, D2, "commit", -5 * MICRO),
        ])
        await s.commit()
        await admin_money.set_model_price(s, admin=ADMIN, model="gpt-4o", prompt_usd_micros=3 * MICRO,
                                          completion_usd_micros=12 * MICRO)
        await s.commit()
    return {"a": a.owner_id, "b": b.owner_id, "c": c.owner_id}


async def test_daily_figures_and_margin_are_exact(seeded):
    async with async_session() as s:
        days = await admin_money.daily_figures(s, admin=ADMIN, period=Period(D1, D3))
    got = [(d.day, d.signups, d.active_accounts, d.answers, d.llm_calls, d.revenue_micros, d.bonus_micros,
            d.topups_micros, d.cost_micros, d.margin_micros) for d in days]
    assert got == [
        (D1, 2, 1, 2, 3, 8_000_000, 5_000_000, 500_000_000, 90_195_000, -82_195_000),
        (D2, 1, 2, 1, 2, 0, 5_000_000, 0, 4_200_000, -4_200_000),
        (D3, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    ]


async def test_accounts_are_listed_lowest_margin_first(seeded):
    async with async_session() as s:
        rows = await admin_money.account_figures(s, admin=ADMIN, period=Period(D1, D3))
        unpriced = await admin_money.unpriced_models(s, admin=ADMIN, period=Period(D1, D3))
    assert [(r.email, r.answers, r.llm_calls, r.revenue_micros, r.bonus_micros, r.topups_micros, r.cost_micros,
             r.margin_micros) for r in rows] == [
        ("a@example.com", 2, 3, 8_000_000, 5_000_000, 500_000_000, 90_195_000, -82_195_000),
        ("b@example.com", 1, 1, 0, 5_000_000, 0, 4_200_000, -4_200_000),
        ("c@example.com", 0, 1, 0, 0, 0, 0, 0),
    ]
    assert unpriced == ["my-local-llama"]


async def test_the_owner_history_lists_the_answers_the_admin_counts(seeded):
    period = Period(D1, D3)
    async with async_session() as s:
        admin_rows = {r.account_id: r for r in await admin_money.account_figures(s, admin=ADMIN, period=period)}
        for account in ("a", "b", "c"):
            owner_rows = await billing_history.history(s, user_id=seeded[account], kind="commit",
                                                       since=period.since, until=period.until)
            counted = admin_rows[seeded[account]]
            assert len(owner_rows) == counted.answers
            assert -sum(r.amount_micros for r in owner_rows) == counted.revenue_micros + counted.bonus_micros


async def test_a_model_price_change_is_audited_with_before_and_after(seeded):
    async with async_session() as s:
        prices = {p.model: p for p in await admin_money.list_model_prices(s, admin=ADMIN)}
        rows = list((await s.execute(sa.select(AuditLog).where(AuditLog.action == "admin.model_price"))).scalars())
    assert prices["gpt-4o"].custom and prices["gpt-4o"].prompt_usd_micros == 3 * MICRO
    assert not prices["gpt-4o-mini"].custom and prices["gpt-4o-mini"].completion_usd_micros == 600_000
    assert len(rows) == 1 and rows[0].target_id == "gpt-4o" and rows[0].actor_id == ADMIN.id
    assert rows[0].details["before"] == {"prompt_usd_micros": 2_500_000, "completion_usd_micros": 10_000_000,
                                         "custom": False}
    assert rows[0].details["after"] == {"prompt_usd_micros": 3_000_000, "completion_usd_micros": 12_000_000}


async def test_money_functions_refuse_an_owner_and_bad_input(seeded):
    owner = CurrentUser(id=seeded["a"], email="a@example.com", role="owner", locale="en")
    async with async_session() as s:
        with pytest.raises(PermissionError):
            await admin_money.daily_figures(s, admin=owner, period=Period(D1, D3))
        with pytest.raises(PermissionError):
            await admin_money.set_model_price(s, admin=owner, model="gpt-4o", prompt_usd_micros=0,
                                              completion_usd_micros=0)
        with pytest.raises(MoneyError):
            await admin_money.set_model_price(s, admin=ADMIN, model="two words", prompt_usd_micros=1,
                                              completion_usd_micros=1)
        with pytest.raises(MoneyError):
            await admin_money.daily_figures(s, admin=ADMIN, period=Period(D3, D1))
    assert admin_money.parse_usd("2,50") == 2_500_000
    for bad in ("-1", "abc", "NaN", "0.0000001", "1e9"):
        with pytest.raises(MoneyError):
            admin_money.parse_usd(bad)


def _fifo_paid(movements: list[tuple[str, int]]) -> list[int]:
    """For each movement, the top-up money it spent (first in, first out), computed the plain way."""
    queue: list[list] = []  # [kind, micros left] of each credit, oldest first
    paid = []
    for kind, amount in movements:
        if amount > 0:
            queue.append([kind, amount])
            paid.append(0)
            continue
        need, took = -amount, 0
        while need:
            head = queue[0]
            used = min(need, head[1])
            took += used if head[0] == "topup" else 0
            head[1] -= used
            need -= used
            if not head[1]:
                queue.pop(0)
        paid.append(took)
    return paid


async def test_the_paid_and_bonus_split_matches_first_in_first_out_on_a_random_ledger(db):
    import random

    rng = random.Random(23)
    start = datetime(2026, 10, 31, 0, tzinfo=UTC)
    movements: list[tuple[str, int]] = []
    balance = 0
    for _ in range(300):
        if balance < 20 * MICRO or rng.random() < 0.15:
            kind = rng.choice(["topup", "topup", "welcome", "promo", "adjustment"])
            amount = rng.randint(1, 4000) * 10_000
        else:
            kind = rng.choice(["commit"] * 8 + ["adjustment"])
            amount = -rng.randint(1, min(balance, 20 * MICRO) // 10_000) * 10_000
        balance += amount
        movements.append((kind, amount))
    async with async_session() as s:
        s.add(User(email="root@example.com", password_hash="-", role="admin", id=ADMIN.id))
        owner = User(email="fifo@example.com", password_hash="-", created_at=start)
        s.add(owner)
        await s.flush()
        times = [start + timedelta(minutes=17 * i) for i in range(len(movements))]  # Oct 31 to Nov 4
        s.add_all([LedgerEntry(account_id=owner.id, amount_micros=amount, kind=kind, idempotency_key=f"m{i}",
                               balance_after_micros=0, created_at=at)
                   for i, ((kind, amount), at) in enumerate(zip(movements, times, strict=True))])
        await s.commit()
        days = await admin_money.daily_figures(s, admin=ADMIN, period=Period(D1, D3))
    paid = _fifo_paid(movements)
    for figures in days:
        today = [i for i, at in enumerate(times) if at.date() == figures.day and movements[i][0] == "commit"]
        assert figures.answers == len(today)
        assert figures.revenue_micros == sum(paid[i] for i in today)
        assert figures.bonus_micros == sum(-movements[i][1] - paid[i] for i in today)
    assert sum(d.revenue_micros for d in days) > 0 and sum(d.bonus_micros for d in days) > 0
