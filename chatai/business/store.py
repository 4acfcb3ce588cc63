"""What a Telegram Business update does to the database; the caller (the poll loop or the webhook route)
owns the AUTOCOMMIT connection and publishes the live events returned.

- `business_connection`: the connection row is upserted (which account, enabled, can_reply, rights). A
  connection reported enabled again clears an earlier refusal (revoked_at).
- `business_message` from a customer: stored like a bot chat's message, as channel "business" in a dialog
  keyed by the connection too (services/dialogs.record_incoming), and answered by the pipeline only when
  the connection may reply (enabled, can_reply, not revoked); otherwise stored and shown, never answered.
- `business_message` from the account itself (from.id == the connection's user): the owner answering in
  person. Stored as an operator message and the dialog is held ('human', operator = the owner), so the AI
  stays silent; the handoff timeout (services/handoff.py) counts from this message, and the owner may
  release the dialog in the inbox.
- `edited_business_message` / `deleted_business_messages`: the stored text follows the edit, and the dialog
  gets a system note either way; neither is answered.
Every statement is keyed by the bot the update came through, so one owner's update never touches another
owner's connection or dialogs. Each update is recorded in telegram_updates first: a re-delivery does nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from chatai.db.models import utcnow
from chatai.services import dialogs
from chatai.services.dialogs import Incoming, Pending
from chatai.textsafe import db_safe

BUSINESS_UPDATES = ("business_connection", "business_message", "edited_business_message",
                    "deleted_business_messages")
OWNER_WROTE = "business_owner_wrote"  # system notes (role 'system', text = the code; the inbox translates)
EDITED = "business_edited"
DELETED = "business_deleted"


@dataclass
class Stored:
    """What one business update left: customer messages to answer (or muted), and live events to publish."""

    pending: list[Pending] = field(default_factory=list)
    events: list[dict[str, str]] = field(default_factory=list)


def business_kind(update: dict[str, Any]) -> str | None:
    return next((k for k in BUSINESS_UPDATES if isinstance(update.get(k), dict)), None)


def _full_name(user: dict[str, Any]) -> str:
    first, last = str(user.get("first_name") or ""), str(user.get("last_name") or "")
    return (f"{first} {last}" if last else first)[:255]


_CLAIM = sa.text("""
    INSERT INTO telegram_updates (bot_id, update_id, status, received_at) VALUES (:bot, :upd, 'ignored', :now)
    ON CONFLICT DO NOTHING RETURNING update_id
""")


async def _claim(conn: AsyncConnection, bot_id: uuid.UUID, update_id: int) -> bool:
    """Record an update that is never answered; False when it was recorded before (a re-delivery)."""
    return (await conn.execute(_CLAIM, {"bot": bot_id, "upd": update_id, "now": utcnow()})).first() is not None


_UPSERT_CONNECTION = sa.text("""
    INSERT INTO business_connections AS bc (bot_id, connection_id, owner_id, telegram_user_id, user_chat_id,
        user_name, username, enabled, can_reply, rights, revoked_at, connected_at, updated_at)
    VALUES (:bot, :cid, :owner, :uid, :chat, :name, :username, :enabled, :can_reply, CAST(:rights AS jsonb), NULL,
            :now, :now)
    ON CONFLICT (bot_id, connection_id) DO UPDATE SET
        telegram_user_id = EXCLUDED.telegram_user_id, user_chat_id = EXCLUDED.user_chat_id,
        user_name = EXCLUDED.user_name, username = EXCLUDED.username, enabled = EXCLUDED.enabled,
        can_reply = EXCLUDED.can_reply, rights = EXCLUDED.rights, updated_at = EXCLUDED.updated_at,
        revoked_at = CASE WHEN EXCLUDED.enabled THEN NULL ELSE bc.revoked_at END
""")


def can_reply(connection: dict[str, Any]) -> bool:
    """rights.can_reply (Bot API 9); older servers sent a top-level can_reply."""
    rights = connection.get("rights")
    if isinstance(rights, dict):
        return bool(rights.get("can_reply"))
    return bool(connection.get("can_reply"))


async def record_connection(conn: AsyncConnection, *, bot_id: uuid.UUID, owner_id: uuid.UUID, update_id: int,
                            connection: dict[str, Any]) -> Stored:
    if not await _claim(conn, bot_id, update_id):
        return Stored()
    user = connection["user"]
    rights = connection.get("rights") if isinstance(connection.get("rights"), dict) else {}
    await conn.execute(_UPSERT_CONNECTION, {
        "bot": bot_id, "cid": str(connection["id"])[:128], "owner": owner_id, "uid": int(user["id"]),
        "chat": int(connection.get("user_chat_id") or user["id"]), "name": db_safe(_full_name(user)),
        "username": db_safe(str(user.get("username") or ""))[:64], "enabled": bool(connection.get("is_enabled")),
        "can_reply": can_reply(connection), "rights": json.dumps({k: bool(v) for k, v in rights.items()}),
        "now": utcnow()})
    return Stored()  # the bots page reads connections with the bots' status (no dialog event to publish)


_CONNECTION = sa.text("""
    SELECT telegram_user_id, enabled AND can_reply AND revoked_at IS NULL
    FROM business_connections WHERE bot_id = :bot AND connection_id = :cid
""")


async def connection_facts(conn: AsyncConnection, *, bot_id: uuid.UUID, connection_id: str) -> tuple[int | None, bool]:
    """(the account's Telegram user id, whether the bot may answer) of this bot's connection; (None, False) for
    a connection this bot never reported (another bot's, or not known yet)."""
    row = (await conn.execute(_CONNECTION, {"bot": bot_id, "cid": connection_id})).first()
    return (None, False) if row is None else (int(row[0]), bool(row[1]))


# The owner writing in their own chat: the dialog is held by the owner from now (the handoff clock restarts).
_OWNER_WROTE = sa.text("""
    WITH u AS (
        INSERT INTO telegram_updates (bot_id, update_id, status, received_at) VALUES (:bot, :upd, 'ignored', :now)
        ON CONFLICT DO NOTHING RETURNING update_id
    ), prev AS (
        SELECT status FROM dialogs
        WHERE bot_id = :bot AND channel = 'business' AND business_connection_id = :bconn AND telegram_chat_id = :chat
    ), d AS (
        INSERT INTO dialogs AS dl (id, bot_id, assistant_id, owner_id, channel, business_connection_id,
                                   telegram_chat_id, telegram_user_id, user_name, user_username, user_language,
                                   status, operator_id, handoff_at, operator_active_at, cost_micros,
                                   last_message_at, created_at)
        SELECT :did, :bot, :aid, :owner, 'business', :bconn, :chat, :chat, :uname, :handle, '', 'human', :owner,
               :now, :now, 0, :now, :now
        FROM u
        ON CONFLICT ON CONSTRAINT uq_dialogs_bot_chat DO UPDATE SET
            status = 'human', operator_id = EXCLUDED.operator_id, operator_active_at = EXCLUDED.operator_active_at,
            handoff_at = CASE WHEN dl.status = 'human' THEN coalesce(dl.handoff_at, EXCLUDED.handoff_at)
                              ELSE EXCLUDED.handoff_at END,
            last_message_at = EXCLUDED.last_message_at
        RETURNING dl.id
    ), note AS (
        INSERT INTO messages (id, dialog_id, role, text, answered_by, prompt_tokens, completion_tokens, cost_micros,
                              sources, needs_handoff, operator_id, created_at)
        SELECT :nid, d.id, 'system', :event, '', 0, 0, 0, '[]'::jsonb, false, :owner, :now FROM d
        WHERE NOT EXISTS (SELECT 1 FROM prev WHERE prev.status = 'human')
    ), m AS (
        INSERT INTO messages (id, dialog_id, role, text, telegram_message_id, answered_by, prompt_tokens,
                              completion_tokens, cost_micros, sources, needs_handoff, operator_id, delivery_status,
                              created_at)
        SELECT :mid, d.id, 'operator', :text, CAST(:tmid AS bigint), 'operator', 0, 0, 0, '[]'::jsonb, false, :owner,
               'sent', :later
        FROM d
    )
    SELECT d.id FROM d
""")


async def record_owner_message(conn: AsyncConnection, *, bot_id: uuid.UUID, owner_id: uuid.UUID,
                               assistant_id: uuid.UUID, update_id: int, connection_id: str,
                               message: dict[str, Any], text: str) -> Stored:
    chat = message["chat"]
    now = utcnow()
    row = (await conn.execute(_OWNER_WROTE, {
        "bot": bot_id, "upd": update_id, "now": now, "later": now + timedelta(milliseconds=1), "did": uuid.uuid4(),
        "aid": assistant_id, "owner": owner_id, "bconn": connection_id, "chat": int(chat["id"]),
        "uname": db_safe(_full_name(chat)), "handle": db_safe(str(chat.get("username") or ""))[:64],
        "nid": uuid.uuid4(), "event": OWNER_WROTE, "mid": uuid.uuid4(), "text": db_safe(text),
        "tmid": message.get("message_id")})).first()
    if row is None:  # a re-delivery
        return Stored()
    dialog_id = str(row[0])
    return Stored(events=[{"type": "status", "dialog_id": dialog_id, "owner_id": str(owner_id), "status": "human"},
                          {"type": "message", "dialog_id": dialog_id, "owner_id": str(owner_id), "role": "operator"}])


async def record_customer_message(conn: AsyncConnection, *, bot_id: uuid.UUID, owner_id: uuid.UUID,
                                  assistant_id: uuid.UUID, incoming: Incoming, answerable: bool) -> Stored:
    pending = await dialogs.record_incoming(conn, bot_id=bot_id, owner_id=owner_id, assistant_id=assistant_id,
                                            incoming=[incoming])
    for p in pending:
        if not answerable and not p.ai_muted:  # stored and shown, never answered
            await conn.execute(sa.text("UPDATE telegram_updates SET status = 'ignored' "
                                       "WHERE bot_id = :bot AND update_id = :upd"),
                               {"bot": bot_id, "upd": p.update_id})
            p.ai_muted = True
    return Stored(pending=pending)


_DIALOG_OF_CHAT = """
    SELECT id FROM dialogs WHERE bot_id = :bot AND channel = 'business' AND business_connection_id = :bconn
      AND telegram_chat_id = :chat
"""
_EDIT = sa.text(f"""
    WITH d AS ({_DIALOG_OF_CHAT}), e AS (
        UPDATE messages SET text = :text WHERE dialog_id IN (SELECT id FROM d) AND telegram_message_id = :tmid
          AND role IN ('user', 'operator')
        RETURNING dialog_id
    )
    INSERT INTO messages (id, dialog_id, role, text, answered_by, prompt_tokens, completion_tokens, cost_micros,
                          sources, needs_handoff, created_at)
    SELECT :nid, d.id, 'system', :event, '', 0, 0, 0, '[]'::jsonb, false, :now FROM d
    WHERE EXISTS (SELECT 1 FROM e)
    RETURNING dialog_id
""")
_DELETE = sa.text(f"""
    WITH d AS ({_DIALOG_OF_CHAT})
    INSERT INTO messages (id, dialog_id, role, text, answered_by, prompt_tokens, completion_tokens, cost_micros,
                          sources, needs_handoff, created_at)
    SELECT :nid, d.id, 'system', :event, '', 0, 0, 0, '[]'::jsonb, false, :now FROM d
    RETURNING dialog_id
""")


async def record_change(conn: AsyncConnection, *, bot_id: uuid.UUID, owner_id: uuid.UUID, update_id: int,
                        connection_id: str, chat_id: int, edited_text: str | None = None,
                        telegram_message_id: int | None = None, note: bool = True) -> Stored:
    """An edit (`edited_text` given) or a deletion in a business chat: noted in the dialog, never answered
    (`note` False: only recorded as seen)."""
    if not await _claim(conn, bot_id, update_id) or not note:
        return Stored()
    params = {"bot": bot_id, "bconn": connection_id, "chat": chat_id, "nid": uuid.uuid4(), "now": utcnow()}
    if edited_text is not None:
        row = (await conn.execute(_EDIT, {**params, "text": db_safe(edited_text), "tmid": telegram_message_id,
                                          "event": EDITED})).first()
    else:
        row = (await conn.execute(_DELETE, {**params, "event": DELETED})).first()
    if row is None:
        return Stored()
    return Stored(events=[{"type": "message", "dialog_id": str(row[0]), "owner_id": str(owner_id), "role": "system"}])
