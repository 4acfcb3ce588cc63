"""Telegram conversations in the database: the persistence half of "exactly one answer per message".

The guarantee and its crash windows (Telegram delivers at least once; we make processing idempotent):

1. `record_incoming` inserts TelegramUpdate(bot_id, update_id) ON CONFLICT DO NOTHING, the Dialog
   and the user Message in ONE statement (one transaction, one round trip, synchronous commit). A
   re-delivered update (webhook retry, poll offset not yet confirmed, a second runner during a lease
   hand-over) inserts nothing and is ignored. The polling runner confirms an offset to Telegram only
   after this commit, so a crash before it loses nothing: Telegram re-delivers.
2. The answer is computed and saved (`save_reply`, assistant Message carrying the same update id)
   BEFORE it is sent. A crash after this and before sending: the restarted runner finds the update still
   'received' (`load_pending`) and resends the saved text, without paying for the model again.
3. `mark_answered` runs after Telegram accepted sendMessage; the runner starts writing the mark as soon as
   the send returns, marks arriving during a write going together in the next statement (bots/writeback.py).
   The one window left: the process dies between Telegram's 200 and that commit (about one round trip);
   then the answer is sent again after restart.
   Telegram's sendMessage has no idempotency key, so at-least-once is the best possible there;
   everything else is exactly once.
4. An update that keeps failing (it cannot be stored, or answering it keeps raising) is marked 'failed'
   (`mark_failed`) after a few attempts, so one poison message never holds up a bot's other customers.
   Every text from Telegram goes through `textsafe.db_safe` first: U+0000 or a lone surrogate in a
   message or a name used to make its statement fail every time.

The caller owns the connection or session, as everywhere in services. The hot-path writes
(`record_incoming`, `save_reply`, `mark_answered`, `mark_ignored`) are single statements meant for an
AUTOCOMMIT connection: no BEGIN/COMMIT round trips, no ORM objects.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Dialog, Message, TelegramUpdate, utcnow
from chatai.textsafe import db_safe

log = logging.getLogger(__name__)

HISTORY_LIMIT = 10
HUMAN_STATUSES = ("human", "waiting")
_HISTORY_ROLES = ("user", "assistant", "operator")
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
    username: str = ""  # Telegram @username, without the @ (the inbox's customer card)
    language: str = ""
    message_id: int | None = None
    text: str = ""
    channel: str = "telegram"  # or "business": a chat of the owner's own account (chatai/business)
    business_connection_id: str = ""


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
    resumed: bool = False  # a question a zero balance left waiting, handed back after a top-up (topup_resume.py)
    channel: str = "telegram"  # "business": answered through the owner's account (bots/business.py)
    business_connection_id: str = ""


def kind_of_text(text: str) -> str:
    """Recovery re-derives what an update was from the stored user message."""
    if text.startswith("/start"):
        return "start"
    if _NON_TEXT.match(text):
        return "unsupported"
    return "text"


async def _history(session: AsyncSession, dialog_id: uuid.UUID, before: datetime | None,
                   limit: int) -> list[tuple[str, str]]:
    # Not what never reached the user (an operator reply that failed: handoff.py).
    query = sa.select(Message.role, Message.text).where(Message.dialog_id == dialog_id,
                                                        Message.delivery_status != "failed")
    if before is not None:
        query = query.where(Message.created_at < before)
    rows = (await session.execute(query.order_by(Message.created_at.desc()).limit(limit))).all()
    return [(role, text) for role, text in reversed(rows) if role in _HISTORY_ROLES]


# One round trip per incoming update, committed on its own (autocommit connection): the update row
# (ON CONFLICT DO NOTHING: a re-delivery inserts nothing and returns no row), the dialog upsert, the user
# message and the history the answer needs. Data-modifying CTEs all see the snapshot taken before the
# statement, so the history query excludes the message inserted here, exactly as before. Casts: the
# SELECT lists give PostgreSQL no column type to infer NULL parameters from.
_RECORD_INCOMING = sa.text("""
    WITH u AS (
        INSERT INTO telegram_updates (bot_id, update_id, status, received_at)
        VALUES (:bot, :upd, 'received', :now)
        ON CONFLICT DO NOTHING
        RETURNING update_id
    ), d AS (
        INSERT INTO dialogs AS dl (id, bot_id, assistant_id, owner_id, channel, business_connection_id,
                                   telegram_chat_id, telegram_user_id, user_name, user_username, user_language,
                                   status, cost_micros, last_message_at, created_at)
        SELECT :did, :bot, :aid, :owner, :channel, :bconn, CAST(:chat AS bigint), CAST(:uid AS bigint),
               :uname, :handle, :lang, 'ai', 0, :now, :now
        FROM u
        ON CONFLICT ON CONSTRAINT uq_dialogs_bot_chat DO UPDATE
            SET last_message_at = EXCLUDED.last_message_at,
                user_name = COALESCE(NULLIF(EXCLUDED.user_name, ''), dl.user_name),
                user_username = EXCLUDED.user_username,
                user_language = COALESCE(NULLIF(EXCLUDED.user_language, ''), dl.user_language)
        RETURNING dl.id, dl.status
    ), m AS (
        INSERT INTO messages (id, dialog_id, role, text, telegram_message_id, telegram_update_id, answered_by,
                              prompt_tokens, completion_tokens, cost_micros, sources, needs_handoff, created_at)
        SELECT :mid, d.id, 'user', :text, CAST(:tmid AS bigint), :upd, '', 0, 0, 0, '[]'::jsonb, false, :now
        FROM d
    )
    SELECT d.id, d.status,
           (SELECT coalesce(json_agg(json_build_array(h.role, h.text) ORDER BY h.created_at), '[]'::json)
              FROM (SELECT role, text, created_at FROM messages WHERE dialog_id = d.id AND delivery_status <> 'failed'
                    ORDER BY created_at DESC LIMIT :hl) h) AS history
    FROM d
""")
_RECORD_IGNORED = sa.text("""
    INSERT INTO telegram_updates (bot_id, update_id, status, received_at) VALUES (:bot, :upd, 'ignored', :now)
    ON CONFLICT DO NOTHING
""")


async def record_incoming(conn: AsyncConnection, *, bot_id: uuid.UUID, owner_id: uuid.UUID,
                          assistant_id: uuid.UUID, incoming: Sequence[Incoming],
                          history_limit: int = HISTORY_LIMIT) -> list[Pending]:
    """Persist updates, one statement (one round trip, one synchronous commit) each, on an AUTOCOMMIT
    connection; returns only the new ones (duplicates dropped). Each update is atomic on its own, which
    is all the guarantee needs: a crash between two of them leaves the rest to Telegram's re-delivery."""
    pending: list[Pending] = []
    for item in incoming:
        now = utcnow()
        if item.kind == "none":  # edited messages, member updates...: recorded, never answered
            await conn.execute(_RECORD_IGNORED, {"bot": bot_id, "upd": item.update_id, "now": now})
            continue
        text, language = db_safe(item.text), db_safe(item.language)[:16]
        row = (await conn.execute(_RECORD_INCOMING, {
            "bot": bot_id, "upd": item.update_id, "now": now, "did": uuid.uuid4(), "aid": assistant_id,
            "owner": owner_id, "chat": item.chat_id, "uid": item.user_id, "uname": db_safe(item.user_name)[:255],
            "handle": db_safe(item.username)[:64],
            "lang": language, "mid": uuid.uuid4(), "text": text, "tmid": item.message_id, "hl": history_limit,
            "channel": item.channel, "bconn": item.business_connection_id,
        })).first()
        if row is None:  # a re-delivery: already stored (and answered or being answered)
            continue
        dialog_id, status, history = row
        muted = status in HUMAN_STATUSES
        if muted:  # a person handles this chat: keep the message, do not answer with AI
            # A crash before this statement leaves the update 'received': load_pending mutes it then.
            await conn.execute(_set_status(bot_id, item.update_id, "ignored"))
        pending.append(Pending(bot_id=bot_id, update_id=item.update_id, dialog_id=dialog_id, owner_id=owner_id,
                               chat_id=item.chat_id, kind=item.kind, text=text, language=language,
                               telegram_message_id=item.message_id, received_at=now,
                               history=[(r, t) for r, t in history if r in _HISTORY_ROLES], ai_muted=muted,
                               channel=item.channel, business_connection_id=item.business_connection_id))
    return pending


def _set_status(bot_id: uuid.UUID, update_id: int, status: str, answered: bool = False) -> Any:
    values: dict[str, Any] = {"status": status}
    if answered:
        values["answered_at"] = utcnow()
    return (sa.update(TelegramUpdate)
            .where(TelegramUpdate.bot_id == bot_id, TelegramUpdate.update_id == update_id)
            .values(**values))


RESUMED_EVENT = "balance_resumed"  # the system notice of a dialog handed back to the AI after a top-up


def _resumed_after(user_msg: Any) -> Any:
    """Whether the dialog was handed back after a top-up since this message arrived (rare: recovery only)."""
    notice = aliased(Message)
    return sa.exists().where(notice.dialog_id == user_msg.dialog_id, notice.role == "system",
                             notice.text == RESUMED_EVENT, notice.created_at > user_msg.created_at)


async def load_pending(session: AsyncSession, *, bot_id: uuid.UUID, update_ids: Sequence[int] | None = None,
                       history_limit: int = HISTORY_LIMIT) -> list[Pending]:
    """Updates persisted but not answered (a runner died mid-answer, or a webhook delivered them)."""
    user_msg = aliased(Message)
    reply = aliased(Message)
    query = (
        sa.select(TelegramUpdate.update_id, TelegramUpdate.received_at, user_msg.id, user_msg.text,
                  user_msg.telegram_message_id, user_msg.created_at, Dialog.id, Dialog.owner_id,
                  Dialog.telegram_chat_id, Dialog.user_language, Dialog.status,
                  reply.id, reply.text, reply.answered_by, reply.sources, _resumed_after(user_msg),
                  Dialog.channel, Dialog.business_connection_id)
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
         status, reply_id, reply_text, reply_by, reply_sources, resumed, channel, connection_id) = row
        # A reply saved before the dialog went to a person (the handoff notice itself) is still sent.
        muted = status in HUMAN_STATUSES and reply_id is None
        if muted:
            await session.execute(_set_status(bot_id, update_id, "ignored"))
        saved = SavedReply(reply_id, reply_text, reply_by, reply_sources or []) if reply_id else None
        result.append(Pending(
            bot_id=bot_id, update_id=update_id, dialog_id=dialog_id, owner_id=owner_id, chat_id=chat_id or 0,
            kind=kind_of_text(text), text=text, language=language or "", telegram_message_id=tg_msg_id,
            received_at=received_at, history=await _history(session, dialog_id, created_at, history_limit),
            ai_muted=muted, saved_reply=saved, resumed=bool(resumed), channel=channel,
            business_connection_id=connection_id or "",
        ))
    await session.commit()
    return result


# synchronous_commit is read when the transaction commits, so setting it transaction-locally inside the
# statement makes a single autocommit statement commit asynchronously: one round trip, no WAL-flush wait.
ASYNC_COMMIT = "WITH async_commit AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))"
_SAVE_REPLY = sa.text(ASYNC_COMMIT + """
    INSERT INTO messages (id, dialog_id, role, text, telegram_update_id, answered_by, prompt_tokens,
                          completion_tokens, cost_micros, sources, needs_handoff, created_at)
    SELECT :id, :did, 'assistant', :text, :upd, :by, :pt, :ct, 0, CAST(:sources AS jsonb), :handoff, :now
    FROM async_commit
    RETURNING (SELECT status FROM dialogs WHERE id = :did)
""")


async def save_reply(conn: AsyncConnection, *, pending: Pending, text: str, answered_by: str,
                     sources: list[dict[str, Any]] | None = None, prompt_tokens: int = 0, completion_tokens: int = 0,
                     needs_handoff: bool = False) -> tuple[uuid.UUID, bool]:
    """Store the answer before sending it, so a crash never costs a second model call (autocommit
    connection, one round trip). Returns the reply's id and whether a person holds the dialog as it is
    saved (`held_by_person`, read in the same statement: the answer path asks both, one after the other, and
    a round trip fewer is a few ms less before every answer is sent).

    Committed without waiting for the WAL flush: if the database itself crashed in that instant, the
    only loss is this saved copy (the answer is produced again); the update row is still 'received'.
    """
    reply_id = uuid.uuid4()
    status = (await conn.execute(_SAVE_REPLY, {
        "id": reply_id, "did": pending.dialog_id, "text": text, "upd": pending.update_id, "by": answered_by[:16],
        "pt": prompt_tokens, "ct": completion_tokens, "sources": json.dumps(sources or [], default=str),
        "handoff": needs_handoff, "now": utcnow(),
    })).scalar()
    return reply_id, status in HUMAN_STATUSES


@dataclass
class AnsweredMark:
    """sendMessage succeeded for this update: what mark_answered writes."""

    bot_id: uuid.UUID
    update_id: int
    reply_id: uuid.UUID
    telegram_message_id: int | None
    latency_ms: int | None
    dialog_id: uuid.UUID


_MARK_ANSWERED = sa.text(ASYNC_COMMIT + """,
    v AS MATERIALIZED (SELECT * FROM async_commit,
                       jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(bot uuid, upd bigint, rid uuid, tm bigint,
                                                                    lat int, did uuid)),
    m AS (UPDATE messages SET telegram_message_id = v.tm, latency_ms = v.lat FROM v WHERE messages.id = v.rid),
    d AS (UPDATE dialogs SET last_message_at = now() FROM v WHERE dialogs.id = v.did)
    UPDATE telegram_updates t SET status = 'answered', answered_at = now()
    FROM v WHERE t.bot_id = v.bot AND t.update_id = v.upd
""")


async def mark_answered(conn: AsyncConnection, marks: Sequence[AnsweredMark]) -> None:
    """Mark a batch answered in one statement (autocommit connection), committed asynchronously: a
    database crash right after could at worst cause repeated answers, the same window as a runner crash
    between sendMessage and this call."""
    if not marks:
        return
    rows = [{"bot": str(m.bot_id), "upd": m.update_id, "rid": str(m.reply_id), "tm": m.telegram_message_id,
             "lat": m.latency_ms, "did": str(m.dialog_id)} for m in marks]
    await conn.execute(_MARK_ANSWERED, {"rows": json.dumps(rows)})


async def held_by_person(conn: AsyncConnection, *, dialog_id: uuid.UUID) -> bool:
    """Whether a person holds the dialog or was asked for (the AI must stay silent). Autocommit connection."""
    status = (await conn.execute(sa.select(Dialog.status).where(Dialog.id == dialog_id))).scalar()
    return status in HUMAN_STATUSES


async def mark_ignored(conn: AsyncConnection, *, bot_id: uuid.UUID, update_id: int) -> None:
    """No answer will ever be possible (the user blocked the bot, the chat is gone). Autocommit connection."""
    await conn.execute(_set_status(bot_id, update_id, "ignored"))


# An update that could not even be stored has no row yet; one that failed while being answered has one.
_MARK_FAILED = sa.text("""
    INSERT INTO telegram_updates (bot_id, update_id, status, received_at) VALUES (:bot, :upd, 'failed', :now)
    ON CONFLICT (bot_id, update_id) DO UPDATE SET status = 'failed'
""")


async def mark_failed(conn: AsyncConnection, *, bot_id: uuid.UUID, update_id: int) -> None:
    """Give up on an update that failed too often (a poison message): never retried, never re-answered, and a
    re-delivery of it is deduplicated like any other. Autocommit connection."""
    await conn.execute(_MARK_FAILED, {"bot": bot_id, "upd": update_id, "now": utcnow()})


async def publish_dialog_event(*, dialog_id: uuid.UUID, owner_id: uuid.UUID, role: str) -> None:
    """Best effort nudge for live views (inbox); the database stays the truth."""
    from chatai.cache import get_redis

    try:
        await get_redis().publish(DIALOG_EVENTS_CHANNEL, json.dumps(
            {"type": "message", "dialog_id": str(dialog_id), "owner_id": str(owner_id), "role": role}))
    except Exception:  # noqa: BLE001 - a missed nudge only delays a live view
        log.debug("dialog event not published", exc_info=True)
