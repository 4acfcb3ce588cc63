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
from typing import Any

from tests.fakes.telegram_methods import BotApiMethods, error_reply
from tests.fakes.telegram_updates import text_update
from tests.waits import PATIENCE

STRING_FIELDS = {"text", "parse_mode", "url", "secret_token", "action", "caption", "ip_address", "callback_query_id",
                 "business_connection_id"}


def make_token(bot_id: int) -> str:
    """A token in Telegram's format: '<bot id>:<35 chars>'."""
    return f"{bot_id}:AA{'x' * 10}{bot_id:023d}"[: len(str(bot_id)) + 36]


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


class FakeTelegram(BotApiMethods):
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
                return error_reply(failure["status"], failure.get("retry_after"))
        handler = getattr(self, f"_api_{api_method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        return await handler(bot, params, reader)

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
