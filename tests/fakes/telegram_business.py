"""Telegram Business on the fake Bot API (tests/fakes/telegram_server.py): connections and the account's messages.

An account connecting one of the bots in Telegram's Business settings is a `business_connection` update;
the customers' messages in the account's private chats (and the account's own messages there) are
`business_message` updates carrying the connection id; edits and deletions have their own updates. The
server refuses sends and chat actions through a connection it does not know or that was revoked with
"Bad Request: BUSINESS_CONNECTION_INVALID", and a send through a connection without can_reply with
"Bad Request: BOT_ACCESS_FORBIDDEN", as Telegram does; it records the connection id of every send.
Shapes follow the Bot API (python-telegram-bot's telegram/_business.py and _update.py).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.telegram_server import FakeBot, FakeTelegram

_message_ids = itertools.count(700_001)


@dataclass
class FakeConnection:
    id: str
    user_id: int
    first_name: str
    username: str = ""
    is_enabled: bool = True
    can_reply: bool = True
    revoked: bool = False  # Telegram no longer honours the id (sends fail), whatever the last update said

    def as_update(self) -> dict[str, Any]:
        return {"business_connection": {
            "id": self.id, "user_chat_id": self.user_id, "date": int(time.time()), "is_enabled": self.is_enabled,
            "user": {"id": self.user_id, "is_bot": False, "first_name": self.first_name,
                     **({"username": self.username} if self.username else {})},
            "rights": {"can_reply": self.can_reply, "can_read_messages": True}}}


def refusal(bot: FakeBot, params: dict[str, Any], *, sending: bool) -> str:
    """'' when a call may go through the connection it names (or names none), else Telegram's complaint."""
    connection_id = params.get("business_connection_id")
    if not connection_id:
        return ""
    connection = bot.business.get(str(connection_id))
    if connection is None or connection.revoked or not connection.is_enabled:
        return "Bad Request: BUSINESS_CONNECTION_INVALID"
    if sending and not connection.can_reply:
        return "Bad Request: BOT_ACCESS_FORBIDDEN"
    return ""


def connect(server: FakeTelegram, token: str, *, connection_id: str, user_id: int, first_name: str = "Maria",
            username: str = "", can_reply: bool = True) -> int:
    """The account connects the bot: the connection exists and its update is queued. Returns its update id."""
    connection = FakeConnection(connection_id, user_id, first_name, username, can_reply=can_reply)
    server._call(server.bots[token].business.__setitem__, connection_id, connection)
    return server.push_update(token, connection.as_update())


def change(server: FakeTelegram, token: str, connection_id: str, *, can_reply: bool | None = None,
           enabled: bool | None = None) -> int:
    """The account changes the bot's rights, or turns it off (enabled False: Telegram's "disconnected")."""
    connection = server.bots[token].business[connection_id]

    def apply() -> None:
        if can_reply is not None:
            connection.can_reply = can_reply
        if enabled is not None:
            connection.is_enabled = enabled

    server._call(apply)
    return server.push_update(token, connection.as_update())


def revoke(server: FakeTelegram, token: str, connection_id: str) -> None:
    """Telegram stops honouring the connection with no update reaching the bot (one lost while it was down)."""
    server._call(setattr, server.bots[token].business[connection_id], "revoked", True)


def _message(connection_id: str, text: str, *, chat_id: int, first_name: str, sender_id: int,
             sender_name: str, message_id: int | None = None) -> dict[str, Any]:
    return {"message_id": message_id or next(_message_ids), "date": int(time.time()),
            "business_connection_id": connection_id,
            "chat": {"id": chat_id, "type": "private", "first_name": first_name},
            "from": {"id": sender_id, "is_bot": False, "first_name": sender_name, "language_code": "en"},
            "text": text}


def customer_message(server: FakeTelegram, token: str, connection_id: str, text: str, *, chat_id: int = 5001,
                     first_name: str = "Ivan", update_id: int | None = None) -> tuple[int, int]:
    """A customer writes to the account. Returns (update id, message id)."""
    message = _message(connection_id, text, chat_id=chat_id, first_name=first_name, sender_id=chat_id,
                       sender_name=first_name)
    update: dict[str, Any] = {"business_message": message}
    if update_id is not None:
        update["update_id"] = update_id
    return server.push_update(token, update), message["message_id"]


def owner_message(server: FakeTelegram, token: str, connection_id: str, text: str, *, chat_id: int = 5001,
                  first_name: str = "Ivan") -> tuple[int, int]:
    """The account's owner writes in their chat with a customer (from = the account)."""
    connection = server.bots[token].business[connection_id]
    message = _message(connection_id, text, chat_id=chat_id, first_name=first_name, sender_id=connection.user_id,
                       sender_name=connection.first_name)
    return server.push_update(token, {"business_message": message}), message["message_id"]


def edited_message(server: FakeTelegram, token: str, connection_id: str, text: str, *, message_id: int,
                   chat_id: int = 5001, first_name: str = "Ivan") -> int:
    message = _message(connection_id, text, chat_id=chat_id, first_name=first_name, sender_id=chat_id,
                       sender_name=first_name, message_id=message_id)
    message["edit_date"] = int(time.time())
    return server.push_update(token, {"edited_business_message": message})


def deleted_messages(server: FakeTelegram, token: str, connection_id: str, message_ids: list[int], *,
                     chat_id: int = 5001, first_name: str = "Ivan") -> int:
    return server.push_update(token, {"deleted_business_messages": {
        "business_connection_id": connection_id, "message_ids": message_ids,
        "chat": {"id": chat_id, "type": "private", "first_name": first_name}}})


def business_sends(server: FakeTelegram, token: str, connection_id: str | None = None) -> list[dict[str, Any]]:
    """Messages the bot sent through a business connection (any, or this one)."""
    return [m for m in server.sent_messages(token)
            if m.get("business_connection_id") and connection_id in (None, m["business_connection_id"])]
