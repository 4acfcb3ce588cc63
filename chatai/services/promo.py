"""Promo codes: admins create them (fixed bonus, limit, expiry); an owner redeems a code once.

Abuse-proof by construction: one redemption row per (code, account) (a unique constraint), and the
redemption counter moves under a conditional UPDATE (redemptions < max, not expired), in the same
transaction as the credit, so concurrent redemptions never exceed the limit nor credit twice.

Guessing is made useless three ways: every attempt is counted in Redis (per owner and per client) before
the code is looked at, so concurrent guesses cannot exceed the limits; codes are long (a generated default
of 79 bits; a typed code needs MIN_CODE_LENGTH characters with MIN_DISTINCT_CHARACTERS different ones);
and every refused attempt is in the audit log.
"""

from __future__ import annotations

import math
import re
import secrets
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import utcnow
from chatai.db.money_models import PromoCode, PromoRedemption
from chatai.services import audit, billing
from chatai.services.billing import BillingError
from chatai.services.ratelimit import Limit

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,31}$")
# Generated codes: no 0/O or 1/I/L to misread; 31 symbols (~4.95 bits each), 16 of them = 79 bits.
GENERATED_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
GENERATED_GROUPS, GENERATED_GROUP_LENGTH = 4, 4
# A typed code: long enough and not a run of one or two symbols (AAAAAAAAAA, ABABABABAB).
MIN_CODE_LENGTH = 10
MIN_DISTINCT_CHARACTERS = 6
# Redemption attempts (right or wrong) per hour. An owner redeems a few codes in its life; a shared office
# or mobile network may hold several owners, hence the larger per-client budget.
OWNER_ATTEMPTS = Limit("promo-owner", 10, 60 * 60)
CLIENT_ATTEMPTS = Limit("promo-client", 30, 60 * 60)


class PromoThrottled(BillingError):
    """Too many attempts in the window; `retry_after` is in seconds."""

    def __init__(self, retry_after: int):
        super().__init__("promo_throttled")
        self.retry_after = retry_after

    @property
    def retry_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def normalize_code(code: str) -> str:
    return code.strip().upper()


def generate_code() -> str:
    """A fresh code like 'K7QD-MX4R-2HZP-9TWA' (79 bits from the OS random source)."""
    return "-".join("".join(secrets.choice(GENERATED_ALPHABET) for _ in range(GENERATED_GROUP_LENGTH))
                    for _ in range(GENERATED_GROUPS))


def is_strong_enough(code: str) -> bool:
    """Whether a code an admin typed (normalized) is long and varied enough to resist guessing."""
    symbols = code.replace("-", "").replace("_", "")
    return len(code) >= MIN_CODE_LENGTH and len(set(symbols)) >= MIN_DISTINCT_CHARACTERS


async def create_promo(session: AsyncSession, *, code: str, bonus_micros: int, max_redemptions: int,
                       expires_at: datetime | None, actor_id: uuid.UUID, client: str = "") -> PromoCode:
    """An empty `code` gets a generated one. Errors: promo_invalid, promo_weak (typed code too short or too
    uniform), promo_exists."""
    code = normalize_code(code) or generate_code()
    if not _CODE.match(code) or bonus_micros <= 0 or max_redemptions < 1:
        raise BillingError("promo_invalid")
    if not is_strong_enough(code):
        raise BillingError("promo_weak")
    if (await session.execute(sa.select(PromoCode.id).where(PromoCode.code == code))).first() is not None:
        raise BillingError("promo_exists")
    promo = PromoCode(code=code, bonus_micros=bonus_micros, max_redemptions=max_redemptions, expires_at=expires_at,
                      created_by=actor_id)
    session.add(promo)
    audit.record(session, actor_id=actor_id, action="billing.promo_create", target_type="promo", target_id=code,
                 details={"bonus": billing.format_amount(bonus_micros), "max": max_redemptions,
                          "expires_at": expires_at.isoformat() if expires_at else None}, client=client)
    return promo


async def list_promos(session: AsyncSession) -> list[PromoCode]:
    return list((await session.execute(sa.select(PromoCode).order_by(PromoCode.created_at.desc()).limit(200)))
                .scalars())


async def redeem(session: AsyncSession, *, user_id: uuid.UUID, code: str, client: str = "") -> int:
    """Credit the code's bonus to the owner's account; returns the micros credited. The caller commits.
    Errors: promo_throttled (PromoThrottled: too many attempts, nothing looked up), promo_invalid (unknown or
    switched off), promo_expired, promo_exhausted, promo_used. Every refusal is in the audit log: on a refusal
    the session is rolled back and the audit row committed in it (no second connection while one is held)."""
    normalized = normalize_code(code)[:32]
    await _reserve_attempt(session, user_id=user_id, code=normalized, client=client)
    try:
        return await _redeem_checked(session, user_id=user_id, code=normalized)
    except BillingError as exc:
        await _audit_refusal(session, user_id=user_id, code=normalized, reason=exc.code, client=client)
        raise


async def _reserve_attempt(session: AsyncSession, *, user_id: uuid.UUID, code: str, client: str) -> None:
    """Count this attempt before the code is looked at (INCR is atomic: a burst of concurrent attempts gets
    distinct counts, so at most the limit of them is ever checked). The owner's budget first, so a throttled
    owner does not spend its network's budget."""
    for limit, key in ((OWNER_ATTEMPTS, str(user_id)), (CLIENT_ATTEMPTS, client)):
        if not key:
            continue
        count = await limit.hit(key)
        if count > limit.max_hits:
            if count == limit.max_hits + 1:  # once per window: a flood must not become a flood of audit rows
                await _audit_refusal(session, user_id=user_id, code=code, reason=f"throttled_{limit.purpose}",
                                     client=client)
            raise PromoThrottled(await limit.retry_after(key))


async def _audit_refusal(session: AsyncSession, *, user_id: uuid.UUID, code: str, reason: str,
                         client: str) -> None:
    """The refused attempt's work is dropped, its audit row must stay (the caller never commits a refusal)."""
    await session.rollback()
    audit.record(session, actor_id=user_id, action="billing.promo_refused", target_type="promo", target_id=code,
                 details={"reason": reason}, client=client)
    await session.commit()


async def _redeem_checked(session: AsyncSession, *, user_id: uuid.UUID, code: str) -> int:
    promo = (await session.execute(sa.select(PromoCode).where(PromoCode.code == code))).scalar()
    if promo is None or not promo.active:
        raise BillingError("promo_invalid")
    if promo.expires_at is not None and promo.expires_at <= utcnow():
        raise BillingError("promo_expired")
    promo_id, bonus = promo.id, promo.bonus_micros
    async with session.begin_nested():
        mine = (await session.execute(
            insert(PromoRedemption).values(id=uuid.uuid4(), promo_id=promo_id, account_id=user_id, created_at=utcnow())
            .on_conflict_do_nothing(constraint="uq_promo_redemptions_code_account").returning(PromoRedemption.id)
        )).first()
        if mine is None:
            raise BillingError("promo_used")
        counted = (await session.execute(
            sa.update(PromoCode).where(PromoCode.id == promo_id, PromoCode.active.is_(True),
                                       PromoCode.redemptions < PromoCode.max_redemptions,
                                       sa.or_(PromoCode.expires_at.is_(None), PromoCode.expires_at > sa.func.now()))
            .values(redemptions=PromoCode.redemptions + 1).returning(PromoCode.id))).first()
        if counted is None:
            raise BillingError("promo_exhausted")
        await billing.credit(session, account_id=user_id, amount_micros=bonus, kind="promo",
                             key=f"promo:{promo_id}:{user_id}", reference=code, reason="promo code")
    return bonus


async def set_promo_active(session: AsyncSession, *, promo_id: uuid.UUID, active: bool, actor_id: uuid.UUID,
                           client: str = "") -> None:
    """Switch a code off (or on again); redemptions already made stay. Audited; the caller commits."""
    promo = await session.get(PromoCode, promo_id)
    if promo is None:
        raise BillingError("promo_invalid")
    if promo.active == active:
        return
    promo.active = active
    session.add(promo)
    audit.record(session, actor_id=actor_id, action="billing.promo_enable" if active else "billing.promo_disable",
                 target_type="promo", target_id=promo.code, details={"active": active}, client=client)
