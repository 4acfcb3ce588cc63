"""Internal notes in a dialog's transcript. They live in `dialog_notes`, never in `messages`, so nothing
that talks to a customer (the bot's replies, the AI's history, operator alerts, the widget) can read them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.inbox_tools.access import clean_text, require_dialog
from chatai.inbox_tools.models import DialogNote

NOTES_LIMIT = 300
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


_NOTES = """
    SELECT id, author_name, text, created_at FROM dialog_notes
    WHERE dialog_id = :dialog AND owner_id = :owner AND created_at >= :since
    ORDER BY created_at DESC LIMIT :limit
"""


async def list_dialog_notes(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID,
                            since: datetime | None = None) -> list[NoteRow]:
    """The dialog's notes, oldest first (`since`: only those at or after it, to match a shortened transcript).
    Plain SQL: it runs on every live refresh of every tab showing the dialog (bench.inbox_tools)."""
    rows = (await session.execute(sa.text(_NOTES).bindparams(sa.bindparam("since", type_=sa.DateTime(timezone=True))),
                                  {"dialog": dialog_id, "owner": owner_id, "limit": NOTES_LIMIT,
                                   "since": since or _EPOCH})).all()
    return [NoteRow(*r) for r in reversed(rows)]
