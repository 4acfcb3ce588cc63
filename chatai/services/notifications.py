"""Owner alerts by mail, each kind switchable per owner (settings page): a dialog waiting for a person, a low
and a zero balance, a payment received, a bot in error for a while.

The events call `notify` in their own transaction (it only writes an outbox row), so an alert goes out
exactly when its event is committed. Nothing here ever raises into the event: an alert is worth less than
the answer, the payment or the handoff that caused it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.mail_models import NotificationPreference
from chatai.db.models import Assistant, User, utcnow
from chatai.db.money_models import BillingAccount
from chatai.formatting import format_money
from chatai.services import mail
from chatai.settings import get_settings

log = logging.getLogger(__name__)

KINDS = ("handoff_waiting", "balance_low", "balance_zero", "payment_received", "bot_error")
BOT_ERROR_AFTER = timedelta(minutes=5)
# At most one "waiting for a person" mail per owner in this time: a busy day is one mail, not fifty.
HANDOFF_MAIL_EVERY = timedelta(minutes=10)
_LINKS = {"handoff_waiting": "/dashboard/inbox", "balance_low": "/dashboard/billing",
          "balance_zero": "/dashboard/billing", "payment_received": "/dashboard/billing",
          "bot_error": "/dashboard/bots"}


@dataclass(frozen=True)
class Preferences:
    handoff_waiting: bool = True
    balance_low: bool = True
    balance_zero: bool = True
    payment_received: bool = True
    bot_error: bool = True

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)


async def get_preferences(session: AsyncSession, *, user_id: uuid.UUID) -> Preferences:
    row = await session.get(NotificationPreference, user_id)
    if row is None:
        return Preferences()
    return Preferences(**{kind: getattr(row, kind) for kind in KINDS})


async def set_preference(session: AsyncSession, *, user_id: uuid.UUID, kind: str, enabled: bool) -> None:
    """The caller commits."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    await session.execute(insert(NotificationPreference).values(user_id=user_id, updated_at=utcnow(),
                                                               **{kind: enabled})
                          .on_conflict_do_update(index_elements=["user_id"],
                                                 set_={kind: enabled, "updated_at": utcnow()}))


async def notify(session: AsyncSession, *, user_id: uuid.UUID, kind: str, values: dict[str, str] | None = None,
                 dedupe_key: str | None = None, money: dict[str, int] | None = None) -> bool:
    """Queue the alert when mail is on, the owner wants this kind and is not blocked. True when queued.
    `money` values (micro-units) are written as the owner writes money ('250,00 ₽' in Russian)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if not mail.mail_enabled():
        return False
    try:
        user = (await session.execute(sa.select(User.email, User.locale, User.blocked)
                                      .where(User.id == user_id))).first()
        if user is None or user.blocked or not getattr(await get_preferences(session, user_id=user_id), kind):
            return False
        async with session.begin_nested():  # a failure here must not roll back the caller's event
            currency = get_settings().billing_currency
            amounts = {name: format_money(micros, currency, user.locale) for name, micros in (money or {}).items()}
            return await mail.enqueue(session, to=user.email, kind=kind, locale=user.locale, user_id=user_id,
                                      values={"link": mail.link(_LINKS[kind]), **(values or {}), **amounts},
                                      dedupe_key=dedupe_key)
    except Exception:  # noqa: BLE001 - see the module docstring
        log.warning("could not queue the %s alert", kind, exc_info=True)
        return False


def _bucket(now: datetime, every: timedelta) -> int:
    return int(now.timestamp() // every.total_seconds())


async def handoff_waiting(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID) -> bool:
    if not mail.mail_enabled():
        return False
    name = (await session.execute(sa.select(Assistant.name).where(Assistant.id == assistant_id))).scalar() or ""
    return await notify(session, user_id=owner_id, kind="handoff_waiting", values={"assistant": name},
                        dedupe_key=f"handoff:{owner_id}:{_bucket(utcnow(), HANDOFF_MAIL_EVERY)}")


async def balance_zero(session: AsyncSession, *, owner_id: uuid.UUID) -> bool:
    return await notify(session, user_id=owner_id, kind="balance_zero")


def low_balance_threshold(price_micros: int) -> int:
    """The balance below which the owner is warned: LOW_BALANCE_ANSWERS answers at the AI-answer price."""
    return get_settings().low_balance_answers * price_micros


def crosses_low_balance(*, balance_before: int, balance_after: int, price_micros: int) -> bool:
    """Whether one movement took the balance from at or above the low threshold to below it.

    The balance, not the available money: holds come and go with every answer in progress (a released "don't
    know" would re-arm and fire the alert again and again), while the balance moves only when money really
    moves. Movements of one account are serialized by its row lock, so each has an exact before and after
    and exactly one movement crosses per fall: the alert is once per crossing with no stored flag, and it
    re-arms by itself when the balance goes back to the threshold or above."""
    if price_micros <= 0:
        return False
    return balance_before >= low_balance_threshold(price_micros) > balance_after


async def balance_moved(session: AsyncSession, *, account_id: uuid.UUID, balance_before: int, balance_after: int,
                        key: str, price_micros: int | None = None) -> bool:
    """Mail 'low balance' when this movement (an answer's charge, an admin debit, anything) crossed the
    threshold downwards. `key` names the movement (its idempotency key): a retried movement mails once."""
    if balance_after >= balance_before or not mail.mail_enabled():
        return False
    from chatai.services import billing

    price = await billing.price_at(session, item="answer") if price_micros is None else price_micros
    if not crosses_low_balance(balance_before=balance_before, balance_after=balance_after, price_micros=price):
        return False
    return await notify(session, user_id=account_id, kind="balance_low", dedupe_key=f"balance_low:{key}"[:160],
                        values={"answers": str(max(0, balance_after) // price)}, money={"balance": balance_after})


async def payment_received(session: AsyncSession, *, account_id: uuid.UUID, amount_micros: int,
                           key: str) -> bool:
    balance = (await session.execute(sa.select(BillingAccount.balance_micros)
                                     .where(BillingAccount.user_id == account_id))).scalar() or 0
    return await notify(session, user_id=account_id, kind="payment_received", dedupe_key=f"payment:{key}"[:160],
                        money={"amount": amount_micros, "balance": balance})


# A bot whose owner wants it running, in error, whose latest 'error' event (the start of this error episode:
# the runner records it once on entering error) is older than the threshold.
_STUCK = sa.text("""
    SELECT b.id, b.owner_id, b.username, b.last_error, e.created_at
    FROM bots b
    JOIN LATERAL (SELECT created_at FROM bot_events
                  WHERE bot_id = b.id AND kind = 'error' ORDER BY created_at DESC LIMIT 1) e ON true
    WHERE b.status = 'error' AND b.desired_state = 'running' AND e.created_at < :before
""")


async def alert_stuck_bots(session: AsyncSession, *, now: datetime | None = None) -> int:
    """One mail per error episode of each bot in error for more than BOT_ERROR_AFTER (the sender task calls
    this about once a minute). The caller commits."""
    if not mail.mail_enabled():
        return 0
    now = now or utcnow()
    queued = 0
    for bot_id, owner_id, username, reason, since in (await session.execute(
            _STUCK, {"before": now - BOT_ERROR_AFTER})).all():
        queued += await notify(session, user_id=owner_id, kind="bot_error",
                               dedupe_key=f"bot_error:{bot_id}:{since.isoformat()}",
                               values={"bot": username or "?", "reason": reason or "-",
                                       "minutes": str(int(BOT_ERROR_AFTER.total_seconds() // 60))})
    return queued
