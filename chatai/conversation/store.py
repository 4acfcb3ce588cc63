"""The store step for channels that are not a Telegram bot (the playground today; the widget's web channel
next): a dialog per customer of a channel, the customer's message and the history the answer needs.

A Telegram bot stores its updates in one idempotent statement keyed by the update id
(services/dialogs.record_incoming, called by the runner before it confirms the update to Telegram); here a
message arrives once per call (the widget deduplicates its client message ids before calling).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.conversation.channel import CHANNELS
from chatai.db.models import Assistant, Dialog, Message, utcnow
from chatai.services.dialogs import HISTORY_LIMIT, HUMAN_STATUSES, Pending, kind_of_text
from chatai.textsafe import db_safe

MAX_TEXT_CHARS = 4000


class NotYours(LookupError):
    """No such assistant or dialog for this owner: callers say "not found", never whose it is."""


async def latest_dialog(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID,
                        channel: str) -> Dialog | None:
    """The owner's latest dialog of this assistant on a channel of their own (the playground), if any."""
    return (await session.execute(
        sa.select(Dialog).where(Dialog.owner_id == owner_id, Dialog.assistant_id == assistant_id,
                                Dialog.channel == channel)
        .order_by(Dialog.created_at.desc()).limit(1))).scalars().first()


async def open_dialog(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID, channel: str,
                      user_name: str = "", language: str = "", fresh: bool = False) -> Dialog:
    """The owner's latest dialog of this assistant on a channel of their own (the playground), or a new one
    when there is none or `fresh` (the playground's "new conversation"). Commits."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    assistant = await session.get(Assistant, assistant_id)
    if assistant is None or assistant.owner_id != owner_id:
        raise NotYours(str(assistant_id))
    if not fresh:
        found = await latest_dialog(session, owner_id=owner_id, assistant_id=assistant_id, channel=channel)
        if found is not None:
            return found
    now = utcnow()
    dialog = Dialog(assistant_id=assistant_id, owner_id=owner_id, channel=channel, user_name=db_safe(user_name)[:255],
                    user_language=db_safe(language)[:16], status="ai", last_message_at=now, created_at=now,
                    owner_read_at=now)
    session.add(dialog)
    await session.commit()
    return dialog


async def record_turn(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID, channel: str,
                      dialog_id: uuid.UUID, text: str, language: str = "",
                      history_limit: int = HISTORY_LIMIT) -> Pending:
    """The customer's message stored in the owner's dialog of this assistant and channel (commits), as the
    pipeline's turn with the recent history; muted when a person holds the dialog or was asked for."""
    dialog = (await session.execute(sa.select(Dialog).where(
        Dialog.id == dialog_id, Dialog.owner_id == owner_id, Dialog.assistant_id == assistant_id,
        Dialog.channel == channel).with_for_update())).scalars().first()
    if dialog is None:
        raise NotYours(str(dialog_id))
    text = db_safe(text).strip()[:MAX_TEXT_CHARS]
    rows = (await session.execute(
        sa.select(Message.role, Message.text).where(Message.dialog_id == dialog_id, Message.delivery_status != "failed",
                                                    Message.role.in_(("user", "assistant", "operator")))
        .order_by(Message.created_at.desc()).limit(history_limit))).all()
    now = utcnow()
    session.add(Message(dialog_id=dialog_id, role="user", text=text, created_at=now))
    dialog.last_message_at = now
    if language:
        dialog.user_language = db_safe(language)[:16]
    session.add(dialog)
    muted = dialog.status in HUMAN_STATUSES
    turn = Pending(bot_id=None, update_id=None, dialog_id=dialog_id, owner_id=owner_id, chat_id=0,  # type: ignore[arg-type]
                   kind=kind_of_text(text), text=text, language=dialog.user_language, telegram_message_id=None,
                   received_at=now, history=[(r, t) for r, t in reversed(rows)], ai_muted=muted)
    await session.commit()
    return turn
