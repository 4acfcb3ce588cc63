"""Tables of the operator chat (issue 22 part 1): people answering customers from their own Telegram.

Kept apart from models.py (which imports this module at its end, so alembic and every process see the
tables): the feature is one aggregate of its own. A linked operator is a Telegram account, not a dashboard
user: it acts for the owner who linked it, so the dialog's `operator_id` (a users reference) is the owner,
and `operator_holds` says which of the owner's Telegram operators holds the dialog.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from chatai.db.models import _fk, _opt_ts, _ts


class OperatorLinkCode(SQLModel, table=True):
    """A one-time code of a `https://t.me/<bot>?start=<code>` link: 15 minutes, single use, one bot.
    Only the code's SHA-256 is stored: a database reader cannot link their own account with it."""

    __tablename__ = "operator_link_codes"

    code_hash: str = Field(primary_key=True, max_length=64)
    owner_id: uuid.UUID = _fk("users.id")
    bot_id: uuid.UUID = _fk("bots.id")
    created_at: datetime = _ts()
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    used_at: datetime | None = _opt_ts()


class TelegramOperator(SQLModel, table=True):
    """A Telegram account linked as an operator of the owner, reached through one of the owner's bots."""

    __tablename__ = "telegram_operators"
    __table_args__ = (sa.UniqueConstraint("bot_id", "telegram_user_id", name="uq_telegram_operators_bot_user"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = _fk("users.id")
    bot_id: uuid.UUID = _fk("bots.id")
    telegram_user_id: int = Field(sa_type=sa.BigInteger)
    chat_id: int = Field(sa_type=sa.BigInteger)  # the operator's private chat with the bot
    name: str = Field(default="", max_length=255)  # as Telegram shows the account (first + last name)
    username: str = Field(default="", max_length=64)
    language: str = Field(default="", max_length=16)
    linked_at: datetime = _ts()
    # Waiting dialogs up to this moment were alerted (or skipped in quiet hours): the next alert covers later ones.
    alerted_until: datetime = _ts()


class OperatorHold(SQLModel, table=True):
    """Which Telegram operator holds a dialog (dialogs.status 'human', operator_id = the owner). A row whose
    dialog is no longer 'human' is stale and ignored (and swept: services/operator_holds.py)."""

    __tablename__ = "operator_holds"

    dialog_id: uuid.UUID = Field(foreign_key="dialogs.id", ondelete="CASCADE", primary_key=True)
    operator_id: uuid.UUID = _fk("telegram_operators.id")
    taken_at: datetime = _ts()
    forwarded_until: datetime = _ts()  # the customer's messages up to here reached the holder's chat


class OperatorChatMessage(SQLModel, table=True):
    """A message the bot sent into an operator's chat about a dialog (an alert, a forwarded customer
    message): an operator's reply to it is a reply to that dialog's customer."""

    __tablename__ = "operator_chat_messages"

    operator_id: uuid.UUID = Field(foreign_key="telegram_operators.id", ondelete="CASCADE", primary_key=True)
    telegram_message_id: int = Field(sa_type=sa.BigInteger, primary_key=True)
    dialog_id: uuid.UUID = _fk("dialogs.id")
    created_at: datetime = _ts()


class OperatorAlertSettings(SQLModel, table=True):
    """The owner's quiet hours for Telegram alerts (no row, or no start/end: none). Minutes after midnight
    in `timezone`; a start after the end spans midnight (22:00-07:00)."""

    __tablename__ = "operator_alert_settings"

    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    quiet_start: int | None = Field(default=None, sa_type=sa.SmallInteger)
    quiet_end: int | None = Field(default=None, sa_type=sa.SmallInteger)
    timezone: str = Field(default="UTC", max_length=64)
    updated_at: datetime = _ts()


class OperatorUpdate(SQLModel, table=True):
    """An operator's update (a reply, a button press, /release, a link being opened) stored before it is
    handled, like a customer's message: Telegram got its 200 (webhook) or its offset moved on (polling), so
    this row is what survives a runner that dies, or none listening, until the bot's runner handles it and
    deletes it (bots/operator_updates.py). Its `telegram_updates` row ('ignored') is the dedupe key."""

    __tablename__ = "operator_updates"

    bot_id: uuid.UUID = Field(foreign_key="bots.id", ondelete="CASCADE", primary_key=True)
    update_id: int = Field(sa_type=sa.BigInteger, primary_key=True)
    payload: dict = Field(sa_type=JSONB)
    received_at: datetime = _ts()
