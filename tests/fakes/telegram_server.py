"""A fake Telegram Bot API server on 127.0.0.1 for tests and the benchmark.

Speaks enough HTTP/1.1 (keep-alive, Content-Length bodies) for httpx/python-telegram-bot, and
enough Bot API for the runner: getMe, getUpdates (long poll, offset confirmation, 409 when a second
poller arrives), sendMessage (checks length and HTML markup like Telegram does), sendChatAction,
setWebhook, deleteWebhook, getWebhookInfo. Failures on demand: 401 (revoked), 409, 429 with
retry_after. Every call is recorded per token.

It runs its own event loop in a thread (`FakeTelegram().start()`), so sync tests, async tests
and browser tests can all drive it; or as a process of its own (`python -m tests.fakes.telegram_server`)
with a small /_ctl/* JSON API, so the benchmark's runner process is not charged for its CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import re
import sys
import threading
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from tests.fakes import telegram_business
from tests.waits import PATIENCE

STRING_FIELDS = {"text", "parse_mode", "url", "secret_token", "action", "caption", "ip_address", "callback_query_id",
                 "business_connection_id"}
ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "tg-spoiler",
                "span", "blockquote", "tg-emoji"}


def make_token(bot_id: int) -> str:
    """A token in Telegram's format: '<bot id>:<35 chars>'."""
    return f"{bot_id}:AA{'x' * 10}{bot_id:023d}"[: len(str(bot_id)) + 36]


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


@dataclass
class FakeBot:
    token: str
    bot_id: int
    username: str
    revoked: bool = False
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 1000
    next_message_id: int = 1
    webhook_url: str = ""
    webhook_secret: str = ""
    calls: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)  # queued {method, status, retry_after}
    conflict: bool = False
    pollers: int = 0
    max_pollers: int = 0
    conflicts: int = 0
    waiter: asyncio.Event | None = None
    delivered_at: dict[int, float] = field(default_factory=dict)
    update_chat: dict[int, int] = field(default_factory=dict)
    callback_answers: list[dict[str, Any]] = field(default_factory=list)  # answerCallbackQuery, in order
    updates_seen: list[dict[str, Any]] = field(default_factory=list)  # every update pushed, kept
    business: dict[str, Any] = field(default_factory=dict)  # Telegram Business connections (telegram_business.py)
    # sendMessageDraft (streamed answers): every draft shown, and the switch of a server that rejects it
    drafts: list[dict[str, Any]] = field(default_factory=list)
    drafts_rejected: bool = False


class FakeTelegram:
    """The server. Public methods are thread-safe (they run on the server's loop)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.bots: dict[str, FakeBot] = {}
        self.chat_sends: dict[int, list[float]] = defaultdict(list)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._ids = itertools.count(1)
        self._load_task: asyncio.Task | None = None

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Server root: what TELEGRAM_API_URL should be."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeTelegram:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._close())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-telegram", daemon=True)
        self._thread.start()
        assert ready.wait(PATIENCE), "the fake Bot API did not start"
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port, backlog=4096,
                                                  limit=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    def _call(self, fn: Any, *args: Any) -> Any:
        """Run fn on the server loop and return its result (works from any thread)."""
        if self._loop is None or threading.current_thread() is self._thread:
            return fn(*args)

        async def wrapper() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(10)

    # --- test API ---------------------------------------------------------------------------

    def add_bot(self, token: str, username: str = "") -> FakeBot:
        bot_id = int(token.split(":", 1)[0])
        bot = FakeBot(token=token, bot_id=bot_id, username=username or f"bot{bot_id}_bot")
        self._call(self.bots.__setitem__, token, bot)
        return bot

    def push_update(self, token: str, update: dict[str, Any]) -> int:
        """Queue an update (update_id assigned when absent). Returns its update_id."""
        return self._call(self._push, token, update)

    def push_text(self, token: str, text: str, *, chat_id: int = 1001, language: str = "en",
                  first_name: str = "Alice", update_id: int | None = None) -> int:
        return self.push_update(token, text_update(text, chat_id=chat_id, language=language,
                                                   first_name=first_name, update_id=update_id))

    def _push(self, token: str, update: dict[str, Any]) -> int:
        bot = self.bots[token]
        update = dict(update)
        if "update_id" not in update or update["update_id"] is None:
            update["update_id"] = bot.next_update_id
        bot.next_update_id = max(bot.next_update_id, update["update_id"] + 1)
        msg = update.get("message") or {}
        bot.update_chat[update["update_id"]] = (msg.get("chat") or {}).get("id", 0)
        bot.updates.append(update)
        if "callback_query" in update:
            bot.updates_seen.append(update)
        if bot.waiter is not None:
            bot.waiter.set()
        return update["update_id"]

    def revoke(self, token: str) -> None:
        """From now on every call with this token answers 401 Unauthorized."""
        self._call(setattr, self.bots[token], "revoked", True)

    def set_conflict(self, token: str, on: bool = True) -> None:
        """getUpdates answers 409 while on (another program polls this bot)."""
        self._call(setattr, self.bots[token], "conflict", on)

    def fail_next(self, token: str, method: str, status: int = 429, *, retry_after: int | None = None,
                  times: int = 1, chat_id: int | None = None, contains: str = "") -> None:
        """The next `times` calls of `method` (only those to `chat_id` / whose text contains `contains`, when
        given) fail with `status`."""
        for _ in range(times):
            self._call(self.bots[token].failures.append,
                       {"method": method, "status": status, "retry_after": retry_after, "chat_id": chat_id,
                        "contains": contains})

    def callback_answers(self, token: str) -> list[dict[str, Any]]:
        return self._call(lambda: [dict(a) for a in self.bots[token].callback_answers])
    def reject_drafts(self, token: str, on: bool = True) -> None:
        """sendMessageDraft answers 400 while on (a Bot API server without drafts)."""
        self._call(setattr, self.bots[token], "drafts_rejected", on)

    def drafts(self, token: str) -> list[dict[str, Any]]:
        """The drafts shown (sendMessageDraft calls accepted), oldest first."""
        return self._call(lambda: [dict(d) for d in self.bots[token].drafts])

    def sent_messages(self, token: str) -> list[dict[str, Any]]:
        return self._call(lambda: [dict(m) for m in self.bots[token].sent])

    def calls(self, token: str, method: str | None = None) -> list[tuple[str, dict[str, Any], float]]:
        return self._call(lambda: [c for c in self.bots[token].calls if method is None or c[0] == method])

    def bot(self, token: str) -> FakeBot:
        return self.bots[token]

    def wait_sent(self, token: str, count: int, timeout: float = PATIENCE) -> list[dict[str, Any]]:
        """Block (sync callers) until `count` messages were sent with this token."""
        deadline = time.monotonic() + timeout
        while True:
            sent = self.sent_messages(token)
            if len(sent) >= count or time.monotonic() > deadline:
                return sent
            time.sleep(0.05)

    async def await_sent(self, token: str, count: int, wait: float = PATIENCE) -> list[dict[str, Any]]:
        """Async callers: wait without blocking their loop (the runner may be on it)."""
        deadline = time.monotonic() + wait
        while True:
            sent = self.sent_messages(token)
            if len(sent) >= count or time.monotonic() > deadline:
                return sent
            await asyncio.sleep(0.05)

    # --- HTTP ------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                status, payload = await self._dispatch(target, headers, body, reader)
                if status == 0:  # client went away during a long poll
                    return
                data = json.dumps(payload).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                    "Connection: keep-alive\r\n\r\n".encode() + data
                )
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    @staticmethod
    def _params(headers: dict[str, str], body: bytes, target: str) -> dict[str, Any]:
        raw: dict[str, str] = {}
        query = urllib.parse.urlsplit(target).query
        if query:
            raw.update(dict(urllib.parse.parse_qsl(query, keep_blank_values=True)))
        ctype = headers.get("content-type", "")
        if body and ctype.startswith("application/json"):
            return {**raw, **json.loads(body)}
        if body:
            raw.update(dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)))
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if key in STRING_FIELDS:
                params[key] = value
                continue
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        return params

    async def _dispatch(self, target: str, headers: dict[str, str], body: bytes,
                        reader: asyncio.StreamReader) -> tuple[int, Any]:
        path = urllib.parse.urlsplit(target).path
        if path.startswith("/_ctl/"):
            return 200, self._control(path[6:], json.loads(body or b"{}"))
        m = re.fullmatch(r"/bot([^/]+)/(\w+)", path)
        if not m:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, api_method = m.group(1), m.group(2)
        bot = self.bots.get(token)
        if bot is None:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        params = self._params(headers, body, target)
        bot.calls.append((api_method, params, time.monotonic()))
        if bot.revoked:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        for n, failure in enumerate(bot.failures):
            if failure.get("chat_id") is not None and str(params.get("chat_id")) != str(failure["chat_id"]):
                continue
            if failure.get("contains") and failure["contains"] not in str(params.get("text", "")):
                continue
            if failure["method"] in (api_method, "*"):
                del bot.failures[n]
                return _error(failure["status"], failure.get("retry_after"))
        handler = getattr(self, f"_api_{api_method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        return await handler(bot, params, reader)

    async def _api_getMe(self, bot: FakeBot, params: dict[str, Any], reader: Any) -> tuple[int, Any]:
        return 200, {"ok": True, "result": {"id": bot.bot_id, "is_bot": True, "first_name": bot.username,
                                            "username": bot.username, "can_join_groups": True,
                                            "can_read_all_group_messages": False, "supports_inline_queries": False}}

    async def _api_getUpdates(self, bot: FakeBot, params: dict[str, Any], reader: asyncio.StreamReader
                              ) -> tuple[int, Any]:
        if bot.conflict:
            bot.conflicts += 1
            return _error(409, description="Conflict: terminated by other getUpdates request; "
                                           "make sure that only one bot instance is running")
        if bot.webhook_url:
            return _error(409, description="Conflict: can't use getUpdates method while webhook is active; "
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
                    return _error(409, description="Conflict: terminated by other getUpdates request")
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
            return _error(400, description=refused)
        if not text.strip():
            return _error(400, description="Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096 and params.get("parse_mode") != "HTML":
            return _error(400, description="Bad Request: message is too long")
        if params.get("parse_mode") == "HTML":
            problem = check_html(text)
            if problem:
                return _error(400, description=f"Bad Request: can't parse entities: {problem}")
            visible = re.sub(r"<[^>]+>", "", text)
            if len(visible.encode("utf-16-le")) // 2 > 4096:
                return _error(400, description="Bad Request: message is too long")
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
            return _error(400, description="Bad Request: query is too old and response timeout expired or "
                                           "query ID is invalid")
        if len(str(params.get("text", ""))) > 200:
            return _error(400, description="Bad Request: MESSAGE_TOO_LONG")
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
        return _error(400, description="Bad Request: message to edit not found")

    async def _api_sendMessageDraft(self, bot: FakeBot, params: dict[str, Any], reader: Any) -> tuple[int, Any]:
        """As the Bot API: private chats only, a non-zero draft id, text up to 4096 characters (empty: the
        "Thinking..." placeholder); True. Drafts are ephemeral: nothing lands in `sent`."""
        if bot.drafts_rejected:
            return _error(400, description="Bad Request: method sendMessageDraft is not available")
        chat_id, draft_id = int(params.get("chat_id", 0)), int(params.get("draft_id") or 0)
        text = str(params.get("text") or "")
        if chat_id <= 0:
            return _error(400, description="Bad Request: drafts are available only in private chats")
        if not draft_id:
            return _error(400, description="Bad Request: draft_id must be non-zero")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return _error(400, description="Bad Request: text is too long")
        bot.drafts.append({"chat_id": chat_id, "draft_id": draft_id, "text": text, "at": time.monotonic()})
        return 200, {"ok": True, "result": True}

    async def _api_sendChatAction(self, bot: FakeBot, params: dict[str, Any], reader: Any) -> tuple[int, Any]:
        refused = telegram_business.refusal(bot, params, sending=False)
        if refused:
            return _error(400, description=refused)
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

    def _control(self, action: str, body: dict[str, Any]) -> Any:
        if action == "add_bots":
            for token, username in body["bots"]:
                self.add_bot(token, username)
            return {"ok": True}
        if action == "push_text":
            return {"update_id": self._push(body["token"], text_update(body["text"], chat_id=body["chat_id"]))}
        if action == "load":
            self._load_task = asyncio.ensure_future(self._load(body["tokens"], body["rate"], body["seconds"]))
            return {"ok": True}
        if action == "stats":
            return self._stats()
        if action == "reset":
            for bot in self.bots.values():
                bot.sent.clear()
                bot.delivered_at.clear()
                bot.calls.clear()
            return {"ok": True}
        return {"ok": False}

    async def _load(self, tokens: list[str], rate: float, seconds: float) -> None:
        """Push `rate` text messages per second for `seconds`, spread over random bots and chats."""
        start = time.monotonic()
        rng = random.Random(7)  # noqa: S311
        n = 0
        while n < rate * seconds:
            due = start + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            token = rng.choice(tokens)
            self._push(token, text_update(f"question {n}", chat_id=100000 + rng.randrange(50)))
            n += 1

    def _stats(self) -> dict[str, Any]:
        overheads = []
        for bot in self.bots.values():
            first_send: dict[int, float] = {}
            by_chat: dict[int, list[float]] = defaultdict(list)
            for m in bot.sent:
                by_chat[m["chat_id"]].append(m["at"])
            # Pair each delivered update with the first send to its chat at or after delivery.
            for update_id, delivered in sorted(bot.delivered_at.items()):
                chat = bot.update_chat.get(update_id)
                sends = by_chat.get(chat, [])
                later = [t for t in sends if t >= delivered and t not in first_send.values()]
                if later:
                    first_send[update_id] = later[0]
                    overheads.append(later[0] - delivered)
        polling = sum(1 for b in self.bots.values() if any(c[0] == "getUpdates" for c in b.calls[-3:]))
        methods: dict[str, int] = defaultdict(int)
        for b in self.bots.values():
            for c in b.calls:
                methods[c[0]] += 1
        return {"methods": dict(methods), "bots": len(self.bots), "sent": sum(len(b.sent) for b in self.bots.values()),
                "delivered": sum(len(b.delivered_at) for b in self.bots.values()),
                "polled_bots": sum(1 for b in self.bots.values() if any(c[0] == "getUpdates" for c in b.calls)),
                "recently_polling": polling, "waiting_pollers": sum(b.pollers for b in self.bots.values()),
                "conflicts": sum(b.conflicts for b in self.bots.values()),
                "overheads": overheads}


def _error(status: int, retry_after: int | None = None, description: str = "") -> tuple[int, Any]:
    descriptions = {401: "Unauthorized", 409: "Conflict: terminated by other getUpdates request",
                    429: f"Too Many Requests: retry after {retry_after}", 400: "Bad Request",
                    403: "Forbidden: bot was blocked by the user", 500: "Internal Server Error", 502: "Bad Gateway"}
    payload: dict[str, Any] = {"ok": False, "error_code": status,
                               "description": description or descriptions.get(status, "Error")}
    if retry_after is not None:
        payload["parameters"] = {"retry_after": retry_after}
    return status, payload


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


def _callback_ids_of(bot: FakeBot) -> set[str]:
    return {str(u["callback_query"]["id"]) for u in bot.updates_seen if "callback_query" in u}


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


try:  # the pytest fixture, when pytest is around (import it into a conftest to use it)
    import pytest

    @pytest.fixture
    def fake_telegram(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegram]:
        """A running fake Bot API; TELEGRAM_API_URL points at it for this test."""
        from chatai.settings import get_settings

        server = FakeTelegram().start()
        monkeypatch.setenv("TELEGRAM_API_URL", server.url)
        get_settings.cache_clear()
        try:
            yield server
        finally:
            server.stop()
            monkeypatch.delenv("TELEGRAM_API_URL", raising=False)
            get_settings.cache_clear()
except ImportError:  # pragma: no cover
    pass


def main(server_cls: type[FakeTelegram] | None = None) -> None:
    """Separate-process mode (this fake, or a subclass such as the load bench's): prints the port on stdout,
    serves until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    async def serve() -> None:
        server = (server_cls or FakeTelegram)(port=args.port)
        server._loop = None  # single-threaded: _call runs inline
        await server._serve()
        print(server.port, flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
