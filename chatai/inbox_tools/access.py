"""The one ownership check every inbox tool starts with: the dialog belongs to the business."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.inbox_tools import ToolsError

MAX_NOTE_CHARS = 4000


async def require_dialog(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID) -> None:
    found = (await session.execute(sa.text("SELECT 1 FROM dialogs WHERE id = :d AND owner_id = :o"),
                                   {"d": dialog_id, "o": owner_id})).first()
    if found is None:
        raise ToolsError("not_found")


def clean_text(text: str, *, limit: int = MAX_NOTE_CHARS) -> str:
    """Stripped text, refused when empty or over `limit` (never silently cut: the author would lose words)."""
    text = (text or "").replace("\x00", "").strip()
    if not text:
        raise ToolsError("empty_text")
    if len(text) > limit:
        raise ToolsError("too_long")
    return text


def as_uuid(value: str | uuid.UUID) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise ToolsError("not_found") from None


async def dialog_holder(session: AsyncSession, *, owner_id: uuid.UUID,
                        dialog_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
    """Who holds (took over) the dialog: their id and how they are named, or None."""
    row = (await session.execute(sa.text("""
        SELECT u.id, u.email FROM dialogs d JOIN users u ON u.id = d.operator_id
        WHERE d.id = :d AND d.owner_id = :o AND d.status = 'human'
    """), {"d": dialog_id, "o": owner_id})).first()
    return (row.id, row.email) if row else None
