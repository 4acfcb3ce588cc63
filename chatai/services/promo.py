"""Promo codes: admins create them (fixed bonus, limit, expiry); an owner redeems a code once.

Abuse-proof by construction: one redemption row per (code, account) (a unique constraint), and the
redemption counter moves under a conditional UPDATE (redemptions < max, not expired), in the same
transaction as the credit, so concurrent redemptions never exceed the limit nor credit twice.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import PromoCode, PromoRedemption, utcnow
from chatai.services import audit, billing
from chatai.services.billing import BillingError

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,31}$")


def normalize_code(code: str) -> str:
    return code.strip().upper()


async def create_promo(session: AsyncSession, *, code: str, bonus_micros: int, max_redemptions: int,
                       expires_at: datetime | None, actor_id: uuid.UUID, client: str = "") -> PromoCode:
    code = normalize_code(code)
    if not _CODE.match(code) or bonus_micros <= 0 or max_redemptions < 1:
        raise BillingError("promo_invalid")
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


async def redeem(session: AsyncSession, *, user_id: uuid.UUID, code: str) -> int:
    """Credit the code's bonus to the owner's account; returns the micros credited. The caller commits.
    Errors: promo_invalid (unknown or switched off), promo_expired, promo_exhausted, promo_used."""
    promo = (await session.execute(sa.select(PromoCode).where(PromoCode.code == normalize_code(code)[:32]))).scalar()
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
                             key=f"promo:{promo_id}:{user_id}", reference=normalize_code(code), reason="promo code")
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
