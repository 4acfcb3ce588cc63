"""Internal notes in a dialog's transcript. They live in `dialog_notes`, never in `messages`, so nothing
that talks to a customer (the bot's replies, the AI's history, operator alerts, the widget) can read them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.inbox_tools.access import clean_text, require_dialog
from chatai.inbox_tools.models import DialogNote

NOTES_LIMIT = 300


@dataclass(frozen=True)
class NoteRow:
    id: uuid.UUID
    author_name: str
    text: str
    created_at: datetime


async def add_dialog_note(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID,
                          author_id: uuid.UUID, author_name: str, text: str) -> NoteRow:
    body = clean_text(text)
    await require_dialog(session, owner_id=owner_id, dialog_id=dialog_id)
    note = DialogNote(owner_id=owner_id, dialog_id=dialog_id, author_id=author_id, author_name=author_name[:255],
                      text=body)
    session.add(note)
    await session.commit()
    return NoteRow(note.id, note.author_name, note.text, note.created_at)


async def list_dialog_notes(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID,
                            since: datetime | None = None) -> list[NoteRow]:
    """The dialog's notes, oldest first (`since`: only those at or after it, to match a shortened transcript)."""
    query = (sa.select(DialogNote.id, DialogNote.author_name, DialogNote.text, DialogNote.created_at)
             .where(DialogNote.dialog_id == dialog_id, DialogNote.owner_id == owner_id))
    if since is not None:
        query = query.where(DialogNote.created_at >= since)
    rows = (await session.execute(query.order_by(DialogNote.created_at.desc()).limit(NOTES_LIMIT))).all()
    return [NoteRow(*r) for r in reversed(rows)]
