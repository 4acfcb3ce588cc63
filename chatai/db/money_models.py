"""The money tables: prepaid accounts, the append-only ledger, prices, per-answer charges, top-ups and promo
codes. Money is integer micro-units of the platform currency (models.MICRO).

Kept apart from models.py (which imports this module at its end, so alembic and every process see the tables).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from chatai.db.models import MICRO, _fk, _opt_ts, _ts

# --- money -------------------------------------------------------------------------------
# Balance semantics (services/billing.py): balance = money held; reserved = part of it set aside for answers
# being generated; available = balance - reserved, never negative. Every movement is a ledger row, so
# balance == sum(ledger.amount) and reserved == sum(ledger.hold) always (`python -m chatai billing check`).

LEDGER_KINDS = ("welcome", "topup", "reserve", "commit", "release", "refund", "promo", "adjustment")


class BillingAccount(SQLModel, table=True):
    """The running balance; the ledger is the truth, this row is its locked, checked summary."""

    __tablename__ = "billing_accounts"
    __table_args__ = (
        sa.CheckConstraint("balance_micros >= 0", name="ck_billing_balance_non_negative"),
        sa.CheckConstraint("reserved_micros >= 0", name="ck_billing_reserved_non_negative"),
        sa.CheckConstraint("balance_micros >= reserved_micros", name="ck_billing_available_non_negative"),
    )

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    balance_micros: int = Field(default=0, sa_type=sa.BigInteger)
    reserved_micros: int = Field(default=0, sa_type=sa.BigInteger)
    low_balance_micros: int = Field(default=5 * MICRO, sa_type=sa.BigInteger)
    updated_at: datetime = _ts()


class LedgerEntry(SQLModel, table=True):
    """Immutable: rows are only ever inserted (a database trigger refuses UPDATE and DELETE)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (sa.Index("ix_ledger_account_created", "account_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="users.id", ondelete="RESTRICT")
    amount_micros: int = Field(sa_type=sa.BigInteger)  # + credit, - debit (effect on the balance)
    hold_micros: int = Field(default=0, sa_type=sa.BigInteger,  # effect on reserved: + reserve, - commit/release
                             sa_column_kwargs={"server_default": "0"})
    kind: str = Field(max_length=16)  # one of LEDGER_KINDS
    reason: str = Field(default="", sa_type=sa.Text, sa_column_kwargs={"server_default": ""})
    reference: str = Field(default="", max_length=255)
    idempotency_key: str = Field(max_length=128, sa_column_kwargs={"unique": True})
    balance_after_micros: int = Field(sa_type=sa.BigInteger)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = _ts()


class Price(SQLModel, table=True):
    """What one billable item costs an owner, per channel. Append-only history: a change is a new row, the
    newest row whose effective_from has passed is the price, so a change applies to new charges only."""

    __tablename__ = "prices"
    __table_args__ = (sa.Index("ix_prices_item_channel_from", "item", "channel", "effective_from"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    item: str = Field(max_length=32)  # answer | qa_answer | operator_message | document_page
    channel: str = Field(default="telegram", max_length=16)
    price_micros: int = Field(default=0, sa_type=sa.BigInteger)
    effective_from: datetime = _ts()
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class Charge(SQLModel, table=True):
    """One reservation for one answer (key derived from bot and update id): open, then committed or released
    exactly once (conditional UPDATE on status), so an incoming message is never charged twice."""

    __tablename__ = "charges"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="users.id", ondelete="RESTRICT", index=True)
    idempotency_key: str = Field(max_length=128, sa_column_kwargs={"unique": True})
    bot_id: uuid.UUID | None = Field(default=None, foreign_key="bots.id", ondelete="SET NULL")
    update_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    dialog_id: uuid.UUID | None = Field(default=None, foreign_key="dialogs.id", ondelete="SET NULL")
    message_id: uuid.UUID | None = Field(default=None, foreign_key="messages.id", ondelete="SET NULL")
    item: str = Field(default="answer", max_length=32)
    amount_micros: int = Field(sa_type=sa.BigInteger)
    status: str = Field(default="open", max_length=16, index=True)  # open | committed | released
    created_at: datetime = _ts()
    settled_at: datetime | None = _opt_ts()


class TopUp(SQLModel, table=True):
    """A payment the owner started; credited once, when the provider (re-read, never trusted) says so."""

    __tablename__ = "topups"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="users.id", ondelete="RESTRICT", index=True)
    amount_micros: int = Field(sa_type=sa.BigInteger)
    currency: str = Field(default="RUB", max_length=3)
    provider: str = Field(default="yookassa", max_length=16)
    provider_payment_id: str | None = Field(default=None, max_length=64, sa_column_kwargs={"unique": True})
    confirmation_url: str = Field(default="", sa_type=sa.Text)
    status: str = Field(default="pending", max_length=16, index=True)  # pending | succeeded | canceled | failed
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    credited_at: datetime | None = _opt_ts()


class PromoCode(SQLModel, table=True):
    __tablename__ = "promo_codes"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    code: str = Field(max_length=32, sa_column_kwargs={"unique": True})  # stored upper-case
    bonus_micros: int = Field(sa_type=sa.BigInteger)
    max_redemptions: int = 1
    redemptions: int = 0
    expires_at: datetime | None = _opt_ts()
    active: bool = True
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = _ts()


class PromoRedemption(SQLModel, table=True):
    __tablename__ = "promo_redemptions"
    __table_args__ = (sa.UniqueConstraint("promo_id", "account_id", name="uq_promo_redemptions_code_account"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    promo_id: uuid.UUID = _fk("promo_codes.id")
    account_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    created_at: datetime = _ts()
