"""A visitor's conversations: the current one (the newest), starting a new one as a web dialog (only with its
first message: see open_dialog), what the panel shows of it, and the client message ids already received.
Every read is scoped by the visitor's token (assistant + visitor id), so one visitor never reaches another's
dialog, nor another owner's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Assistant, Dialog, Message, User, utcnow
from chatai.web.i18n import text
from chatai.widget.models import WidgetClientMessage, WidgetConversation, WidgetSettings
from chatai.widget.tokens import Visitor

PANEL_ROLES = ("user", "assistant", "operator", "system")
# System notices (their text is an event code, services/handoff.py) the visitor is told about; the others
# (an owner's own bookkeeping) stay in the inbox.
# The waiting notices (a person asked for, "I don't know", a zero balance) reach the visitor as the conversation
# service's reply to their message; these three happen without a visitor message.
VISITOR_NOTICES = ("taken_over", "released", "timed_out")
HISTORY_LIMIT = 200


@dataclass(frozen=True)
class Cursor:
    """The last message a stream sent: (created_at, id), so messages written in the same microsecond are
    neither lost nor sent twice."""

    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        return f"{self.created_at.isoformat()}|{self.id}"

    @classmethod
    def decode(cls, raw: str) -> Cursor | None:
        stamp, _, ident = (raw or "").replace(" ", "+").partition("|")  # an unquoted "+" arrives as a space
        try:
            return cls(datetime.fromisoformat(stamp), uuid.UUID(ident))
        except ValueError:
            return None


async def current_dialog(session: AsyncSession, visitor: Visitor) -> Dialog | None:
    """The visitor's newest conversation with this assistant (None: none yet)."""
    row = (await session.execute(
        sa.select(Dialog).join(WidgetConversation, WidgetConversation.dialog_id == Dialog.id)
        .where(WidgetConversation.assistant_id == visitor.assistant_id,
               WidgetConversation.visitor_id == visitor.visitor_id)
        .order_by(WidgetConversation.created_at.desc()).limit(1))).scalar_one_or_none()
    return row


async def visitor_dialog(session: AsyncSession, visitor: Visitor, dialog_id: uuid.UUID) -> Dialog | None:
    """That dialog only when it is this visitor's (of this assistant): None for anyone else's."""
    return (await session.execute(
        sa.select(Dialog).join(WidgetConversation, WidgetConversation.dialog_id == Dialog.id)
        .where(Dialog.id == dialog_id, WidgetConversation.assistant_id == visitor.assistant_id,
               WidgetConversation.visitor_id == visitor.visitor_id))).scalar_one_or_none()


async def open_dialog(session: AsyncSession, visitor: Visitor, *, language: str) -> Dialog:
    """A new web dialog for this visitor, flushed but NOT committed: the caller stores the visitor's first
    message in the same transaction, so that the inbox, analytics and customer counts never see a web dialog
    without a message (a panel opened, or "new conversation" pressed, stores nothing). The inbox names it by
    the site it started on."""
    assistant = await session.get(Assistant, visitor.assistant_id)
    if assistant is None:
        raise LookupError("assistant")
    now = utcnow()
    dialog = Dialog(assistant_id=assistant.id, owner_id=assistant.owner_id, channel="web",
                    user_name=visitor.site[:255], user_language=language, last_message_at=now, created_at=now)
    session.add(dialog)
    await session.flush()
    session.add(WidgetConversation(dialog_id=dialog.id, assistant_id=assistant.id, visitor_id=visitor.visitor_id,
                                   site=visitor.site[:255], language=language, created_at=now))
    await session.flush()
    return dialog


async def lock_visitor(session: AsyncSession, visitor: Visitor) -> None:
    """Until this transaction ends, no other request of this visitor starts a conversation: a first message
    and its retry racing each other end in one dialog."""
    await session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 21))"),
                          {"key": f"widget:{visitor.assistant_id}:{visitor.visitor_id}"})


async def dialog_with_client_message(session: AsyncSession, visitor: Visitor,
                                     client_message_id: str) -> uuid.UUID | None:
    """The visitor's conversation (of this assistant) that already received this client message id: the
    retry of a message that started a conversation finds it there."""
    return (await session.execute(
        sa.select(WidgetClientMessage.dialog_id)
        .join(WidgetConversation, WidgetConversation.dialog_id == WidgetClientMessage.dialog_id)
        .where(WidgetConversation.assistant_id == visitor.assistant_id,
               WidgetConversation.visitor_id == visitor.visitor_id,
               WidgetClientMessage.client_message_id == client_message_id).limit(1))).scalar_one_or_none()


async def claim_client_message(session: AsyncSession, *, dialog_id: uuid.UUID, client_message_id: str) -> bool:
    """True for the first time this id arrives in this dialog; False for a retry or a double click (the
    primary key decides, so two requests racing each other end with exactly one True). Commits."""
    result = await session.execute(
        insert(WidgetClientMessage).values(dialog_id=dialog_id, client_message_id=client_message_id,
                                           created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["dialog_id", "client_message_id"])
        .returning(WidgetClientMessage.client_message_id))
    claimed = result.scalar_one_or_none() is not None
    await session.commit()
    return claimed


async def note_client_message(session: AsyncSession, *, dialog_id: uuid.UUID, client_message_id: str,
                              message_id: uuid.UUID | None = None, answer_id: uuid.UUID | None = None) -> None:
    """Remember which stored message (and answer) the client id became. Commits."""
    values: dict[str, Any] = {}
    if message_id is not None:
        values["message_id"] = message_id
    if answer_id is not None:
        values.update(answer_id=answer_id, answered_at=utcnow())
    if values:
        await session.execute(sa.update(WidgetClientMessage).where(
            WidgetClientMessage.dialog_id == dialog_id,
            WidgetClientMessage.client_message_id == client_message_id).values(**values))
        await session.commit()


async def conversations_today(session: AsyncSession, visitor: Visitor) -> int:
    since = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return int((await session.execute(
        sa.select(sa.func.count()).select_from(WidgetConversation)
        .where(WidgetConversation.assistant_id == visitor.assistant_id,
               WidgetConversation.visitor_id == visitor.visitor_id,
               WidgetConversation.created_at >= since))).scalar_one())


async def operator_name(session: AsyncSession, widget: WidgetSettings | None, operator_id: uuid.UUID | None,
                        language: str) -> str:
    """What the visitor calls the person answering: the widget's operator name, else the part of the
    operator's e-mail before the @, else "Operator" in the visitor's language."""
    if widget is not None and widget.operator_name:
        return widget.operator_name
    if operator_id is not None:
        user = await session.get(User, operator_id)
        if user is not None:
            return user.email.split("@", 1)[0]
    return text(language, "widget_panel_operator")


async def panel_messages(session: AsyncSession, *, dialog_id: uuid.UUID, widget: WidgetSettings | None,
                         language: str, after: Cursor | None = None) -> tuple[list[dict[str, Any]], Cursor | None]:
    """What the panel shows of a dialog (after `after`), oldest first, and the cursor of the last one read.
    Plain text only: the panel renders it with textContent (a tiny markdown subset for answers)."""
    query = sa.select(Message).where(Message.dialog_id == dialog_id, Message.role.in_(PANEL_ROLES))
    if after is not None:
        query = query.where(sa.tuple_(Message.created_at, Message.id) > sa.tuple_(after.created_at, after.id))
    query = query.order_by(Message.created_at.desc(), Message.id.desc()).limit(HISTORY_LIMIT)
    rows = list(reversed((await session.execute(query)).scalars().all()))
    cursor = Cursor(rows[-1].created_at, rows[-1].id) if rows else after
    user_ids = [m.id for m in rows if m.role == "user"]
    client_ids = dict((await session.execute(
        sa.select(WidgetClientMessage.message_id, WidgetClientMessage.client_message_id)
        .where(WidgetClientMessage.dialog_id == dialog_id, WidgetClientMessage.message_id.in_(user_ids)))).all()
    ) if user_ids else {}
    shown = []
    for message in rows:
        item = await _panel_message(session, message, widget, language)
        if item is not None:
            if message.id in client_ids:  # the panel matches it with the message it showed while sending
                item["client_id"] = client_ids[message.id]
            shown.append(item)
    return shown, cursor


async def _panel_message(session: AsyncSession, message: Message, widget: WidgetSettings | None,
                         language: str) -> dict[str, Any] | None:
    item: dict[str, Any] = {"id": str(message.id), "role": message.role, "text": message.text}
    if message.role == "system":
        if message.text not in VISITOR_NOTICES:
            return None
        name = await operator_name(session, widget, message.operator_id, language)
        item["text"] = text(language, f"widget_panel_{message.text}", name=name)
    elif message.role == "operator":
        item["name"] = await operator_name(session, widget, message.operator_id, language)
    elif message.role == "assistant" and (widget is None or widget.show_sources):
        item["sources"] = panel_sources(message.sources)
    return item


def panel_sources(sources: list[dict[str, Any]] | None) -> list[str]:
    """Document names (and sections) only: never the passages themselves."""
    names: list[str] = []
    for source in sources or []:
        label = str(source.get("document") or "")
        if source.get("section"):
            label = f"{label} · {source['section']}"
        if label and label not in names:
            names.append(label[:200])
    return names[:5]


async def forget_client_message(session: AsyncSession, *, dialog_id: uuid.UUID, client_message_id: str) -> None:
    """A message refused before it was stored (a limit): its retry must not count as a duplicate. Commits."""
    await session.execute(sa.delete(WidgetClientMessage).where(
        WidgetClientMessage.dialog_id == dialog_id, WidgetClientMessage.client_message_id == client_message_id,
        WidgetClientMessage.message_id.is_(None)))
    await session.commit()


async def user_message_id(session: AsyncSession, *, dialog_id: uuid.UUID, at: datetime) -> uuid.UUID | None:
    """The id of the visitor's message the conversation service stored at `at` (its turn's received_at)."""
    return (await session.execute(sa.select(Message.id).where(
        Message.dialog_id == dialog_id, Message.role == "user", Message.created_at == at)
        .order_by(Message.id).limit(1))).scalar_one_or_none()
