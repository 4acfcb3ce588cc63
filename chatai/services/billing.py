"""Balances, the ledger, prices and charges: money that is never lost, invented or silent.

Model: an account holds `balance` (money) and `reserved` (money set aside for answers being generated);
available = balance - reserved is never negative (a conditional UPDATE, and a CHECK constraint behind it).
Every movement is one append-only ledger row carrying its effect on both (`amount`, `hold`), written in
the same transaction as the account update, so balance == sum(amount) and reserved == sum(hold) always.
Each row has an idempotency key (unique): retrying any movement never applies it twice.

The charge of an answer (reserve, then commit or release) is services/charges.py.

The caller owns the session and commits; functions are keyword-only and never commit themselves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import MICRO, Notification, User, utcnow
from chatai.db.money_models import BillingAccount, LedgerEntry, Price
from chatai.formatting import is_time_zone, local_time
from chatai.services import audit, notifications, topup_resume
from chatai.settings import get_settings

PRICE_ITEMS = ("answer", "qa_answer", "operator_message", "document_page")
CHANNELS = ("telegram",)


class BillingError(Exception):
    """code: insufficient | invalid_amount | amount_too_small | amount_too_large | reason_required |
    not_found | payments_not_configured | provider_error | promo_invalid | promo_expired | promo_exhausted |
    promo_used | invalid_price"""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# --- amounts ----------------------------------------------------------------------------------------


def to_micros(amount: str | int | float | Decimal) -> int:
    """'500', '500.5', 500 -> micros; at most two decimals (kopecks). Raises BillingError('invalid_amount')."""
    try:
        value = Decimal(str(amount).strip().replace(",", ".").replace(" ", ""))
    except (InvalidOperation, ValueError) as exc:
        raise BillingError("invalid_amount") from exc
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise BillingError("invalid_amount")
    return int(value * MICRO)


def format_amount(micros: int) -> str:
    """Micros -> '250.00' (currency units, two decimals, no symbol)."""
    return str((Decimal(micros) / MICRO).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# --- movements --------------------------------------------------------------------------------------


async def ensure_account(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    await session.execute(sa.text("INSERT INTO billing_accounts (user_id, balance_micros, reserved_micros, "
                                  "low_balance_micros, updated_at) VALUES (:u, 0, 0, 0, now()) "
                                  "ON CONFLICT DO NOTHING"), {"u": user_id})


class _Duplicate(Exception):
    """The idempotency key was used before: roll the savepoint back, report 'already done'."""


_MOVE = sa.text("""
    UPDATE billing_accounts SET balance_micros = balance_micros + :amount,
                                reserved_micros = reserved_micros + :hold, updated_at = now()
    WHERE user_id = :account
      AND balance_micros + :amount >= reserved_micros + :hold AND reserved_micros + :hold >= 0
    RETURNING balance_micros
""")
_LEDGER = sa.text("""
    INSERT INTO ledger_entries (id, account_id, amount_micros, hold_micros, kind, reason, reference,
                                idempotency_key, balance_after_micros, actor_id, created_at)
    VALUES (:id, :account, :amount, :hold, :kind, :reason, :reference, :key, :after, :actor, now())
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
""")


async def _move(session: AsyncSession, *, account_id: uuid.UUID, amount: int, hold: int, kind: str, key: str,
                reason: str = "", reference: str = "", actor_id: uuid.UUID | None = None) -> int:
    """Apply one movement and its ledger row (inside the caller's transaction); the balance after it.
    _Duplicate when the key was used before; BillingError('insufficient') when available money would go below
    zero. The account row lock taken by the UPDATE serializes concurrent movements of one account."""
    await ensure_account(session, user_id=account_id)
    after = (await session.execute(_MOVE, {"amount": amount, "hold": hold, "account": account_id})).scalar()
    if after is None:
        raise BillingError("insufficient")
    inserted = (await session.execute(_LEDGER, {
        "id": uuid.uuid4(), "account": account_id, "amount": amount, "hold": hold, "kind": kind,
        "reason": reason[:500], "reference": reference[:255], "key": key[:128], "after": after, "actor": actor_id,
    })).scalar()
    if inserted is None:
        raise _Duplicate
    return int(after)


async def move(session: AsyncSession, **kw: Any) -> bool:
    """`_move` in a savepoint: a duplicate or refused movement leaves nothing behind in the transaction. A
    movement down that crosses the low-balance threshold queues the owner's mail in the same transaction."""
    try:
        async with session.begin_nested():
            after = await _move(session, **kw)
    except _Duplicate:
        return False
    if kw["amount"] < 0:
        await notifications.balance_moved(session, account_id=kw["account_id"], key=kw["key"],
                                          balance_before=after - kw["amount"], balance_after=after)
    return True


async def credit(session: AsyncSession, *, account_id: uuid.UUID, amount_micros: int, kind: str, key: str,
                 reason: str = "", reference: str = "", actor_id: uuid.UUID | None = None) -> bool:
    """Add money (welcome, top-up, promo, refund, positive adjustment). False if already credited."""
    if amount_micros <= 0:
        raise BillingError("invalid_amount")
    credited = await move(session, account_id=account_id, amount=amount_micros, hold=0, kind=kind, key=key,
                          reason=reason, reference=reference, actor_id=actor_id)
    if credited and kind == "topup":  # the owner's mail, in the payment's transaction
        await notifications.payment_received(session, account_id=account_id, amount_micros=amount_micros, key=key)
    if credited:  # questions a zero balance left waiting are answered now (services/topup_resume.py)
        await topup_resume.after_credit(session, account_id=account_id)
    return credited


async def open_account(session: AsyncSession, *, user_id: uuid.UUID, welcome: bool) -> None:
    """A new account; owners get the welcome credit once (its key is the user id)."""
    await ensure_account(session, user_id=user_id)
    micros = to_micros(f"{get_settings().welcome_credit:.2f}")
    if welcome and micros > 0:
        await credit(session, account_id=user_id, amount_micros=micros, kind="welcome", key=f"welcome:{user_id}",
                     reason="welcome credit")


async def adjust(session: AsyncSession, *, account_id: uuid.UUID, amount_micros: int, reason: str,
                 actor_id: uuid.UUID | None, client: str = "") -> None:
    """Admin credit (+) or debit (-), with a reason, audited. Never reachable by an owner."""
    reason = reason.strip()
    if not reason:
        raise BillingError("reason_required")
    if amount_micros == 0:
        raise BillingError("invalid_amount")
    if await session.get(User, account_id) is None:
        raise BillingError("not_found")
    await move(session, account_id=account_id, amount=amount_micros, hold=0, kind="adjustment",
               key=f"adjust:{uuid.uuid4()}", reason=reason, actor_id=actor_id)
    if amount_micros > 0:  # as credit(): waiting questions are answered now
        await topup_resume.after_credit(session, account_id=account_id)
    # Read under the row lock the movement took: no other movement of this account comes in between.
    after = (await session.execute(sa.select(BillingAccount.balance_micros)
                                   .where(BillingAccount.user_id == account_id))).scalar_one()
    audit.record(session, actor_id=actor_id, action="billing.adjust", target_type="user", target_id=account_id,
                 details={"amount": format_amount(amount_micros), "reason": reason[:500],
                          "balance_before": format_amount(after - amount_micros),
                          "balance_after": format_amount(after)}, client=client)


# --- prices -----------------------------------------------------------------------------------------


async def price_at(session: AsyncSession, *, item: str, channel: str = "telegram",
                   at: datetime | None = None) -> int:
    """The price in force at `at` (now by default): the newest row that had started. 0 when none."""
    query = (sa.select(Price.price_micros).where(Price.item == item, Price.channel == channel,
                                                 Price.effective_from <= (at or utcnow()))
             .order_by(Price.effective_from.desc()).limit(1))
    return int((await session.execute(query)).scalar() or 0)


async def current_prices(session: AsyncSession, *, channel: str = "telegram") -> dict[str, int]:
    return {item: await price_at(session, item=item, channel=channel) for item in PRICE_ITEMS}


async def set_price(session: AsyncSession, *, item: str, channel: str, price_micros: int,
                    actor_id: uuid.UUID, client: str = "") -> None:
    """A new price row (history is kept: earlier charges keep their price), audited."""
    if item not in PRICE_ITEMS or channel not in CHANNELS or price_micros < 0 or price_micros > 1_000_000 * MICRO:
        raise BillingError("invalid_price")
    old = await price_at(session, item=item, channel=channel)
    session.add(Price(item=item, channel=channel, price_micros=price_micros, actor_id=actor_id))
    audit.record(session, actor_id=actor_id, action="billing.price", target_type="price", target_id=f"{item}:{channel}",
                 details={"old": format_amount(old), "new": format_amount(price_micros)}, client=client)


# --- views ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceView:
    currency: str
    balance_micros: int
    reserved_micros: int
    answer_price_micros: int

    @property
    def available_micros(self) -> int:
        return self.balance_micros - self.reserved_micros

    @property
    def answers_left(self) -> int | None:
        """None when answers are free."""
        if self.answer_price_micros <= 0:
            return None
        return max(0, self.available_micros) // self.answer_price_micros

    @property
    def low(self) -> bool:
        left = self.answers_left
        return left is not None and left < get_settings().low_balance_answers

    def as_json(self, email: str) -> dict[str, Any]:
        left = self.answers_left
        return {"email": email, "currency": self.currency, "balance": format_amount(self.balance_micros),
                "reserved": format_amount(self.reserved_micros), "answers_left": left}


async def get_balance(session: AsyncSession, *, user_id: uuid.UUID) -> BalanceView:
    account = await session.get(BillingAccount, user_id)
    balance, reserved = (account.balance_micros, account.reserved_micros) if account else (0, 0)
    return BalanceView(currency=get_settings().billing_currency, balance_micros=balance, reserved_micros=reserved,
                       answer_price_micros=await price_at(session, item="answer"))


async def list_ledger(session: AsyncSession, *, user_id: uuid.UUID, kind: str = "", since: datetime | None = None,
                      until: datetime | None = None, limit: int = 500) -> list[LedgerEntry]:
    query = sa.select(LedgerEntry).where(LedgerEntry.account_id == user_id)
    if kind:
        query = query.where(LedgerEntry.kind == kind)
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    return list((await session.execute(query.order_by(LedgerEntry.created_at.desc()).limit(limit))).scalars())


async def spend_per_day(session: AsyncSession, *, user_id: uuid.UUID, days: int = 30,
                        time_zone: str = "UTC") -> list[tuple[str, int]]:
    """(YYYY-MM-DD, micros spent) for each of the last `days` days of the business's clock, oldest first, zero
    days included."""
    zone = time_zone if is_time_zone(time_zone) else "UTC"
    since = (local_time(utcnow(), zone) - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    day = sa.func.date_trunc("day", LedgerEntry.created_at, zone)
    rows = (await session.execute(
        sa.select(day, sa.func.sum(-LedgerEntry.amount_micros))
        .where(LedgerEntry.account_id == user_id, LedgerEntry.kind == "commit", LedgerEntry.created_at >= since)
        .group_by(day))).all()
    spent = {local_time(d, zone).strftime("%Y-%m-%d"): int(v or 0) for d, v in rows}  # the local midnight
    out = []
    for i in range(days):
        label = (since + timedelta(days=i)).strftime("%Y-%m-%d")
        out.append((label, spent.get(label, 0)))
    return out


@dataclass(frozen=True)
class AccountProblem:
    email: str
    detail: str


_CHECK = sa.text("""
    SELECT u.email, a.balance_micros, a.reserved_micros,
           coalesce(l.amount, 0), coalesce(l.hold, 0), coalesce(c.open, 0)
    FROM billing_accounts a JOIN users u ON u.id = a.user_id
    LEFT JOIN (SELECT account_id, sum(amount_micros) AS amount, sum(hold_micros) AS hold
               FROM ledger_entries GROUP BY account_id) l ON l.account_id = a.user_id
    LEFT JOIN (SELECT account_id, sum(amount_micros) AS open FROM charges WHERE status = 'open'
               GROUP BY account_id) c ON c.account_id = a.user_id
    ORDER BY u.email
""")


async def check_accounts(session: AsyncSession) -> tuple[int, list[AccountProblem]]:
    """Every account against its ledger: (accounts checked, disagreements)."""
    rows = (await session.execute(_CHECK)).all()
    problems = []
    for email, balance, reserved, ledger_amount, ledger_hold, open_charges in rows:
        if balance != ledger_amount:
            problems.append(AccountProblem(email, f"balance {format_amount(balance)} != ledger "
                                                  f"{format_amount(ledger_amount)}"))
        if reserved != ledger_hold or reserved != open_charges:
            problems.append(AccountProblem(email, f"reserved {format_amount(reserved)} != ledger holds "
                                                  f"{format_amount(ledger_hold)} / open charges "
                                                  f"{format_amount(open_charges)}"))
        if balance < reserved:
            problems.append(AccountProblem(email, "available balance below zero"))
    return len(rows), problems


# --- zero balance -----------------------------------------------------------------------------------------

_ZERO_NOTIFICATION = {
    "en": "Your balance has run out: your assistants have stopped answering and conversations are waiting "
          "for a person. Top up to resume answers.",
    "ru": "Баланс исчерпан: ассистенты перестали отвечать, диалоги ждут оператора. Пополните баланс, "
          "чтобы ответы возобновились.",
}


async def notify_balance_zero(session: AsyncSession, *, owner_id: uuid.UUID) -> bool:
    """One unread 'balance_zero' notification at a time for the owner (not one per end-user message)."""
    unread = (await session.execute(sa.select(Notification.id).where(
        Notification.user_id == owner_id, Notification.kind == "balance_zero", Notification.read_at.is_(None))
        .limit(1))).first()
    if unread is not None:
        return False
    user = await session.get(User, owner_id)
    locale = user.locale if user is not None and user.locale in _ZERO_NOTIFICATION else "en"
    session.add(Notification(user_id=owner_id, kind="balance_zero", text=_ZERO_NOTIFICATION[locale]))
    await notifications.balance_zero(session, owner_id=owner_id)  # the mail, with the dashboard alert
    return True
