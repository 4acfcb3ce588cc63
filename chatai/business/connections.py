"""What the dashboard and the command line show of an owner's Telegram Business connections.

Owner-scoped: only connections of the owner's own bots (the row's owner is the bot's owner, written by the
runner from the bot the update came through). No Reflex, no Telegram import.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.business.models import BusinessConnection
from chatai.db.models import Bot

STATES = ("answering", "cannot_reply", "disabled", "revoked")


@dataclass(frozen=True)
class ConnectionView:
    bot_id: uuid.UUID
    bot_username: str
    connection_id: str
    telegram_user_id: int
    user_name: str
    username: str
    can_reply: bool
    enabled: bool
    revoked_at: datetime | None
    updated_at: datetime

    @property
    def state(self) -> str:
        """revoked (Telegram refused it) > disabled (turned off in Telegram) > cannot_reply > answering."""
        if self.revoked_at is not None:
            return "revoked"
        if not self.enabled:
            return "disabled"
        return "answering" if self.can_reply else "cannot_reply"


async def list_connections(session: AsyncSession, *, owner_id: uuid.UUID,
                           bot_id: uuid.UUID | None = None) -> list[ConnectionView]:
    query = (sa.select(BusinessConnection, Bot.username).join(Bot, Bot.id == BusinessConnection.bot_id)
             .where(BusinessConnection.owner_id == owner_id, Bot.owner_id == owner_id)
             .order_by(BusinessConnection.connected_at))
    if bot_id is not None:
        query = query.where(BusinessConnection.bot_id == bot_id)
    rows = (await session.execute(query)).all()
    return [ConnectionView(c.bot_id, username, c.connection_id, c.telegram_user_id, c.user_name, c.username,
                           c.can_reply, c.enabled, c.revoked_at, c.updated_at) for c, username in rows]
