"""Top-ups through a payment provider: the provider interface and the use cases around it.

Never trust what arrives from outside: a notification only names a payment; the payment is re-read from
the provider's API, and the balance is credited only when it succeeded with exactly the amount and
currency of our pending top-up, once (the top-up row moves pending -> succeeded under a conditional
UPDATE, and the ledger key is the top-up id).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Protocol

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import User, utcnow
from chatai.db.money_models import TopUp
from chatai.formatting import format_money
from chatai.services import billing
from chatai.services.billing import BillingError
from chatai.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Payment:
    """A payment as the provider's API reports it."""

    id: str
    status: str  # pending | waiting_for_capture | succeeded | canceled
    amount_micros: int
    currency: str
    confirmation_url: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


class PaymentProvider(Protocol):
    name: str

    async def create_payment(self, *, topup_id: uuid.UUID, amount_micros: int, currency: str, description: str,
                             return_url: str, customer_email: str) -> Payment: ...

    async def get_payment(self, payment_id: str) -> Payment: ...


class ProviderError(Exception):
    """The provider could not be reached or refused the request (message safe to log)."""


class MalformedPaymentId(ProviderError):
    """A payment id not of the provider's shape: refused before any request is made."""


def get_provider() -> PaymentProvider | None:
    """The configured provider, or None when payments are not set up."""
    settings = get_settings()
    if not settings.yookassa_shop_id or not settings.yookassa_secret_key.get_secret_value():
        return None
    from chatai.services.payments.yookassa import YooKassa

    return YooKassa(shop_id=settings.yookassa_shop_id, secret_key=settings.yookassa_secret_key.get_secret_value(),
                    api_url=settings.yookassa_api_url)


def check_topup_amount(amount_micros: int) -> None:
    settings = get_settings()
    if amount_micros < billing.to_micros(f"{settings.topup_min:.2f}"):
        raise BillingError("amount_too_small")
    if amount_micros > billing.to_micros(f"{settings.topup_max:.2f}"):
        raise BillingError("amount_too_large")


async def start_topup(session: AsyncSession, *, user_id: uuid.UUID, amount_micros: int, return_url: str,
                      provider: PaymentProvider | None) -> str:
    """Create a pending top-up and the provider's payment; returns the URL to send the owner to.

    Commits (twice): the top-up row exists before the provider is called, and no transaction stays open
    across the HTTP request. Nothing is credited here.
    """
    if provider is None:
        raise BillingError("payments_not_configured")
    check_topup_amount(amount_micros)
    user = await session.get(User, user_id)
    if user is None:
        raise BillingError("not_found")
    currency = get_settings().billing_currency
    topup = TopUp(account_id=user_id, amount_micros=amount_micros, currency=currency, provider=provider.name)
    session.add(topup)
    await session.commit()
    try:
        payment = await provider.create_payment(
            topup_id=topup.id, amount_micros=amount_micros, currency=currency, return_url=return_url,
            description=receipt_description(user.locale, amount_micros, currency),
            customer_email=user.email)
    except ProviderError as exc:
        log.warning("top-up %s: payment not created: %s", topup.id, exc)
        topup.status, topup.updated_at = "failed", utcnow()
        await session.commit()
        raise BillingError("provider_error") from exc
    topup.provider_payment_id, topup.confirmation_url, topup.updated_at = payment.id, payment.confirmation_url, utcnow()
    await session.commit()
    return payment.confirmation_url


# The payment page and the receipt (a fiscal document the owner keeps) name the purchase in the owner's
# language: a Russian owner's receipt read "ChatAI balance top-up 500.00 RUB".
_RECEIPT_ITEM = {"en": "ChatAI balance top-up, {amount}", "ru": "Пополнение баланса ChatAI на {amount}"}


def receipt_description(locale: str, amount_micros: int, currency: str) -> str:
    return _RECEIPT_ITEM.get(locale, _RECEIPT_ITEM["en"]).format(amount=format_money(amount_micros, currency, locale))


async def confirm_payment(session: AsyncSession, *, payment_id: str, provider: PaymentProvider) -> str:
    """Bring our top-up in line with the provider's word on `payment_id` (re-read, never taken from a body).

    Returns what happened: 'credited', 'already', 'canceled', 'pending', 'unknown' (no such top-up),
    'mismatch' (amount or currency differ: not credited, logged). Commits.
    """
    payment = await provider.get_payment(payment_id)
    topup = (await session.execute(sa.select(TopUp).where(TopUp.provider_payment_id == payment.id))).scalar()
    if topup is None or payment.metadata.get("topup_id") not in (None, str(topup.id)):
        log.warning("payment %s matches no top-up of ours", payment.id[:64])
        return "unknown"
    if payment.status == "canceled":
        await session.execute(sa.update(TopUp).where(TopUp.id == topup.id, TopUp.status == "pending")
                              .values(status="canceled", updated_at=utcnow()))
        await session.commit()
        return "canceled"
    if payment.status != "succeeded":
        return "pending"
    if payment.amount_micros != topup.amount_micros or payment.currency != topup.currency:
        log.warning("payment %s: amount/currency %s %s differ from top-up %s; not credited", payment.id[:64],
                    payment.amount_micros, payment.currency, topup.id)
        return "mismatch"
    # Exactly one concurrent notification wins this UPDATE; the ledger key guards a second time.
    won = (await session.execute(
        sa.update(TopUp).where(TopUp.id == topup.id, TopUp.status == "pending")
        .values(status="succeeded", credited_at=utcnow(), updated_at=utcnow()).returning(TopUp.id))).first()
    if won is None:
        await session.rollback()
        return "already"
    await billing.credit(session, account_id=topup.account_id, amount_micros=topup.amount_micros, kind="topup",
                         key=f"topup:{topup.id}", reference=payment.id, reason=f"{provider.name} payment")
    await session.commit()  # the credit handed waiting questions back to the AI (services/topup_resume.py)
    return "credited"


async def refresh_pending(session: AsyncSession, *, user_id: uuid.UUID, provider: PaymentProvider | None) -> list[str]:
    """The owner came back from the payment page: ask the provider about their pending top-ups (the
    notification may not have arrived, or cannot reach a local install). Same checks as the webhook."""
    if provider is None:
        return []
    ids = (await session.execute(sa.select(TopUp.provider_payment_id).where(
        TopUp.account_id == user_id, TopUp.status == "pending", TopUp.provider_payment_id.is_not(None))
        .order_by(TopUp.created_at.desc()).limit(5))).scalars().all()
    outcomes = []
    for payment_id in ids:
        try:
            outcomes.append(await confirm_payment(session, payment_id=payment_id, provider=provider))
        except ProviderError as exc:
            log.warning("payment %s not re-read: %s", payment_id[:64], exc)
    return outcomes
