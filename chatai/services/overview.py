"""Counts for the owner's overview and the admin's platform page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Assistant, Bot, Dialog, Document, User


@dataclass(frozen=True)
class OwnerOverview:
    assistants: int
    documents: int
    bots_running: int
    dialogs: int


@dataclass(frozen=True)
class PlatformOverview:
    users: int
    assistants: int
    bots_running: int
    bots_error: int
    dialogs: int


async def _count(session: AsyncSession, stmt) -> int:
    return int((await session.execute(stmt)).scalar_one())


async def owner_overview(session: AsyncSession, *, owner_id: uuid.UUID) -> OwnerOverview:
    count = select(func.count())
    return OwnerOverview(
        assistants=await _count(session, count.select_from(Assistant).where(Assistant.owner_id == owner_id)),
        documents=await _count(session, count.select_from(Document).join(Assistant)
                               .where(Assistant.owner_id == owner_id)),
        bots_running=await _count(session, count.select_from(Bot)
                                  .where(Bot.owner_id == owner_id, Bot.status == "running")),
        # Customers' conversations: the owner's own playground ones are not (chatai/conversation/playground.py).
        dialogs=await _count(session, count.select_from(Dialog).where(Dialog.owner_id == owner_id,
                                                                      Dialog.channel != "playground")),
    )


async def platform_overview(session: AsyncSession) -> PlatformOverview:
    count = select(func.count())
    return PlatformOverview(
        users=await _count(session, count.select_from(User)),
        assistants=await _count(session, count.select_from(Assistant)),
        bots_running=await _count(session, count.select_from(Bot).where(Bot.status == "running")),
        bots_error=await _count(session, count.select_from(Bot).where(Bot.status == "error")),
        dialogs=await _count(session, count.select_from(Dialog).where(Dialog.channel != "playground")),
    )


@dataclass(frozen=True)
class UserRow:
    id: str
    email: str
    role: str
    blocked: bool
    created: str


async def list_users(session: AsyncSession, *, limit: int = 200, offset: int = 0, query: str = "") -> list[UserRow]:
    stmt = select(User).order_by(User.created_at.desc()).limit(limit).offset(offset)
    if query:
        stmt = stmt.where(User.email.ilike(f"%{query.strip()}%"))
    rows = (await session.execute(stmt)).scalars()
    return [UserRow(id=str(u.id), email=u.email, role=u.role, blocked=u.blocked,
                    created=u.created_at.strftime("%Y-%m-%d")) for u in rows]
