"""Admin money figures on seeded data: revenue, top-ups, LLM cost (tokens x model price x USD rate) and margin
per day and per account, checked to the micro; the editable price table with its audit row."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from chatai.db.models import MICRO, Assistant, AuditLog, Dialog, LedgerEntry, Message, User
from chatai.db.session import async_session
from chatai.services import admin_money
from chatai.services.accounts import CurrentUser
from chatai.services.admin_money import MoneyError, Period
from chatai.settings import get_settings

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
ADMIN = CurrentUser(id=uuid.uuid4(), email="root@example.com", role="admin", locale="en")


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


def _ledger(account_id: uuid.UUID, day: date, kind: str, amount: int) -> LedgerEntry:
    return LedgerEntry(account_id=account_id, amount_micros=amount, kind=kind, idempotency_key=str(uuid.uuid4()),
                       balance_after_micros=0, created_at=_at(day))


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
            _answer(a, D1, by="extractive", prompt=999, completion=999),  # local: zero, whatever the tokens
            _answer(a, D1, by="", role="user", prompt=5000),  # the customer's message: not an answer
            _answer(a, date(2026, 10, 31), prompt=10**9),  # before the period
            _answer(b, D2, prompt=10_000, completion=1_000),  # 0.03 + 0.012 = 0.042 USD -> 4.2 units
            _answer(c, D2, prompt=10**6, completion=10**6),
            _ledger(a.owner_id, D1, "commit", -5 * MICRO),
            _ledger(a.owner_id, D1, "commit", -3 * MICRO),
            _ledger(a.owner_id, D1, "topup", 500 * MICRO),
            _ledger(a.owner_id, D1, "reserve", 0),  # holds are not revenue
            _ledger(b.owner_id, D2, "commit", -5 * MICRO),
            _ledger(b.owner_id, D2, "welcome", 250 * MICRO),  # not a top-up
        ])
        await s.commit()
        await admin_money.set_model_price(s, admin=ADMIN, model="gpt-4o", prompt_usd_micros=3 * MICRO,
                                          completion_usd_micros=12 * MICRO)
        await s.commit()
    return {"a": a.owner_id, "b": b.owner_id, "c": c.owner_id}


async def test_daily_figures_and_margin_are_exact(seeded):
    async with async_session() as s:
        days = await admin_money.daily_figures(s, admin=ADMIN, period=Period(D1, D3))
    got = [(d.day, d.signups, d.active_accounts, d.answers, d.llm_answers, d.revenue_micros, d.topups_micros,
            d.cost_micros, d.margin_micros) for d in days]
    assert got == [
        (D1, 2, 1, 3, 2, 8_000_000, 500_000_000, 90_045_000, -82_045_000),
        (D2, 1, 2, 2, 2, 5_000_000, 0, 4_200_000, 800_000),
        (D3, 0, 0, 0, 0, 0, 0, 0, 0),
    ]


async def test_accounts_are_listed_lowest_margin_first(seeded):
    async with async_session() as s:
        rows = await admin_money.account_figures(s, admin=ADMIN, period=Period(D1, D3))
        unpriced = await admin_money.unpriced_models(s, admin=ADMIN, period=Period(D1, D3))
    assert [(r.email, r.answers, r.revenue_micros, r.topups_micros, r.cost_micros, r.margin_micros) for r in rows] == [
        ("a@example.com", 3, 8_000_000, 500_000_000, 90_045_000, -82_045_000),
        ("c@example.com", 1, 0, 0, 0, 0),
        ("b@example.com", 1, 5_000_000, 0, 4_200_000, 800_000),
    ]
    assert unpriced == ["my-local-llama"]


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
