"""The Bot API methods the fake Telegram server answers (getMe, getUpdates, sendMessage, drafts, buttons, webhooks),
checked as strictly as Telegram checks them (HTML markup, lengths, callback ids), and its error replies.
`BotApiMethods` is mixed into telegram_server.FakeTelegram, whose state (bots, updates, recorded calls) it uses.
"""

from __future__ import annotations

import asyncio
import re
import time
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from tests.fakes import telegram_business

if TYPE_CHECKING:
    from tests.fakes.telegram_server import FakeBot

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "tg-spoiler",
                "span", "blockquote", "tg-emoji"}


class _MarkupChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.error = ""

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f"Unsupported start tag \"{tag}\""
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.error = self.error or f"Unmatched end tag \"{tag}\""

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self.error = self.error or f"Unsupported entity &{name};"


def check_html(text: str) -> str:
    """'' when Telegram would accept the markup, else its complaint."""
    checker = _MarkupChecker()
    checker.feed(text)
    checker.close()
    if checker.stack:
        checker.error = checker.error or f"Can't find end tag corresponding to start tag \"{checker.stack[-1]}\""
    visible = re.sub(r"<[^>]+>", "", text)
    if "<" in visible or ">" in visible:
        checker.error = checker.error or "Unescaped < or >"
    return checker.error


def error_reply(status: int, retry_after: int | None = None, description: str = "") -> tuple[int, Any]:
    descriptions = {401: "Unauthorized", 409: "Conflict: terminated by other getUpdates request",
                    429: f"Too Many Requests: retry after {retry_after}", 400: "Bad Request",
                    403: "Forbidden: bot was blocked by the user", 500: "Internal Server Error", 502: "Bad Gateway"}
    payload: dict[str, Any] = {"ok": False, "error_code": status,
                               "description": description or descriptions.get(status, "Error")}
    if retry_after is not None:
        payload["parameters"] = {"retry_after": retry_after}
    return status, payload


def _callback_ids_of(bot: FakeBot) -> set[str]:
    return {str(u["callback_query"]["id"]) for u in bot.updates_seen if "callback_query" in u}


class BotApiMethods:
    """The `_api_<method>` handlers of FakeTelegram (see the module doc)."""

    async def _api_getMe(self, bot: FakeBot, params: dict[str, Any], reader: Any) -> tuple[int, Any]:
        return 200, {"ok": True, "result": {"id": bot.bot_id, "is_bot": True, "first_name": bot.username,
                                            "username": bot.username, "can_join_groups": True,
                                            "can_read_all_group_messages": False, "supports_inline_queries": False}}

    async def _api_getUpdates(self, bot: FakeBot, params: dict[str, Any], reader: asyncio.StreamReader
                              ) -> tuple[int, Any]:
        if bot.conflict:
            bot.conflicts += 1
            return error_reply(409, description="Conflict: terminated by other getUpdates request; "
                                           "make sure that only one bot instance is running")
        if bot.webhook_url:
            return error_reply(409, description="Conflict: can't use getUpdates method while webhook is active; "
                                           "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list) and allowed:  # as Telegram: updates of other kinds are dropped
            bot.updates = [u for u in bot.updates if any(k in allowed for k in u if k != "update_id")]
        if bot.waiter is not None and not bot.waiter.is_set():
            # Another poller is waiting: Telegram terminates the older request with 409.
            bot.conflicts += 1
            bot.waiter.set()
        bot.pollers += 1
        bot.max_pollers = max(bot.max_pollers, bot.pollers)
        try:
            if not bot.updates and timeout > 0:
                waiter = bot.waiter = asyncio.Event()
                eof = asyncio.ensure_future(reader.read(1))
                wait = asyncio.ensure_future(waiter.wait())
                done, _ = await asyncio.wait({eof, wait}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                for task in (eof, wait):
                    if task not in done:
                        task.cancel()
                await asyncio.gather(eof, wait, return_exceptions=True)
                if bot.waiter is waiter:
                    bot.waiter = None
                if eof in done:
                    return 0, None
                if wait in done and not bot.updates:  # woken by a newer poller
                    return error_reply(409, description="Conflict: terminated by other getUpdates request")
            batch = bot.updates[:limit]
            now = time.monotonic()
            for u in batch:
                bot.delivered_at.setdefault(u["update_id"], now)
            return 200, {"ok": True, "result": batch}
        finally:
            bot.pollers -= 1

    async def _api_sendMessage(self, bot: FakeBot, params: dict[str, Any], reader: Any) -> tuple[int, Any]:
        text = str(params.get("text", ""))
        chat_id = int(params.get("chat_id", 0))
        refused = telegram_business.refusal(bot, params, sending=True)
        if refused:
            return error_reply(400, description=refused)
        if not text.strip():
            return error_reply(400, description="Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096 and params.get("parse_mode") != "HTML":
            return error_reply(400, description="Bad Request: message is too long")
        if params.get("parse_mode") == "HTML":
            problem = check_html(text)
            if problem:
                return error_reply(400, description=f"Bad Request: can't parse entities: {problem}")
            visible = re.sub(r"<[^>]+>", "", text)
            if len(visible.encode("utf-16-le")) // 2 > 4096:
                return error_reply(400, description="Bad Request: message is too long")
        message_id = bot.next_message_id
        bot.next_message_id += 1
        now = time.monotonic()
        bot.sent.append({"chat_id": chat_id, "text": text, "parse_mode": params.get("parse_mode"),
                         "message_id": message_id, "at": now, "reply_markup": params.get("reply_markup"),
                         "business_connection_id": params.get("business_connection_id")})
        self.chat_sends[chat_id].append(now)
        return 200, {"ok": True, "result": {"message_id": message_id, "date": int(time.time()),
                                            "chat": {"id": chat_id, "type": "private"}, "text": text,
                                            "from": {"id": bot.bot_id, "is_bot": True, "first_name": bot.username}}}

    async def _api_answerCallbackQuery(self, bot: FakeBot, params: dict[str, Any], reader: Any
                                       ) -> tuple[int, Any]:
        """As Telegram: the id of a query this bot received, answered once, text up to 200 characters."""
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in _callback_ids_of(bot) or any(a["callback_query_id"] == query_id
                                                        for a in bot.callback_answers):
            return error_reply(400, description="Bad Request: query is too old and response timeout expired or "
                                           "query ID is invalid")
        if len(str(params.get("text", ""))) > 200:
            return error_reply(400, description="Bad Request: MESSAGE_TOO_LONG")
        bot.callback_answers.append({"callback_query_id": query_id, "text": str(params.get("text", "")),
                                     "show_alert": bool(params.get("show_alert"))})
        return 200, {"ok": True, "result": True}

    async def _api_editMessageReplyMarkup(self, bot: FakeBot, params: dict[str, Any], reader: Any
                                          ) -> tuple[int, Any]:
        """Replace (or remove) the inline keyboard of a message this bot sent."""
        for message in bot.sent:
            if message["chat_id"] == int(params.get("chat_id", 0)) and message["message_id"] == int(
                    params.get("message_id", 0)):
                message["reply_markup"] = params.get("reply_markup")
                return 200, {"ok": True, "result": {"message_id": message["message_id"], "date": int(time.time()),
                                                    "chat": {"id": message["chat_id"], "type": "private"},
                                                    "text": message["text"]}}
        return error_reply(400, description="Bad Request: message to edit not found")

    async def _api_sendMessageDraft(self, bot: FakeBot, params: dict[str, Any], reader: Any) -> tuple[int, Any]:
        """As the Bot API: private chats only, a non-zero draft id, text up to 4096 characters (empty: the
        "Thinking..." placeholder); True. Drafts are ephemeral: nothing lands in `sent`."""
        if bot.drafts_rejected:
            return error_reply(400, description="Bad Request: method sendMessageDraft is not available")
        chat_id, draft_id = int(params.get("chat_id", 0)), int(params.get("draft_id") or 0)
        text = str(params.get("text") or "")
        if chat_id <= 0:
            return error_reply(400, description="Bad Request: drafts are available only in private chats")
        if not draft_id:
            return error_reply(400, description="Bad Request: draft_id must be non-zero")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return error_reply(400, description="Bad Request: text is too long")
        bot.drafts.append({"chat_id": chat_id, "draft_id": draft_id, "text": text, "at": time.monotonic()})
        return 200, {"ok": True, "result": True}

    async def _api_sendChatAction(self, bot: FakeBot, params: dict[str, Any], reader: Any) -> tuple[int, Any]:
        refused = telegram_business.refusal(bot, params, sending=False)
        if refused:
            return error_reply(400, description=refused)
        return 200, {"ok": True, "result": True}

    async def _api_setWebhook(self, bot: FakeBot, params: dict[str, Any], reader: Any) -> tuple[int, Any]:
        bot.webhook_url = str(params.get("url", ""))
        bot.webhook_secret = str(params.get("secret_token", ""))
        if bot.waiter is not None:
            bot.waiter.set()
        return 200, {"ok": True, "result": True, "description": "Webhook was set"}

    async def _api_deleteWebhook(self, bot: FakeBot, params: dict[str, Any], reader: Any) -> tuple[int, Any]:
        bot.webhook_url = ""
        bot.webhook_secret = ""
        if params.get("drop_pending_updates"):
            bot.updates.clear()
        return 200, {"ok": True, "result": True, "description": "Webhook was deleted"}

    async def _api_getWebhookInfo(self, bot: FakeBot, params: dict[str, Any], reader: Any) -> tuple[int, Any]:
        return 200, {"ok": True, "result": {"url": bot.webhook_url, "has_custom_certificate": False,
                                            "pending_update_count": len(bot.updates)}}

    # --- control API (separate-process mode) -------------------------------------------------
