"""The customer card beside a transcript: who the customer is (Telegram name, @username, language, first
seen), their other dialogs with this business, and the business's notes about them.

A customer is their Telegram user id within the business (the same person through two bots is one
customer); a dialog with no Telegram user (the playground) is a customer of its own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.inbox_tools import ToolsError
from chatai.inbox_tools.access import clean_text
from chatai.inbox_tools.models import CustomerNote
from chatai.inbox_tools.notes import NoteRow

CARD_DIALOGS = 20
CARD_NOTES = 50


@dataclass(frozen=True)
class CustomerDialog:
    id: uuid.UUID
    status: str
    bot_username: str
    channel: str
    last_message_at: datetime


@dataclass(frozen=True)
class CustomerCard:
    customer_key: str
    name: str
    username: str
    language: str
    first_seen: datetime
    dialogs: list[CustomerDialog] = field(default_factory=list)
    dialog_count: int = 0
    notes: list[NoteRow] = field(default_factory=list)


async def _dialog_head(session: AsyncSession, owner_id: uuid.UUID, dialog_id: uuid.UUID):
    row = (await session.execute(sa.text("""
        SELECT id, telegram_user_id, user_name, user_username, user_language, created_at
        FROM dialogs WHERE id = :d AND owner_id = :o
    """), {"d": dialog_id, "o": owner_id})).first()
    if row is None:
        raise ToolsError("not_found")
    return row


def _key(head) -> str:
    return f"tg:{head.telegram_user_id}" if head.telegram_user_id is not None else f"dialog:{head.id}"


async def customer_key_of(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID) -> str:
    return _key(await _dialog_head(session, owner_id, dialog_id))


async def customer_card(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID) -> CustomerCard:
    head = await _dialog_head(session, owner_id, dialog_id)
    key = _key(head)
    if head.telegram_user_id is not None:
        same = "d.owner_id = :o AND d.telegram_user_id = :u"
        params = {"o": owner_id, "u": head.telegram_user_id}
    else:
        same = "d.owner_id = :o AND d.id = :d"
        params = {"o": owner_id, "d": head.id}
    # One statement: the window aggregates count every dialog of the customer before LIMIT keeps the newest.
    rows = (await session.execute(sa.text(f"""
        SELECT d.id, d.status, coalesce(b.username, '') AS bot_username, d.channel, d.last_message_at,
               count(*) OVER () AS n, min(d.created_at) OVER () AS first
        FROM dialogs d LEFT JOIN bots b ON b.id = d.bot_id
        WHERE {same} ORDER BY d.last_message_at DESC LIMIT :lim
    """), {**params, "lim": CARD_DIALOGS})).all()
    notes = (await session.execute(
        sa.select(CustomerNote.id, CustomerNote.author_name, CustomerNote.text, CustomerNote.created_at)
        .where(CustomerNote.owner_id == owner_id, CustomerNote.customer_key == key)
        .order_by(CustomerNote.created_at.desc()).limit(CARD_NOTES))).all()
    return CustomerCard(customer_key=key, name=head.user_name, username=head.user_username,
                        language=head.user_language, first_seen=rows[0].first if rows else head.created_at,
                        dialogs=[CustomerDialog(*r[:5]) for r in rows], dialog_count=int(rows[0].n) if rows else 1,
                        notes=[NoteRow(*n) for n in notes])


async def add_customer_note(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID,
                            author_id: uuid.UUID, author_name: str, text: str) -> NoteRow:
    """A note about the customer of `dialog_id` (shown on the card of every one of their dialogs)."""
    body = clean_text(text)
    key = await customer_key_of(session, owner_id=owner_id, dialog_id=dialog_id)
    note = CustomerNote(owner_id=owner_id, customer_key=key, author_id=author_id, author_name=author_name[:255],
                        text=body)
    session.add(note)
    await session.commit()
    return NoteRow(note.id, note.author_name, note.text, note.created_at)
