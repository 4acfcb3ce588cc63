"""Telegram conversations in the database: the persistence half of "exactly one answer per message".

The guarantee and its crash windows (Telegram delivers at least once; we make processing idempotent):

1. `record_incoming` inserts TelegramUpdate(bot_id, update_id) ON CONFLICT DO NOTHING, the Dialog
   and the user Message in ONE transaction. A re-delivered update (webhook retry, poll offset not yet
   confirmed, a second runner during a lease hand-over) inserts nothing and is ignored. The polling
   runner confirms an offset to Telegram only after this commit, so a crash before it loses nothing:
   Telegram re-delivers.
2. The answer is computed and saved (`save_reply`, assistant Message carrying the same update id)
   BEFORE it is sent. A crash after this and before sending: the restarted runner finds the update still
   'received' (`load_pending`) and resends the saved text, without paying for the model again.
3. `mark_answered` runs right after Telegram accepted sendMessage. The one window left: the process
   dies between Telegram's 200 and this commit (milliseconds); then the answer is sent again after
   restart. Telegram's sendMessage has no idempotency key, so at-least-once is the best possible there;
   everything else is exactly once.

The caller owns the session, as everywhere in services.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Dialog, Message, TelegramUpdate, utcnow

log = logging.getLogger(__name__)

HISTORY_LIMIT = 10
HUMAN_STATUSES = ("human", "waiting")
DIALOG_EVENTS_CHANNEL = "chatai:dialogs"  # {"type": "message", "dialog_id", "owner_id", "role"}
NON_TEXT_KINDS = ("photo", "voice", "video", "video_note", "audio", "document", "sticker", "animation",
                  "location", "contact", "poll", "other")
_NON_TEXT = re.compile(r"^\[(" + "|".join(NON_TEXT_KINDS) + r")\]$")


@dataclass
class Incoming:
    """One Telegram message reduced to what we keep. kind: text | start | unsupported | none."""

    update_id: int
    kind: str
    chat_id: int = 0
    user_id: int | None = None
    user_name: str = ""
    language: str = ""
    message_id: int | None = None
    text: str = ""


@dataclass
class SavedReply:
    message_id: uuid.UUID
    text: str
    answered_by: str
    sources: list[dict[str, Any]]


@dataclass
class Pending:
    """An update that is persisted and still owes the user an answer (or was muted by a handoff)."""

    bot_id: uuid.UUID
    update_id: int
    dialog_id: uuid.UUID
    owner_id: uuid.UUID
    chat_id: int
    kind: str
    text: str
    language: str
    telegram_message_id: int | None
    received_at: datetime
    history: list[tuple[str, str]] = field(default_factory=list)
    ai_muted: bool = False
    saved_reply: SavedReply | None = None


def kind_of_text(text: str) -> str:
    """Recovery re-derives what an update was from the stored user message."""
    if text.startswith("/start"):
        return "start"
    if _NON_TEXT.match(text):
        return "unsupported"
    return "text"


async def _history(session: AsyncSession, dialog_id: uuid.UUID, before: datetime | None,
                   limit: int) -> list[tuple[str, str]]:
    query = sa.select(Message.role, Message.text).where(Message.dialog_id == dialog_id)
    if before is not None:
        query = query.where(Message.created_at < before)
    rows = (await session.execute(query.order_by(Message.created_at.desc()).limit(limit))).all()
    return [(role, text) for role, text in reversed(rows) if role in ("user", "assistant", "operator")]


async def record_incoming(session: AsyncSession, *, bot_id: uuid.UUID, owner_id: uuid.UUID,
                          assistant_id: uuid.UUID, incoming: Sequence[Incoming],
                          history_limit: int = HISTORY_LIMIT) -> list[Pending]:
    """Persist a batch of updates in one transaction; returns only the new ones (duplicates dropped)."""
    pending: list[Pending] = []
    now = utcnow()
    for item in incoming:
        inserted = await session.execute(
            pg_insert(TelegramUpdate)
            .values(bot_id=bot_id, update_id=item.update_id, status="received" if item.kind != "none" else "ignored",
                    received_at=now)
            .on_conflict_do_nothing()
            .returning(TelegramUpdate.update_id)
        )
        if inserted.scalar() is None or item.kind == "none":
            continue
        dialog_row = (await session.execute(
            pg_insert(Dialog)
            .values(id=uuid.uuid4(), bot_id=bot_id, assistant_id=assistant_id, owner_id=owner_id, channel="telegram",
                    telegram_chat_id=item.chat_id, telegram_user_id=item.user_id, user_name=item.user_name[:255],
                    user_language=item.language[:16], status="ai", cost_micros=0, last_message_at=now,
                    created_at=now)
            .on_conflict_do_update(
                constraint="uq_dialogs_bot_chat",
                set_={"last_message_at": now, "user_name": item.user_name[:255] or Dialog.user_name,
                      "user_language": item.language[:16] or Dialog.user_language},
            )
            .returning(Dialog.id, Dialog.status)
        )).one()
        dialog_id, status = dialog_row
        history = await _history(session, dialog_id, None, history_limit)
        await session.execute(sa.insert(Message).values(
            id=uuid.uuid4(), dialog_id=dialog_id, role="user", text=item.text, telegram_message_id=item.message_id,
            telegram_update_id=item.update_id, answered_by="", prompt_tokens=0, completion_tokens=0, cost_micros=0,
            sources=[], needs_handoff=False, created_at=now,
        ))
        muted = status in HUMAN_STATUSES
        if muted:  # a person handles this chat: keep the message, do not answer with AI
            await session.execute(_set_status(bot_id, item.update_id, "ignored"))
        pending.append(Pending(bot_id=bot_id, update_id=item.update_id, dialog_id=dialog_id, owner_id=owner_id,
                               chat_id=item.chat_id, kind=item.kind, text=item.text, language=item.language,
                               telegram_message_id=item.message_id, received_at=now, history=history,
                               ai_muted=muted))
    await session.commit()
    return pending


def _set_status(bot_id: uuid.UUID, update_id: int, status: str, answered: bool = False) -> Any:
    values: dict[str, Any] = {"status": status}
    if answered:
        values["answered_at"] = utcnow()
    return (sa.update(TelegramUpdate)
            .where(TelegramUpdate.bot_id == bot_id, TelegramUpdate.update_id == update_id)
            .values(**values))


async def load_pending(session: AsyncSession, *, bot_id: uuid.UUID, update_ids: Sequence[int] | None = None,
                       history_limit: int = HISTORY_LIMIT) -> list[Pending]:
    """Updates persisted but not answered (a runner died mid-answer, or a webhook delivered them)."""
    user_msg = aliased(Message)
    reply = aliased(Message)
    query = (
        sa.select(TelegramUpdate.update_id, TelegramUpdate.received_at, user_msg.id, user_msg.text,
                  user_msg.telegram_message_id, user_msg.created_at, Dialog.id, Dialog.owner_id,
                  Dialog.telegram_chat_id, Dialog.user_language, Dialog.status,
                  reply.id, reply.text, reply.answered_by, reply.sources)
        .join(Dialog, Dialog.bot_id == TelegramUpdate.bot_id)
        .join(user_msg, sa.and_(user_msg.dialog_id == Dialog.id, user_msg.role == "user",
                                user_msg.telegram_update_id == TelegramUpdate.update_id))
        .outerjoin(reply, sa.and_(reply.dialog_id == Dialog.id, reply.role == "assistant",
                                  reply.telegram_update_id == TelegramUpdate.update_id))
        .where(TelegramUpdate.bot_id == bot_id, TelegramUpdate.status == "received")
        .order_by(TelegramUpdate.update_id)
    )
    if update_ids is not None:
        query = query.where(TelegramUpdate.update_id.in_(list(update_ids)))
    result: list[Pending] = []
    for row in (await session.execute(query)).all():
        (update_id, received_at, _msg_id, text, tg_msg_id, created_at, dialog_id, owner_id, chat_id, language,
         status, reply_id, reply_text, reply_by, reply_sources) = row
        muted = status in HUMAN_STATUSES
        if muted:
            await session.execute(_set_status(bot_id, update_id, "ignored"))
        saved = SavedReply(reply_id, reply_text, reply_by, reply_sources or []) if reply_id else None
        result.append(Pending(
            bot_id=bot_id, update_id=update_id, dialog_id=dialog_id, owner_id=owner_id, chat_id=chat_id or 0,
            kind=kind_of_text(text), text=text, language=language or "", telegram_message_id=tg_msg_id,
            received_at=received_at, history=await _history(session, dialog_id, created_at, history_limit),
            ai_muted=muted, saved_reply=saved,
        ))
    await session.commit()
    return result


async def pending_update_ids(session: AsyncSession, *, bot_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[int]]:
    """One cheap query (partial index on status='received') for the periodic recovery sweep."""
    if not bot_ids:
        return {}
    rows = await session.execute(
        sa.select(TelegramUpdate.bot_id, TelegramUpdate.update_id)
        .where(TelegramUpdate.status == "received", TelegramUpdate.bot_id.in_(list(bot_ids)))
    )
    found: dict[uuid.UUID, list[int]] = {}
    for bot_id, update_id in rows.all():
        found.setdefault(bot_id, []).append(update_id)
    return found


async def save_reply(session: AsyncSession, *, pending: Pending, text: str, answered_by: str,
                     sources: list[dict[str, Any]] | None = None, prompt_tokens: int = 0, completion_tokens: int = 0,
                     needs_handoff: bool = False) -> uuid.UUID:
    """Store the answer before sending it, so a crash never costs a second model call.

    Committed without waiting for the WAL flush: if the database itself crashed in that instant, the
    only loss is this saved copy (the answer is produced again); the update row is still 'received'.
    """
    reply_id = uuid.uuid4()
    await session.execute(_ASYNC_COMMIT)
    await session.execute(sa.insert(Message).values(
        id=reply_id, dialog_id=pending.dialog_id, role="assistant", text=text, telegram_update_id=pending.update_id,
        answered_by=answered_by[:16], prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
        cost_micros=0, sources=sources or [], needs_handoff=needs_handoff, created_at=utcnow(),
    ))
    await session.commit()
    return reply_id


async def mark_answered(session: AsyncSession, *, bot_id: uuid.UUID, update_id: int, reply_id: uuid.UUID,
                        telegram_message_id: int | None, latency_ms: int | None, dialog_id: uuid.UUID) -> None:
    """One round trip, asynchronous commit: a database crash in the next ~0.2 s could at worst cause one
    repeated answer, the same window as a runner crash between sendMessage and this call."""
    await session.execute(_ASYNC_COMMIT)
    await session.execute(_MARK_ANSWERED, {"tm": telegram_message_id, "lat": latency_ms, "rid": reply_id,
                                           "did": dialog_id, "bot": bot_id, "upd": update_id})
    await session.commit()


_ASYNC_COMMIT = sa.text("SET LOCAL synchronous_commit TO OFF")
_MARK_ANSWERED = sa.text("""
    WITH m AS (UPDATE messages SET telegram_message_id = :tm, latency_ms = :lat WHERE id = :rid),
         d AS (UPDATE dialogs SET last_message_at = now() WHERE id = :did)
    UPDATE telegram_updates SET status = 'answered', answered_at = now() WHERE bot_id = :bot AND update_id = :upd
""")


async def mark_ignored(session: AsyncSession, *, bot_id: uuid.UUID, update_id: int) -> None:
    """No answer will ever be possible (the user blocked the bot, the chat is gone)."""
    await session.execute(_set_status(bot_id, update_id, "ignored"))
    await session.commit()


async def publish_dialog_event(*, dialog_id: uuid.UUID, owner_id: uuid.UUID, role: str) -> None:
    """Best effort nudge for live views (inbox); the database stays the truth."""
    import json

    from chatai.cache import get_redis

    try:
        await get_redis().publish(DIALOG_EVENTS_CHANNEL, json.dumps(
            {"type": "message", "dialog_id": str(dialog_id), "owner_id": str(owner_id), "role": role}))
    except Exception:  # noqa: BLE001 - a missed nudge only delays a live view
        log.debug("dialog event not published", exc_info=True)
