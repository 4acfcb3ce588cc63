"""Promo codes cannot be guessed: redemption attempts are counted per owner and per client before the
code is looked at (so a burst of concurrent guesses checks at most the limit), a valid code after the limit
is refused, codes are long by default, and every refusal is in the audit log."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from chatai.db.models import MICRO, AuditLog, User
from chatai.db.money_models import BillingAccount, PromoCode
from chatai.db.session import async_session
from chatai.services import billing, promo
from chatai.services.billing import BillingError
from chatai.services.ratelimit import Limit

VALID = "SUMMER-BONUS-2030"


async def _owner(email: str) -> uuid.UUID:
    async with async_session() as s:
        user = User(email=email, password_hash="-")
        s.add(user)
        await s.flush()
        await billing.ensure_account(s, user_id=user.id)
        await s.commit()
        return user.id


async def _admin() -> uuid.UUID:
    return await _owner("root@example.com")


async def _create(code: str, *, max_redemptions: int = 100) -> str:
    async with async_session() as s:
        created = await promo.create_promo(s, code=code, bonus_micros=50 * MICRO, max_redemptions=max_redemptions,
                                           expires_at=None, actor_id=await _admin_id(s))
        await s.commit()
        return created.code


async def _admin_id(s) -> uuid.UUID:
    found = (await s.execute(sa.select(User.id).where(User.email == "root@example.com"))).scalar()
    if found is not None:
        return found
    admin = User(email="root@example.com", password_hash="-", role="admin")
    s.add(admin)
    await s.flush()
    return admin.id


async def _redeem(owner: uuid.UUID, code: str, client: str = "") -> str:
    try:
        async with async_session() as s:
            await promo.redeem(s, user_id=owner, code=code, client=client)
            await s.commit()
        return "ok"
    except BillingError as exc:
        return exc.code


async def _balance(owner: uuid.UUID) -> int:
    async with async_session() as s:
        return (await s.get(BillingAccount, owner)).balance_micros


async def _refusals() -> list[tuple[uuid.UUID, str, str]]:
    async with async_session() as s:
        rows = (await s.execute(sa.select(AuditLog).where(AuditLog.action == "billing.promo_refused"))).scalars()
        return [(r.actor_id, r.details["reason"], r.client) for r in rows]


async def test_a_burst_of_guesses_from_one_owner_checks_at_most_the_limit_and_the_valid_code_is_refused(db):
    await _create(VALID)
    owner = await _owner("guesser@example.com")
    limit = promo.OWNER_ATTEMPTS.max_hits
    guesses = [f"GUESS-{n:06d}-XY" for n in range(150)]
    results = await asyncio.gather(*(_redeem(owner, g) for g in guesses))
    # Exactly `limit` guesses reached the lookup; every other one was refused before it.
    assert results.count("promo_invalid") == limit
    assert results.count("promo_throttled") == len(guesses) - limit
    assert await _redeem(owner, VALID) == "promo_throttled"
    assert await _balance(owner) == 0
    async with async_session() as s:
        assert (await s.execute(sa.select(PromoCode.redemptions).where(PromoCode.code == VALID))).scalar() == 0
    reasons = [reason for actor, reason, _ in await _refusals() if actor == owner]
    # Each checked guess is audited; the throttling once per window (a flood is not a flood of rows).
    assert reasons.count("promo_invalid") == limit
    assert reasons.count("throttled_promo-owner") == 1 and len(reasons) == limit + 1


async def test_the_throttled_refusal_says_when_to_retry_and_a_new_window_allows_the_code(db):
    await _create(VALID)
    owner = await _owner("late@example.com")
    for n in range(promo.OWNER_ATTEMPTS.max_hits):
        assert await _redeem(owner, f"WRONG-{n:04d}-CODE") == "promo_invalid"
    async with async_session() as s:
        with pytest.raises(promo.PromoThrottled) as refused:
            await promo.redeem(s, user_id=owner, code=VALID)
    assert 0 < refused.value.retry_after <= promo.OWNER_ATTEMPTS.window_seconds
    assert 1 <= refused.value.retry_minutes <= promo.OWNER_ATTEMPTS.window_seconds // 60
    await promo.OWNER_ATTEMPTS.reset(str(owner))  # what the window's expiry does
    assert await _redeem(owner, VALID) == "ok"
    assert await _balance(owner) == 50 * MICRO


async def test_many_owners_from_one_network_share_the_client_limit(db, monkeypatch):
    # A smaller network budget than the default 30, so that the guesses it lets through at once stay within
    # what the test database serves beside a whole suite (each checked guess holds a connection).
    monkeypatch.setattr(promo, "CLIENT_ATTEMPTS", Limit("promo-client", 12, 60 * 60))
    await _create(VALID)
    client = "203.0.113.9"
    owners = [await _owner(f"sock{i}@example.com") for i in range(4)]
    per_owner = promo.OWNER_ATTEMPTS.max_hits  # each owner stays within its own limit
    attempts = [(o, f"GUESS-{i}-{n:04d}-ZZ") for i, o in enumerate(owners) for n in range(per_owner)]
    results = await asyncio.gather(*(_redeem(o, g, client) for o, g in attempts))
    assert len(attempts) > promo.CLIENT_ATTEMPTS.max_hits
    assert results.count("promo_invalid") == promo.CLIENT_ATTEMPTS.max_hits
    assert results.count("promo_throttled") == len(attempts) - promo.CLIENT_ATTEMPTS.max_hits
    fresh = await _owner("fresh@example.com")
    assert await _redeem(fresh, VALID, client) == "promo_throttled"  # a new account on the same network too
    assert await _redeem(fresh, VALID, "198.51.100.20") == "ok"  # another network is not affected
    refusals = await _refusals()
    assert sum(1 for _, reason, c in refusals if reason == "throttled_promo-client" and c == client) == 1


async def test_generated_codes_are_long_distinct_and_accepted(db):
    codes = {promo.generate_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:50]:
        groups = code.split("-")
        assert [len(g) for g in groups] == [promo.GENERATED_GROUP_LENGTH] * promo.GENERATED_GROUPS
        assert set("".join(groups)) <= set(promo.GENERATED_ALPHABET)
    assert set("0O1IL") & set(promo.GENERATED_ALPHABET) == set()  # nothing to misread
    created = await _create("")
    assert len(created.replace("-", "")) == promo.GENERATED_GROUPS * promo.GENERATED_GROUP_LENGTH
    owner = await _owner("shop@example.com")
    assert await _redeem(owner, created.lower()) == "ok"


@pytest.mark.parametrize("typed", ["SPRING", "WELCOME50", "AAAAAAAAAAAA", "ABABABABAB12", "1111-2222-1111"])
async def test_a_short_or_uniform_typed_code_is_refused_by_name(db, typed):
    with pytest.raises(BillingError) as refused:
        await _create(typed)
    assert refused.value.code == "promo_weak"
    async with async_session() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(PromoCode))).scalar() == 0


def test_length_and_variety_decide_a_typed_code():
    assert promo.is_strong_enough("SPRING-2030") and promo.is_strong_enough("K7QD-MX4R-2HZP-9TWA")
    assert not promo.is_strong_enough("SPRNG-203")  # 9 characters
    assert not promo.is_strong_enough("ABCDE-ABCDE")  # 11 characters, 5 different
