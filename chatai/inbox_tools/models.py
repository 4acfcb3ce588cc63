"""Tables of the inbox tools (migration 0021). Imported by chatai/db/models.py so alembic and the tests
see them on the one metadata; this module imports nothing from the app (no cycle).

Notes are rows of their own, never `messages`: everything that reaches a customer (the bot's reply path,
the AI's history, operator alerts) reads `messages`, so a note cannot leak into any channel by construction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


def _ts() -> Any:
    return Field(default_factory=_now, sa_type=sa.DateTime(timezone=True))


def _owner() -> Any:
    return Field(foreign_key="users.id", ondelete="CASCADE", index=True)


def _author() -> Any:
    return Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class DialogNote(SQLModel, table=True):
    """An internal note in a dialog's transcript: seen by the business's people only."""

    __tablename__ = "dialog_notes"
    __table_args__ = (sa.Index("ix_dialog_notes_dialog_created", "dialog_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = _owner()
    dialog_id: uuid.UUID = Field(foreign_key="dialogs.id", ondelete="CASCADE")
    author_id: uuid.UUID | None = _author()
    author_name: str = Field(max_length=255)  # as shown when written: the author may be removed later
    text: str = Field(sa_type=sa.Text)
    created_at: datetime = _ts()


class InboxLabel(SQLModel, table=True):
    __tablename__ = "inbox_labels"
    __table_args__ = (sa.UniqueConstraint("owner_id", "name", name="uq_inbox_labels_owner_name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = _owner()
    name: str = Field(max_length=48)
    color: str = Field(max_length=16)  # a Radix colour name (labels.COLORS)
    created_at: datetime = _ts()


class DialogLabel(SQLModel, table=True):
    __tablename__ = "dialog_labels"
    # The inbox's label filter reads (label -> dialogs) from the index alone.
    __table_args__ = (sa.Index("ix_dialog_labels_label_dialog", "label_id", "dialog_id"),)

    dialog_id: uuid.UUID = Field(foreign_key="dialogs.id", ondelete="CASCADE", primary_key=True)
    label_id: uuid.UUID = Field(foreign_key="inbox_labels.id", ondelete="CASCADE", primary_key=True)
    created_at: datetime = _ts()


class CannedReply(SQLModel, table=True):
    """A saved answer, inserted into the reply box by typing "/" and its shortcut."""

    __tablename__ = "canned_replies"
    __table_args__ = (sa.UniqueConstraint("owner_id", "shortcut", name="uq_canned_replies_owner_shortcut"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = _owner()
    shortcut: str = Field(max_length=48)
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class CustomerNote(SQLModel, table=True):
    """A note about a customer (all their dialogs), on the customer card."""

    __tablename__ = "customer_notes"
    __table_args__ = (sa.Index("ix_customer_notes_owner_customer", "owner_id", "customer_key", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    customer_key: str = Field(max_length=64)  # customers.customer_key: "tg:<user id>" or "dialog:<id>"
    author_id: uuid.UUID | None = _author()
    author_name: str = Field(max_length=255)
    text: str = Field(sa_type=sa.Text)
    created_at: datetime = _ts()
