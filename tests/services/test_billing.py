"""Balances and the ledger against the real PostgreSQL: invariants under concurrency, idempotency,
welcome credit, admin adjustments, price history, promo-code abuse."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from chatai.db.models import MICRO, AuditLog, User, utcnow
from chatai.db.money_models import BillingAccount, Charge, LedgerEntry, PromoCode
from chatai.db.session import async_session
from chatai.services import accounts, billing, charges, promo
from chatai.services.billing import BillingError

PRICE = 5 * MICRO


async def _owner(email: str = "owner@example.com", credit: int = 0) -> uuid.UUID:
    async with async_session() as s:
        user = User(email=email, password_hash="-")
        s.add(user)
        await s.flush()
        await billing.ensure_account(s, user_id=user.id)
        if credit:
            await billing.credit(s, account_id=user.id, amount_micros=credit, kind="topup", key=f"seed:{user.id}")
        await s.commit()
        return user.id


async def _account(user_id: uuid.UUID) -> BillingAccount:
    async with async_session() as s:
        return await s.get(BillingAccount, user_id)


async def _assert_consistent() -> None:
    async with async_session() as s:
        checked, problems = await billing.check_accounts(s)
    assert checked > 0 and problems == []


async def test_signup_gives_owners_the_welcome_credit_once(db):
    async with async_session() as s:
        await accounts.sign_up(s, email="new@example.com", password="a good password")
        await accounts.create_user(s, email="root@example.com", password="a good password", role="admin")
        owner = (await s.execute(sa.select(User).where(User.email == "new@example.com"))).scalar_one()
        admin = (await s.execute(sa.select(User).where(User.email == "root@example.com"))).scalar_one()
        # Replaying the welcome credit does nothing: its key is the user id.
        assert not await billing.credit(s, account_id=owner.id, amount_micros=250 * MICRO, kind="welcome",
                                        key=f"welcome:{owner.id}")
        await s.commit()
        entries = (await s.execute(sa.select(LedgerEntry.kind, LedgerEntry.amount_micros)
                                   .where(LedgerEntry.account_id == owner.id))).all()
    assert entries == [("welcome", 250 * MICRO)]
    assert (await _account(owner.id)).balance_micros == 250 * MICRO
    assert (await _account(admin.id)).balance_micros == 0
    await _assert_consistent()


async def test_hundred_concurrent_answers_on_one_account_keep_the_ledger_exact(db):
    """100 answers at once on an account that can pay for 60: each reserves, then is delivered (commit) or
    not (release). Ends with balance == ledger, never negative, commits == delivered answers."""
    owner = await _owner(credit=60 * PRICE)
    rng = random.Random(7)
    plan = {i: rng.random() < 0.8 for i in range(100)}  # delivered?
    outcome: dict[int, str] = {}

    async def answer(i: int) -> None:
        key = f"tg:test:{i}"
        async with async_session() as s:
            status = await charges.reserve(s, account_id=owner, key=key, amount_micros=PRICE)
            await s.commit()
        outcome[i] = status
        if status != "reserved":
            return
        await asyncio.sleep(rng.random() / 50)  # "generating"
        async with async_session() as s:
            await charges.settle_charge(s, key=key, commit=plan[i])
            await s.commit()

    await asyncio.gather(*(answer(i) for i in range(100)))
    reserved = [i for i, status in outcome.items() if status == "reserved"]
    delivered = [i for i in reserved if plan[i]]
    assert len(reserved) >= 60  # releases free money for later reservations; refusals only when none was free
    account = await _account(owner)
    async with async_session() as s:
        commits = (await s.execute(sa.select(sa.func.count()).select_from(LedgerEntry)
                                   .where(LedgerEntry.kind == "commit"))).scalar()
        ledger_sum = (await s.execute(sa.select(sa.func.sum(LedgerEntry.amount_micros)))).scalar()
    assert commits == len(delivered)
    assert account.balance_micros == ledger_sum == 60 * PRICE - len(delivered) * PRICE
    assert account.balance_micros >= 0 and account.reserved_micros == 0
    await _assert_consistent()


async def test_one_message_is_never_charged_twice(db):
    owner = await _owner(credit=100 * MICRO)
    async with async_session() as s:
        assert await charges.reserve(s, account_id=owner, key="tg:b:1", amount_micros=PRICE) == "reserved"
        assert await charges.reserve(s, account_id=owner, key="tg:b:1", amount_micros=PRICE) == "open"
        assert await charges.settle_charge(s, key="tg:b:1", commit=True) == PRICE
        assert await charges.settle_charge(s, key="tg:b:1", commit=True) == 0  # a retry
        assert await charges.settle_charge(s, key="tg:b:1", commit=False) == 0  # the sweep, too late
        assert await charges.reserve(s, account_id=owner, key="tg:b:1", amount_micros=PRICE) == "committed"
        await s.commit()
    assert (await _account(owner)).balance_micros == 95 * MICRO
    await _assert_consistent()


async def test_available_balance_never_goes_below_zero(db):
    owner = await _owner(credit=7 * MICRO)
    async with async_session() as s:
        assert await charges.reserve(s, account_id=owner, key="k1", amount_micros=PRICE) == "reserved"
        assert await charges.reserve(s, account_id=owner, key="k2", amount_micros=PRICE) == "refused"
        with pytest.raises(BillingError, match="insufficient"):
            await billing.adjust(s, account_id=owner, amount_micros=-3 * MICRO, reason="too much", actor_id=None)
        await s.commit()
        assert (await s.execute(sa.select(Charge.idempotency_key))).scalars().all() == ["k1"]  # refusal wrote nothing
    with pytest.raises(sa.exc.IntegrityError):  # the database itself refuses, whatever the code does
        async with async_session() as s:
            await s.execute(sa.text("UPDATE billing_accounts SET reserved_micros = balance_micros + 1"))
            await s.commit()
    await _assert_consistent()


async def test_admin_adjustment_needs_a_reason_and_is_audited(db):
    owner = await _owner()
    async with async_session() as s:
        with pytest.raises(BillingError, match="reason_required"):
            await billing.adjust(s, account_id=owner, amount_micros=MICRO, reason="  ", actor_id=None)
        await billing.adjust(s, account_id=owner, amount_micros=100 * MICRO, reason="goodwill", actor_id=None)
        await s.commit()
        audit_rows = (await s.execute(sa.select(AuditLog.action, AuditLog.details))).all()
        entry = (await s.execute(sa.select(LedgerEntry))).scalar_one()
    assert audit_rows == [("billing.adjust", {"amount": "100.00", "reason": "goodwill", "balance_before": "0.00",
                                             "balance_after": "100.00"})]
    assert (entry.kind, entry.reason, entry.balance_after_micros) == ("adjustment", "goodwill", 100 * MICRO)


async def test_price_change_applies_to_new_charges_only(db):
    owner = await _owner(credit=100 * MICRO)
    async with async_session() as s:
        admin = User(email="root@example.com", password_hash="-", role="admin")
        s.add(admin)
        await s.flush()
        await billing.set_price(s, item="answer", channel="telegram", price_micros=PRICE, actor_id=admin.id)
        await billing.set_price(s, item="qa_answer", channel="telegram", price_micros=2 * MICRO, actor_id=admin.id)
        await s.commit()
        await charges.reserve(s, account_id=owner, key="old", amount_micros=PRICE)
        await s.commit()
        await asyncio.sleep(0.01)
        await billing.set_price(s, item="answer", channel="telegram", price_micros=9 * MICRO, actor_id=admin.id)
        await s.commit()
        assert await billing.price_at(s, item="answer") == 9 * MICRO
        # Delivered as an AI answer: the price at reservation time, not the new one.
        assert await charges.settle_charge(s, key="old", commit=True, item="answer") == PRICE
        await charges.reserve(s, account_id=owner, key="qa", amount_micros=9 * MICRO)
        await s.commit()
        # Delivered as a Q&A answer: its own (lower) price; the rest of the reservation goes back.
        assert await charges.settle_charge(s, key="qa", commit=True, item="qa_answer") == 2 * MICRO
        await s.commit()
        actions = (await s.execute(sa.select(sa.func.count()).select_from(AuditLog)
                                   .where(AuditLog.action == "billing.price"))).scalar()
    assert actions == 3
    assert (await _account(owner)).balance_micros == 93 * MICRO
    await _assert_consistent()


async def _promo(code: str = "WELCOME-2030", *, max_redemptions: int = 1, expires_in: timedelta | None = None) -> None:
    async with async_session() as s:
        admin = User(email=f"admin-{code.lower()}@example.com", password_hash="-", role="admin")
        s.add(admin)
        await s.flush()
        await promo.create_promo(s, code=code, bonus_micros=50 * MICRO, max_redemptions=max_redemptions,
                                 expires_at=utcnow() + expires_in if expires_in else None, actor_id=admin.id)
        await s.commit()


async def _redeem(owner: uuid.UUID, code: str) -> str:
    try:
        async with async_session() as s:
            await promo.redeem(s, user_id=owner, code=code)
            await s.commit()
        return "ok"
    except BillingError as exc:
        return exc.code


async def test_promo_code_is_redeemed_once_per_account(db):
    await _promo(max_redemptions=10)
    owner = await _owner()
    assert await _redeem(owner, " welcome-2030 ") == "ok"
    assert await _redeem(owner, "WELCOME-2030") == "promo_used"
    assert await _redeem(owner, "NOPE") == "promo_invalid"
    assert (await _account(owner)).balance_micros == 50 * MICRO
    await _assert_consistent()


async def test_expired_promo_code_credits_nothing(db):
    await _promo("LATE-SPRING-26", expires_in=timedelta(seconds=-1))
    owner = await _owner()
    assert await _redeem(owner, "LATE-SPRING-26") == "promo_expired"
    assert (await _account(owner)).balance_micros == 0


async def test_concurrent_redemptions_never_exceed_the_limit(db):
    await _promo("RACE-FOR-BONUS", max_redemptions=3)
    owners = [await _owner(f"o{i}@example.com") for i in range(10)]
    # Ten accounts at once, and one account five times at once.
    results = await asyncio.gather(*(_redeem(o, "RACE-FOR-BONUS") for o in owners))
    again = await asyncio.gather(*(_redeem(owners[0], "RACE-FOR-BONUS") for _ in range(5)))
    assert results.count("ok") == 3 and set(results) == {"ok", "promo_exhausted"}
    assert "ok" not in again
    async with async_session() as s:
        code = (await s.execute(sa.select(PromoCode).where(PromoCode.code == "RACE-FOR-BONUS"))).scalar_one()
        credited = (await s.execute(sa.select(sa.func.sum(LedgerEntry.amount_micros))
                                    .where(LedgerEntry.kind == "promo"))).scalar()
    assert code.redemptions == 3 and credited == 150 * MICRO
    await _assert_consistent()


async def test_spend_per_day_labels_days_on_the_business_clock(db):
    """Today's charge is on today's bar wherever the business is (UTC+14 and UTC-11 are on different dates)."""
    from chatai.formatting import local_time

    owner = await _owner(credit=10 * PRICE)
    async with async_session() as s:
        assert await charges.reserve(s, account_id=owner, key="tg:clock:1", amount_micros=PRICE) == "reserved"
        assert await charges.settle_charge(s, key="tg:clock:1", commit=True) == PRICE
        await s.commit()
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        async with async_session() as s:
            days = await billing.spend_per_day(s, user_id=owner, days=3, time_zone=zone)
        today = local_time(datetime.now(UTC), zone).strftime("%Y-%m-%d")
        assert days[-1] == (today, PRICE) and sum(v for _, v in days) == PRICE, (zone, days)
