"""Telegram updates as the Bot API delivers them (private text, group message, button press, reply, photo), for
tests and benches to push through the fake Bot API (telegram_server.py) or POST to the webhook route."""

from __future__ import annotations

import itertools
import time
from typing import Any

_message_ids = itertools.count(1)


def text_update(text: str, *, chat_id: int = 1001, language: str = "en", first_name: str = "Alice",
                update_id: int | None = None) -> dict[str, Any]:
    """A private-chat text message update as Telegram sends it."""
    message: dict[str, Any] = {
        "message_id": next(_message_ids), "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": first_name},
        "from": {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": language},
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    update: dict[str, Any] = {"message": message}
    if update_id is not None:
        update["update_id"] = update_id
    return update


def group_update(text: str | None, *, chat_id: int = -100500, user_id: int = 42, first_name: str = "Bob",
                 language: str = "en", reply_to: dict[str, Any] | None = None, kind: str = "supergroup",
                 update_id: int | None = None) -> dict[str, Any]:
    """A message in a group chat (negative chat id, `type` group/supergroup), as Telegram sends it; `reply_to`
    is the message it answers (e.g. one the bot sent: {"message_id", "from": {"id": bot id, "is_bot": True}})."""
    update = text_update(text or "x", chat_id=chat_id, language=language, first_name=first_name,
                         update_id=update_id)
    message = update["message"]
    message["chat"] = {"id": chat_id, "type": kind, "title": "Shop fans"}
    message["from"] = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language}
    if text is None:
        del message["text"]
        message["photo"] = [{"file_id": "AgAD", "file_unique_id": "u1", "width": 90, "height": 90}]
    if reply_to is not None:
        message["reply_to_message"] = {"date": message["date"], "chat": message["chat"], **reply_to}
    return update


_callback_ids = itertools.count(5_000_000_001)


def callback_update(sent: dict[str, Any], data: str, *, user_id: int, first_name: str = "Olga",
                    language: str = "en", update_id: int | None = None) -> dict[str, Any]:
    """A press of an inline button (`data`) under a message the bot sent (`sent`, an entry of
    FakeTelegram.sent_messages), by user `user_id`, as Telegram delivers it."""
    update: dict[str, Any] = {"callback_query": {
        "id": str(next(_callback_ids)), "chat_instance": "-1234567890", "data": data,
        "from": {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language},
        "message": {"message_id": sent["message_id"], "date": int(time.time()), "text": sent["text"],
                    "chat": {"id": sent["chat_id"], "type": "private", "first_name": first_name},
                    "reply_markup": sent.get("reply_markup")},
    }}
    if update_id is not None:
        update["update_id"] = update_id
    return update


def reply_update(text: str | None, reply_to: dict[str, Any], *, chat_id: int, first_name: str = "Olga",
                 language: str = "en", update_id: int | None = None) -> dict[str, Any]:
    """A private message replying (Telegram's reply-to) to a message the bot sent (`reply_to`, an entry of
    FakeTelegram.sent_messages); `text` None sends a photo instead."""
    update = text_update(text or "x", chat_id=chat_id, first_name=first_name, language=language,
                         update_id=update_id)
    message = update["message"]
    if text is None:
        del message["text"]
        message["photo"] = [{"file_id": "AgAD", "file_unique_id": "u1", "width": 90, "height": 90}]
    message["reply_to_message"] = {"message_id": reply_to["message_id"], "date": int(time.time()),
                                   "chat": message["chat"], "text": reply_to["text"],
                                   "from": {"id": 1, "is_bot": True, "first_name": "bot"}}
    return update


def photo_update(*, chat_id: int = 1001, language: str = "en") -> dict[str, Any]:
    update = text_update("x", chat_id=chat_id, language=language)
    del update["message"]["text"]
    update["message"]["photo"] = [{"file_id": "AgAD", "file_unique_id": "u1", "width": 90, "height": 90}]
    return update
