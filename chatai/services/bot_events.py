"""A bot's event log: what happened to it and why, for its owner (error entered with the reason, recovered,
a message skipped after repeated failures, paused, resumed, token replaced).

Why a log beside `bots.last_error`: the row shows the present (a recovered bot has no error), the log keeps the
history. Messages are sentences written by the platform, never a customer's text or name and never exception
internals, so they are safe to show and store. At most KEEP events per bot: recording one deletes the oldest
beyond that in the same statement (one round trip, no cleanup job).

The caller owns the connection or session (an AUTOCOMMIT connection in the runner, the request's session in
services, which commits).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Bot, BotEvent, utcnow
from chatai.services.assistants import NotFound
from chatai.textsafe import db_safe

KEEP = 200
KINDS = ("error", "recovered", "update_failed", "paused", "resumed", "token_replaced", "operator_unlinked",
         "operator_alert_failed")
MAX_MESSAGE = 1000

# The DELETE sees the table as it was before this statement (without the new row), so keeping KEEP - 1 of
# those plus the new one leaves KEEP.
_RECORD = sa.text("""
    WITH added AS (
        INSERT INTO bot_events (id, bot_id, owner_id, kind, message, created_at)
        VALUES (:id, :bot, :owner, :kind, :message, :at)
    )
    DELETE FROM bot_events WHERE id IN (
        SELECT id FROM bot_events WHERE bot_id = :bot ORDER BY created_at DESC, id DESC OFFSET :older
    )
""")


@dataclass(frozen=True)
class BotEventView:
    kind: str
    message: str
    created_at: datetime


async def record(conn: AsyncConnection | AsyncSession, *, bot_id: uuid.UUID, owner_id: uuid.UUID, kind: str,
                 message: str = "", at: datetime | None = None) -> None:
    """Add an event (the caller commits a session; an AUTOCOMMIT connection commits by itself). `at` is when
    it happened: the runner writes events in the background, so it stamps them when they occur."""
    if kind not in KINDS:
        raise ValueError(f"unknown bot event kind {kind!r}")
    await conn.execute(_RECORD, {"id": uuid.uuid4(), "bot": bot_id, "owner": owner_id, "kind": kind,
                                 "message": db_safe(message)[:MAX_MESSAGE], "at": at or utcnow(),
                                 "older": KEEP - 1})


async def list_events(session: AsyncSession, *, owner_id: uuid.UUID, bot_id: uuid.UUID,
                      limit: int = KEEP) -> list[BotEventView]:
    """The bot's events, newest first; NotFound unless the bot belongs to this owner."""
    owner = (await session.execute(sa.select(Bot.owner_id).where(Bot.id == bot_id))).scalar_one_or_none()
    if owner is None or owner != owner_id:
        raise NotFound("bot")
    rows = await session.execute(
        sa.select(BotEvent.kind, BotEvent.message, BotEvent.created_at).where(BotEvent.bot_id == bot_id)
        .order_by(BotEvent.created_at.desc(), BotEvent.id.desc()).limit(min(limit, KEEP)))
    return [BotEventView(kind=kind, message=message, created_at=at) for kind, message, at in rows.all()]
