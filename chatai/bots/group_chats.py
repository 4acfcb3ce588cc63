"""Telegram group chats: whether the bot answers a message there.

Policy: private chats only by default. When the owner turns groups on (the assistant's `answer_in_groups`),
a group message is answered only when it addresses the bot: it mentions @the_bot, replies to one of the
bot's messages, or is a command written /command@the_bot. Anything else in a group is recorded (the update
id, so it is never handled twice) and ignored: no message kept, no answer, no charge, no fallback. Groups
are busy places where most messages are people talking to each other; a bot that answered each of them
would spend the owner's balance on chatter (and a bot with privacy mode off receives every message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PRIVATE = "private"


@dataclass(frozen=True)
class BotIdentity:
    """Who "the bot" is in a chat: its @username (without @) and its Telegram user id."""

    username: str
    user_id: int | None = None

    @classmethod
    def from_token(cls, username: str, token: str) -> BotIdentity:
        head = token.split(":", 1)[0]
        return cls(username=username, user_id=int(head) if head.isdigit() else None)


def in_group(update: Any) -> bool:
    """A message from a chat that is not a private one (group, supergroup); never raises."""
    message = update.get("message") if isinstance(update, dict) else None
    chat = message.get("chat") if isinstance(message, dict) else None
    return isinstance(chat, dict) and str(chat.get("type") or PRIVATE) != PRIVATE


def _mention(bot: BotIdentity) -> re.Pattern[str] | None:
    if not bot.username:
        return None
    return re.compile(rf"(?<![\w@])@{re.escape(bot.username)}(?!\w)", re.IGNORECASE)


def _command_to(text: str, bot: BotIdentity) -> bool:
    match = re.match(r"/\w+@(\w+)", text)
    return bool(match and bot.username and match.group(1).lower() == bot.username.lower())


def _reply_to_bot(message: dict[str, Any], bot: BotIdentity) -> bool:
    replied = message.get("reply_to_message")
    author = replied.get("from") if isinstance(replied, dict) else None
    if not isinstance(author, dict):
        return False
    if bot.user_id is not None and author.get("id") == bot.user_id:
        return True
    return bool(bot.username) and str(author.get("username") or "").lower() == bot.username.lower()


def addressed(message: dict[str, Any], bot: BotIdentity) -> bool:
    """Whether a group message is meant for this bot (see the module docstring)."""
    words = str(message.get("text") or message.get("caption") or "")
    mention = _mention(bot)
    return (_command_to(words, bot) or bool(mention and mention.search(words)) or _reply_to_bot(message, bot))


def question(text: str, bot: BotIdentity) -> str:
    """The text without the bot's address: "@shop_bot when do you open?" -> "when do you open?",
    "/start@shop_bot" -> "/start". A bare mention becomes "/start" (the greeting)."""
    if _command_to(text, bot):
        command, _, rest = text.partition("@")
        text = command + rest[len(bot.username):]
    mention = _mention(bot)
    if mention:
        text = " ".join(mention.sub(" ", text).split())
    return text or "/start"
