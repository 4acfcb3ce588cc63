"""The widget's tables (migration 0018). Kept beside the widget rather than in db/models.py; db/models.py
imports this module at its end so that alembic and the test fixtures see every table."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from chatai.db.models import _fk, _opt_ts, _ts

POSITIONS = ("right", "left")
LANGUAGES = ("auto", "en", "ru")


class WidgetSettings(SQLModel, table=True):
    """One assistant's website channel. No row = the channel was never set up (off, no site allowed)."""

    __tablename__ = "widget_settings"

    assistant_id: uuid.UUID = Field(foreign_key="assistants.id", ondelete="CASCADE", primary_key=True)
    owner_id: uuid.UUID = _fk("users.id")
    enabled: bool = False
    # Host names ("shop.example.com", "*.example.com" for its subdomains); empty = no site may embed it.
    allowed_sites: list[str] = Field(default_factory=list, sa_type=JSONB)
    title: str = Field(default="", max_length=80)  # empty = the assistant's name
    operator_name: str = Field(default="", max_length=80)  # empty = the operator's e-mail name part
    avatar: bytes | None = Field(default=None, sa_type=sa.LargeBinary)  # a checked PNG/JPEG/WebP
    avatar_type: str = Field(default="", max_length=32)
    accent_color: str = Field(default="#4f46e5", max_length=7)
    position: str = Field(default="right", max_length=8)  # right | left
    welcome: str = Field(default="", sa_type=sa.Text)  # empty = the panel's own greeting in the visitor's language
    language: str = Field(default="auto", max_length=8)  # auto | en | ru
    show_sources: bool = True
    updated_at: datetime = _ts()


class WidgetConversation(SQLModel, table=True):
    """A web dialog and the visitor it belongs to: a visitor token reaches only its own conversations, and
    only those of the assistant it was issued for."""

    __tablename__ = "widget_conversations"
    __table_args__ = (sa.Index("ix_widget_conversations_visitor", "assistant_id", "visitor_id", "created_at"),)

    dialog_id: uuid.UUID = Field(foreign_key="dialogs.id", ondelete="CASCADE", primary_key=True)
    assistant_id: uuid.UUID = Field(foreign_key="assistants.id", ondelete="CASCADE")
    visitor_id: uuid.UUID
    site: str = Field(default="", max_length=255)  # the host it was started on
    language: str = Field(default="en", max_length=8)  # the visitor's language (notices, limits)
    created_at: datetime = _ts()


class WidgetClientMessage(SQLModel, table=True):
    """A visitor message id already received: a retry or a double click is stored and answered once."""

    __tablename__ = "widget_client_messages"

    dialog_id: uuid.UUID = Field(foreign_key="dialogs.id", ondelete="CASCADE", primary_key=True)
    client_message_id: str = Field(max_length=64, primary_key=True)
    message_id: uuid.UUID | None = Field(default=None, foreign_key="messages.id", ondelete="SET NULL")
    answer_id: uuid.UUID | None = Field(default=None, foreign_key="messages.id", ondelete="SET NULL")
    created_at: datetime = _ts()
    answered_at: datetime | None = _opt_ts()
