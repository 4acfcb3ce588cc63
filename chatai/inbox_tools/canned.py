"""Canned replies: a business's saved answers, found in the reply box by typing "/" and part of a shortcut
(or of the text), inserted for the person to edit before sending."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.inbox_tools import ToolsError
from chatai.inbox_tools.access import clean_text
from chatai.inbox_tools.models import CannedReply

MAX_SHORTCUT_CHARS = 48
MAX_BODY_CHARS = 4096  # what one Telegram message holds (the reply box's limit too)
MAX_CANNED = 500
PICKER_ROWS = 8
# "/" then the query: at the start of the box or after whitespace, up to the end of the box.
_SLASH_QUERY = re.compile(r"(?:^|\s)/([^\s/]*)$")


@dataclass(frozen=True)
class CannedRow:
    id: uuid.UUID
    shortcut: str
    body: str


def slash_query(draft: str) -> str | None:
    """The words after a trailing "/" in the reply box ("" right after the "/"), or None when the box does not
    end in a "/" command."""
    found = _SLASH_QUERY.search(draft or "")
    return found.group(1) if found else None


def insert_reply(draft: str, body: str) -> str:
    """The draft with its trailing "/query" replaced by `body` (what came before is kept)."""
    found = _SLASH_QUERY.search(draft or "")
    if not found:
        return (draft + body) if draft else body
    start = found.start() + (1 if found.group(0)[:1].isspace() else 0)
    return draft[:start] + body


def _clean(shortcut: str, body: str) -> tuple[str, str]:
    shortcut = re.sub(r"\s+", "-", (shortcut or "").strip().lstrip("/"))
    if not shortcut:
        raise ToolsError("canned_empty_shortcut")
    if len(shortcut) > MAX_SHORTCUT_CHARS:
        raise ToolsError("too_long")
    return shortcut, clean_text(body, limit=MAX_BODY_CHARS)


async def list_canned(session: AsyncSession, *, owner_id: uuid.UUID) -> list[CannedRow]:
    rows = await session.execute(sa.select(CannedReply.id, CannedReply.shortcut, CannedReply.body)
                                 .where(CannedReply.owner_id == owner_id).order_by(sa.func.lower(CannedReply.shortcut)))
    return [CannedRow(*r) for r in rows.all()]


def match_canned(replies: list[CannedRow], query: str, *, limit: int = PICKER_ROWS) -> list[CannedRow]:
    """Shortcuts starting with the query first, then shortcuts or texts containing it (case-insensitive)."""
    q = query.casefold()
    first = [r for r in replies if r.shortcut.casefold().startswith(q)]
    rest = [r for r in replies if r not in first and (q in r.shortcut.casefold() or q in r.body.casefold())]
    return (first + rest)[:limit]


async def _shortcut_taken(session: AsyncSession, owner_id: uuid.UUID, shortcut: str,
                          but: uuid.UUID | None = None) -> bool:
    query = sa.select(CannedReply.id).where(CannedReply.owner_id == owner_id,
                                           sa.func.lower(CannedReply.shortcut) == shortcut.lower())
    if but is not None:
        query = query.where(CannedReply.id != but)
    return (await session.execute(query)).first() is not None


async def create_canned(session: AsyncSession, *, owner_id: uuid.UUID, shortcut: str, body: str) -> CannedRow:
    shortcut, body = _clean(shortcut, body)
    if await _shortcut_taken(session, owner_id, shortcut):
        raise ToolsError("canned_exists")
    count = (await session.execute(sa.select(sa.func.count()).select_from(CannedReply)
                                   .where(CannedReply.owner_id == owner_id))).scalar_one()
    if count >= MAX_CANNED:
        raise ToolsError("canned_limit")
    reply = CannedReply(owner_id=owner_id, shortcut=shortcut, body=body)
    session.add(reply)
    await session.commit()
    return CannedRow(reply.id, reply.shortcut, reply.body)


async def _own(session: AsyncSession, owner_id: uuid.UUID, canned_id: uuid.UUID) -> CannedReply:
    reply = await session.get(CannedReply, canned_id)
    if reply is None or reply.owner_id != owner_id:
        raise ToolsError("not_found")
    return reply


async def update_canned(session: AsyncSession, *, owner_id: uuid.UUID, canned_id: uuid.UUID, shortcut: str,
                        body: str) -> CannedRow:
    shortcut, body = _clean(shortcut, body)
    reply = await _own(session, owner_id, canned_id)
    if await _shortcut_taken(session, owner_id, shortcut, but=canned_id):
        raise ToolsError("canned_exists")
    reply.shortcut, reply.body, reply.updated_at = shortcut, body, datetime.now(UTC)
    await session.commit()
    return CannedRow(reply.id, reply.shortcut, reply.body)


async def delete_canned(session: AsyncSession, *, owner_id: uuid.UUID, canned_id: uuid.UUID) -> None:
    reply = await _own(session, owner_id, canned_id)
    await session.delete(reply)
    await session.commit()
