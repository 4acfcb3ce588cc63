"""The "business" channel: the assistant answering customers in the owner's own Telegram account.

Telegram Business delivers the account's private chats to a connected bot (`business_connection`,
`business_message`, `edited_business_message`, `deleted_business_messages`); replies and chat actions carry
the connection's `business_connection_id`. `store` routes such an update to chatai/business/store.py (both
the poll loop and the webhook route call it, so both behave the same); `BusinessChannel` is the Telegram
channel with the connection id on every send. A business chat gets "typing" (renewed), never drafts.

A connection Telegram refuses when we send (BUSINESS_CONNECTION_INVALID: the account removed the bot and
the update announcing it was lost) is marked revoked at once: the answer is dropped, never retried, and
later messages through it are stored, not answered.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from telegram.error import BadRequest

from chatai.bots.handlers import TelegramChannel, classify, conversation_for
from chatai.business import store as business_store
from chatai.business.store import Stored, business_kind
from chatai.conversation.channel import Receipt, Stream
from chatai.db.models import utcnow
from chatai.services.dialogs import NON_TEXT_KINDS, Pending, SavedReply

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncConnection

    from chatai.bots.contracts import Worker


__all__ = ["BusinessChannel", "business_kind", "respond", "store"]


def _text_of(message: dict[str, Any]) -> str:
    text = message.get("text")
    if text:
        return str(text)[:4000]
    return "[" + next((k for k in NON_TEXT_KINDS if message.get(k)), "other") + "]"


async def store(conn: AsyncConnection, update: dict[str, Any], *, bot_id: uuid.UUID, owner_id: uuid.UUID,
                assistant_id: uuid.UUID) -> Stored | None:
    """Store a business update for this bot; None when the update is not a business one. Raises
    KeyError/TypeError/ValueError on a malformed update, as classify() does."""
    kind = business_kind(update)
    if kind is None:
        return None
    update_id = int(update["update_id"])
    body = update[kind]
    if kind == "business_connection":
        return await business_store.record_connection(conn, bot_id=bot_id, owner_id=owner_id, update_id=update_id,
                                                      connection=body)
    connection_id = str(body["business_connection_id"])[:128]
    chat_id = int(body["chat"]["id"])
    if kind == "deleted_business_messages":
        return await business_store.record_change(conn, bot_id=bot_id, owner_id=owner_id, update_id=update_id,
                                                  connection_id=connection_id, chat_id=chat_id)
    if kind == "edited_business_message":
        return await business_store.record_change(conn, bot_id=bot_id, owner_id=owner_id, update_id=update_id,
                                                  connection_id=connection_id, chat_id=chat_id,
                                                  edited_text=_text_of(body),
                                                  telegram_message_id=body.get("message_id"))
    if body.get("sender_business_bot"):  # a message a bot sent for the account (our own answer echoed): not news
        return await business_store.record_change(conn, bot_id=bot_id, owner_id=owner_id, update_id=update_id,
                                                  connection_id=connection_id, chat_id=chat_id, note=False)
    account_id, answerable = await business_store.connection_facts(conn, bot_id=bot_id, connection_id=connection_id)
    sender = body.get("from") or {}
    if account_id is not None and sender.get("id") is not None and int(sender["id"]) == account_id:
        return await business_store.record_owner_message(
            conn, bot_id=bot_id, owner_id=owner_id, assistant_id=assistant_id, update_id=update_id,
            connection_id=connection_id, message=body, text=_text_of(body))
    incoming = classify({"update_id": update_id, "message": body})
    incoming.channel, incoming.business_connection_id = "business", connection_id
    return await business_store.record_customer_message(conn, bot_id=bot_id, owner_id=owner_id,
                                                        assistant_id=assistant_id, incoming=incoming,
                                                        answerable=answerable)


def refused_connection(exc: BaseException) -> bool:
    """Telegram's answer to a connection id it no longer honours."""
    return isinstance(exc, BadRequest) and "business_connection" in str(exc).lower().replace(" ", "_")


_REVOKE = sa.text("""
    UPDATE business_connections SET revoked_at = coalesce(revoked_at, :now), updated_at = :now
    WHERE bot_id = :bot AND connection_id = :cid
""")


async def mark_revoked(conn: AsyncConnection, *, bot_id: uuid.UUID, connection_id: str) -> None:
    await conn.execute(_REVOKE, {"bot": bot_id, "cid": connection_id, "now": utcnow()})


class BusinessChannel(TelegramChannel):
    """A private chat of the owner's account, reached through the connection (bots/supervisor.BotWorker)."""

    name = "business"

    def typing(self, turn: Pending) -> contextlib.AbstractAsyncContextManager[None]:
        return self.worker.typing(turn.chat_id, business_connection_id=turn.business_connection_id)

    def stream(self, turn: Pending) -> Stream | None:
        return None  # drafts do not exist in business chats: "typing" instead

    async def deliver(self, turn: Pending, reply: SavedReply, language: str) -> Receipt | None:
        try:
            return await self._send(turn, reply, language)
        except BadRequest as exc:
            if "bot_access_forbidden" in str(exc).lower():  # replies turned off after the message arrived
                return None
            if not refused_connection(exc):
                raise
        async with self.worker.runner.db() as conn:
            await mark_revoked(conn, bot_id=turn.bot_id, connection_id=turn.business_connection_id)
        return None  # the bots page shows it revoked on its next status refresh

    async def _send(self, turn: Pending, reply: SavedReply, language: str) -> Receipt | None:
        parts = self.parts(reply, language)
        message_id = await self.worker.send_parts(turn.chat_id, parts,
                                                  business_connection_id=turn.business_connection_id)
        return None if message_id is None else Receipt(message_id)


async def respond(worker: Worker, pending: Pending) -> None:
    """Exactly one reply for a persisted business message, through the owner's account."""
    await conversation_for(worker).respond(BusinessChannel(worker), pending, assistant_id=worker.record.assistant_id)
