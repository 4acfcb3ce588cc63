"""Business connections: which Telegram account connected which of the owner's bots, and what it allows.

Kept apart from db/models.py (which imports this module at its end): one aggregate of its own. The key is
(bot_id, connection id): a connection exists only through the bot Telegram reported it to, so an update
for one owner's bot can never name another owner's connection.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from chatai.db.models import _fk, _opt_ts, _ts


class BusinessConnection(SQLModel, table=True):
    """Telegram's BusinessConnection as last reported, plus when Telegram refused it (revoked)."""

    __tablename__ = "business_connections"

    bot_id: uuid.UUID = Field(foreign_key="bots.id", ondelete="CASCADE", primary_key=True)
    connection_id: str = Field(primary_key=True, max_length=128)
    owner_id: uuid.UUID = _fk("users.id")
    telegram_user_id: int = Field(sa_type=sa.BigInteger)  # the business account (its messages are the owner's)
    user_chat_id: int = Field(sa_type=sa.BigInteger)
    user_name: str = Field(default="", max_length=255)
    username: str = Field(default="", max_length=64)
    enabled: bool = True  # Telegram's is_enabled: false once the account turned the bot off or removed it
    can_reply: bool = False  # rights.can_reply (older Bot API: the top-level can_reply)
    rights: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    # Telegram refused the connection id on a send (BUSINESS_CONNECTION_INVALID): never used again.
    revoked_at: datetime | None = _opt_ts()
    connected_at: datetime = _ts()
    updated_at: datetime = _ts()

    @property
    def answerable(self) -> bool:
        return self.enabled and self.can_reply and self.revoked_at is None
