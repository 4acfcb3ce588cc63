"""The mail tables (0009): one-time verification and reset links, the outgoing mail queue, and what each owner
wants mailed.

Kept apart from models.py (which imports this module at its end, so alembic and every process see the tables).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from chatai.db.models import _fk, _opt_ts, _ts

# --- email (0009): verification / reset links, the mail queue, what each owner wants mailed ---------


class EmailToken(SQLModel, table=True):
    """A link sent by mail (verify the address, reset the password): single use, expiring, only its hash kept."""

    __tablename__ = "email_tokens"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = _fk("users.id")
    purpose: str = Field(max_length=16)  # verify | reset
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    used_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()


class OutboxMail(SQLModel, table=True):
    """A mail waiting to be sent (services/mail.py): written in the caller's transaction, sent by a background
    task with retries, so a slow or broken SMTP server never holds up a page or a bot. The body is encrypted
    (links in it are credentials until used) and dropped once sent."""

    __tablename__ = "outbox"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=32)
    to_addr: str = Field(max_length=254)
    body_encrypted: str = Field(default="", sa_type=sa.Text)
    # One mail per event (a bot's error episode, a balance crossing): a second enqueue is a no-op.
    dedupe_key: str | None = Field(default=None, max_length=160, sa_column_kwargs={"unique": True})
    attempts: int = 0
    next_attempt_at: datetime = _ts(index=True)
    sent_at: datetime | None = _opt_ts()
    failed_at: datetime | None = _opt_ts()  # gave up after the last retry
    last_error: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = _ts()


class NotificationPreference(SQLModel, table=True):
    """Which alerts an owner gets by mail; no row = all on."""

    __tablename__ = "notification_preferences"

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    handoff_waiting: bool = True
    balance_low: bool = True
    balance_zero: bool = True
    payment_received: bool = True
    bot_error: bool = True
    updated_at: datetime = _ts()
