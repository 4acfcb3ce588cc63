"""The business's clock: the owner picks the time zone every time on the dashboard, in exports and mails is
shown in (chatai/formatting.py formats them). Kept out of services/accounts.py, which is about signing in."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import User
from chatai.formatting import is_time_zone


class TimeZoneError(ValueError):
    """Not a time zone name this machine knows (code for the page's sentence: err_time_zone)."""

    code = "time_zone"


async def set_time_zone(session: AsyncSession, *, user_id: uuid.UUID, time_zone: str) -> str:
    """Stores a known IANA name (as typed, trimmed); anything else is refused, nothing stored."""
    name = time_zone.strip()
    if not is_time_zone(name):
        raise TimeZoneError(name)
    await session.execute(update(User).where(User.id == user_id).values(time_zone=name))
    await session.commit()
    return name


async def time_zone_of(session: AsyncSession, *, user_id: uuid.UUID) -> str:
    """For mails and exports made outside a signed-in page (a worker knows only the owner's id)."""
    value = (await session.execute(select(User.time_zone).where(User.id == user_id))).scalar_one_or_none()
    return value or "UTC"
