"""Sending what a person or a handoff said to the end user: the messages written 'pending' by services/handoff.py
(operator replies, the notices of release and timeout) are sent by the runner owning the dialog's bot
(bots/operator.py), then marked sent, or failed with a sentence the owner reads; any runner fails what no
runner will ever send (a stopped bot, DELIVERY_DEADLINE passed). See handoff.py's doc for the whole story.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.id_arrays import any_of
from chatai.db.models import Dialog, Message, User, utcnow
from chatai.services.handoff import DELIVERY_DEADLINE, message_event


@dataclass(frozen=True)
class Outgoing:
    """A message to send to an end user (an operator reply or a handoff notice)."""

    message_id: uuid.UUID
    dialog_id: uuid.UUID
    owner_id: uuid.UUID
    bot_id: uuid.UUID
    chat_id: int
    role: str
    text: str
    business_connection_id: str = ""  # a business chat: sent through the owner's account


_PENDING = sa.text("messages.delivery_status = 'pending'")  # a literal: the partial index's own predicate


async def pending_outgoing(session: AsyncSession, *, bot_ids: list[uuid.UUID], dialog_id: uuid.UUID | None = None,
                           limit: int = 500) -> list[Outgoing]:
    """Messages still to send for these bots, oldest first (ix_messages_delivery_pending)."""
    query = (sa.select(Message.id, Message.dialog_id, Dialog.owner_id, Dialog.bot_id, Dialog.telegram_chat_id,
                       Message.role, Message.text, Dialog.business_connection_id)
             .join(Dialog, Dialog.id == Message.dialog_id)
             .where(_PENDING, any_of(Dialog.bot_id, bot_ids))
             .order_by(Message.created_at).limit(limit))
    if dialog_id is not None:
        query = query.where(Message.dialog_id == dialog_id)
    rows = (await session.execute(query)).all()
    await session.rollback()
    return [Outgoing(r[0], r[1], r[2], r[3], int(r[4] or 0), r[5], r[6], r[7] or "") for r in rows]


async def mark_sent(session: AsyncSession, *, message_id: uuid.UUID, telegram_message_id: int) -> None:
    await session.execute(sa.update(Message).where(Message.id == message_id).values(
        delivery_status="sent", delivery_error="", telegram_message_id=telegram_message_id))
    await session.commit()


_FAILURE_KEYS = {"blocked": "handoff_delivery_blocked", "bot_stopped": "handoff_delivery_bot_stopped",
                 "too_late": "handoff_delivery_too_late"}


async def _owner_locale(session: AsyncSession, dialog_id: uuid.UUID) -> str:
    locale = await session.scalar(sa.select(User.locale).join(Dialog, Dialog.owner_id == User.id)
                                  .where(Dialog.id == dialog_id))
    return locale or "en"


def failure_sentence(reason: str, locale: str) -> str:
    """Why a message was not delivered, as a sentence in the owner's language (texts/handoff.py)."""
    from chatai.web.i18n import text

    return text(locale, _FAILURE_KEYS[reason])


async def mark_failed(session: AsyncSession, *, message_id: uuid.UUID, dialog_id: uuid.UUID, reason: str) -> bool:
    """'pending' -> 'failed' with the reason (a key of _FAILURE_KEYS); False if it was no longer pending."""
    error = failure_sentence(reason, await _owner_locale(session, dialog_id))
    result = await session.execute(sa.update(Message).where(Message.id == message_id,
                                                            Message.delivery_status == "pending")
                                   .values(delivery_status="failed", delivery_error=error))
    await session.commit()
    return bool(result.rowcount)


_STRANDED = sa.text("""
    SELECT m.id, m.dialog_id, d.owner_id, m.role,
           CASE WHEN b.id IS NULL OR b.desired_state <> 'running' THEN 'bot_stopped' ELSE 'too_late' END
    FROM messages m JOIN dialogs d ON d.id = m.dialog_id LEFT JOIN bots b ON b.id = d.bot_id
    WHERE m.delivery_status = 'pending'
      AND (b.id IS NULL OR b.desired_state <> 'running' OR m.created_at < :deadline)
    LIMIT 500
""")


async def fail_stranded(session: AsyncSession, *, now: datetime | None = None) -> list[dict[str, str]]:
    """Messages that no runner will send: their bot was stopped or disconnected, or they waited past
    DELIVERY_DEADLINE (no runner owns the bot, Telegram unreachable). Any runner may do this (conditional
    update). Returns the live events to publish."""
    rows = (await session.execute(_STRANDED, {"deadline": (now or utcnow()) - DELIVERY_DEADLINE})).all()
    await session.rollback()
    events = []
    for message_id, dialog_id, owner_id, role, reason in rows:
        if await mark_failed(session, message_id=message_id, dialog_id=dialog_id, reason=reason):
            events.append(message_event(dialog_id=dialog_id, owner_id=owner_id, role=role, message_id=message_id,
                                        delivery_status="failed"))
    return events
