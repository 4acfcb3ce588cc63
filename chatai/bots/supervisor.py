"""One bot inside the runner: its python-telegram-bot Application, its poll loop, its sends.

Why a hand-written poll loop instead of `updater.start_polling()`: PTB's Updater confirms an
update's offset on its next getUpdates whether or not the update was processed, so a crash between
fetching and persisting would lose messages. Here the offset moves on only after the batch is
committed (`dialogs.record_incoming`), which makes Telegram's delivery at-least-once and our
processing idempotent. Everything else is PTB: a `telegram.Bot` per bot, HTTPXRequest, errors. Not an
Application: none of its dispatching is used here, and it costs ~8 KB per bot against ~0.7 KB.

Supervision: network errors and 5xx retry with backoff (status 'error' after a few in a row, back to
'running' on success); 401 stops the bot with status 'error' (a revoked token will not heal);
409 retries with backoff, then 'error' while it keeps trying slowly. Nothing here can raise into
the runner or another bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from chatai.bots import handlers
from chatai.bots.telegram_api import LeanBot
from chatai.bots.throttle import Throttle
from chatai.services import dialogs
from chatai.services.bots import redact
from chatai.settings import get_settings

if TYPE_CHECKING:
    from chatai.bots.runner import BotRunner

log = logging.getLogger(__name__)

REVOKED = ("Telegram rejected the token (401 Unauthorized): it was revoked or replaced in @BotFather. "
           "Paste the new token to restart the bot.")
CONFLICT = ("Another program is receiving this bot's updates (409 Conflict). Stop it, or disconnect the bot "
            "there; retrying.")


TYPING_AFTER = 0.25
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # immutable: one for every message
ALLOWED_UPDATES = ("message",)


class LeaseLost(Exception):
    """This runner may no longer act for the bot (another runner owns it now)."""


@dataclass
class BotRecord:
    """What a worker needs from the bots row (decrypted token stays in memory only)."""

    id: uuid.UUID
    owner_id: uuid.UUID
    assistant_id: uuid.UUID
    token: str
    token_encrypted: str
    webhook_secret: str
    username: str = ""


@dataclass
class AssistantInfo:
    name: str
    greeting: str
    enabled: bool
    loaded: float


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _plain_text(html_text: str) -> str:
    import html as _html

    return _html.unescape(re.sub(r"<[^>]+>", "", html_text))


class BotWorker:
    def __init__(self, runner: BotRunner, record: BotRecord) -> None:
        self.runner = runner
        self.record = record
        self.id = record.id
        self.answer_fn = runner.answer_fn
        self.answer_timeout = runner.answer_timeout
        self.throttle = Throttle()
        self.status = "starting"
        self.failed = False  # stopped for good until a new token or a resume
        self.lease_deadline = time.monotonic() + runner.lease_ttl
        self.inflight: set[int] = set()
        self._done: OrderedDict[int, None] = OrderedDict()
        self._attempts: dict[int, int] = {}
        self._tasks: set[asyncio.Task] = set()
        self._chat_locks: dict[int, list[Any]] = {}
        self._main: asyncio.Task | None = None
        api = get_settings().telegram_api_url.rstrip("/")
        self.bot = LeanBot(record.token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot",
                       request=runner.send_request_for(record.id),
                       get_updates_request=runner.updates_request_for(record.id))

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._main = asyncio.create_task(self._supervise(), name=f"bot-{self.id}")

    async def stop(self, *, grace: float = 3.0) -> None:
        """Stop receiving now; let answers already being produced finish for up to `grace` seconds."""
        if self._main is not None:
            self._main.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._main
        if self._tasks and grace > 0:
            await asyncio.wait(set(self._tasks), timeout=grace)
        await self._cancel_tasks()
        await self._close()

    async def abort(self) -> None:
        """Simulated crash (tests) or lost lease: cancel everything, write nothing."""
        if self._main is not None:
            self._main.cancel()
        await self._cancel_tasks()
        with contextlib.suppress(BaseException):
            if self._main is not None:
                await self._main
        await self._close()

    async def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self.bot.shutdown()  # the shared HTTP pools ignore it; the runner closes them

    def _set_status(self, status: str, error: str = "") -> None:
        if status == self.status and not error:
            return
        self.status = status
        self.runner.queue_status(self, status, redact(error)[:1000])

    # --- supervision ---------------------------------------------------------------------------

    async def _supervise(self) -> None:
        failures = 0
        conflicts = 0
        while True:
            try:
                await self._run_once()
                return
            except asyncio.CancelledError:
                raise
            except LeaseLost:
                self.runner.forget(self)
                return
            except (InvalidToken, Forbidden) as exc:
                log.warning("bot %s stopped: token rejected (%s)", self.id, type(exc).__name__)
                self.failed = True
                self._set_status("error", REVOKED)
                return
            except Conflict:
                conflicts += 1
                if conflicts >= 3:
                    self._set_status("error", CONFLICT)
                delay = min(60.0, self.runner.backoff_base * 2 ** conflicts)
            except RetryAfter as exc:
                delay = _seconds(exc.retry_after)
            except (NetworkError, TimedOut, OSError) as exc:
                failures += 1
                if failures >= 3:
                    self._set_status("error", f"Cannot reach Telegram: {redact(str(exc))[:200]}")
                delay = min(30.0, self.runner.backoff_base * 2 ** failures)
            except Exception as exc:  # noqa: BLE001 - one bad bot never affects the others
                failures += 1
                log.exception("bot %s: unexpected error", self.id)
                self._set_status("error", f"Internal error: {redact(type(exc).__name__ + ': ' + str(exc))[:200]}")
                delay = min(60.0, self.runner.backoff_base * 2 ** failures)
            else:
                delay = 0
            await asyncio.sleep(delay)

    def _check_lease(self) -> None:
        if time.monotonic() > self.lease_deadline:
            raise LeaseLost()

    async def _run_once(self) -> None:
        self._check_lease()
        async with self.runner.startup_slots:  # a thousand bots starting must not stampede
            await self.bot.initialize()  # getMe once (idempotent): a revoked token fails here with 401
            if self.runner.mode != "webhook":
                await self.bot.delete_webhook()
        if self.runner.mode == "webhook":
            url = f"{get_settings().public_url.rstrip('/')}/telegram/webhook/{self.id}"
            await self.bot.set_webhook(url=url, secret_token=self.record.webhook_secret, allowed_updates=["message"],
                                       max_connections=40)
            self._set_status("running")
            self.runner.note_poll(self.id)
            self.runner.bot_up()
            await asyncio.Event().wait()  # updates arrive through the web route; answers through commands
        await self._poll_loop()

    async def _poll_loop(self) -> None:
        offset: int | None = None
        # getMe and deleteWebhook worked: the bot is up. Answers owed from before a restart or a
        # hand-over are found by the runner's sweep (one query for all bots, not one per bot).
        self._set_status("running")
        self.runner.note_poll(self.id)
        self.runner.bot_up()
        # An idle bot's poll ends every poll_timeout seconds and the next starts at once, so bots started
        # together (runner start, takeover, recovery after an outage) would stay in step: a thousand
        # empty polls ending within a few seconds, every poll_timeout, each costing the runner CPU that
        # messages arriving then wait for. A random first timeout spreads their phases for good.
        timeout = random.randint(1, self.runner.poll_timeout)  # noqa: S311 - not security
        while True:
            self._check_lease()
            updates = await self.bot.get_updates_raw(offset=offset, timeout=timeout,
                                                     allowed_updates=ALLOWED_UPDATES, read_timeout=5.0)
            timeout = self.runner.poll_timeout
            self.runner.note_poll(self.id)
            self._set_status("running")
            if not updates:
                continue
            await self._ingest(updates)
            offset = updates[-1]["update_id"] + 1  # confirm only what is committed

    async def _ingest(self, updates: list[dict[str, Any]]) -> None:
        ids = [u["update_id"] for u in updates]
        fresh = [i for i in ids if i not in self.inflight and i not in self._done]
        self.inflight.update(fresh)
        try:
            incoming = [handlers.classify(u) for u in updates if u["update_id"] in fresh]
            async with self.runner.db() as conn:
                pending = await dialogs.record_incoming(conn, bot_id=self.id, owner_id=self.record.owner_id,
                                                        assistant_id=self.record.assistant_id, incoming=incoming)
        except BaseException:
            self.inflight.difference_update(fresh)
            raise
        new = {p.update_id for p in pending if not p.ai_muted}
        self.inflight.difference_update(set(fresh) - new)
        for p in pending:
            if p.update_id in new:
                self._spawn_answer(p)
            self.runner.writeback.nudge(dialog_id=p.dialog_id, owner_id=p.owner_id, role="user")

    def _owed_elsewhere(self, update_id: int) -> bool:
        """Being answered here, or answered with the mark not written yet: not for recovery."""
        return (update_id in self.inflight or update_id in self._done
                or self.runner.writeback.owes(self.id, update_id))

    # --- answering ------------------------------------------------------------------------------

    async def recover(self, update_ids: list[int] | None = None) -> None:
        """Answer persisted updates that are still owed (crash, hand-over, webhook delivery)."""
        if update_ids is not None:
            update_ids = [i for i in update_ids if not self._owed_elsewhere(i)]
            if not update_ids:
                return
        try:
            async with self.runner.session() as session:
                pending = await dialogs.load_pending(session, bot_id=self.id, update_ids=update_ids)
        except Exception:  # noqa: BLE001 - the next sweep tries again
            log.warning("bot %s: pending updates not loaded", self.id, exc_info=True)
            return
        for p in pending:
            if p.ai_muted or self._owed_elsewhere(p.update_id):
                continue
            attempts = self._attempts.get(p.update_id, 0)
            if attempts >= 5:
                log.warning("bot %s: giving up on update %s after %s attempts", self.id, p.update_id, attempts)
                async with self.runner.db() as conn:
                    await dialogs.mark_ignored(conn, bot_id=self.id, update_id=p.update_id)
                continue
            self.inflight.add(p.update_id)
            self._spawn_answer(p)

    def _spawn_background(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn_answer(self, pending: dialogs.Pending) -> None:
        self._spawn_background(self._answer(pending))

    async def _answer(self, pending: dialogs.Pending) -> None:
        entry = self._chat_locks.setdefault(pending.chat_id, [asyncio.Lock(), 0])
        entry[1] += 1
        ok = False
        try:
            async with entry[0]:  # one chat answered in order; other chats in parallel
                await handlers.respond(self, pending)
                ok = True
        except asyncio.CancelledError:
            raise
        except LeaseLost:
            pass
        except (InvalidToken, Forbidden) as exc:
            if isinstance(exc, InvalidToken):
                self._set_status("error", REVOKED)
        except Exception as exc:  # noqa: BLE001 - stays 'received'; the recovery sweep retries
            self._attempts[pending.update_id] = self._attempts.get(pending.update_id, 0) + 1
            log.warning("bot %s: update %s not answered yet: %s", self.id, pending.update_id,
                        redact(repr(exc))[:300])
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._chat_locks.pop(pending.chat_id, None)
            self.inflight.discard(pending.update_id)
            if ok:
                self._attempts.pop(pending.update_id, None)
                self._done[pending.update_id] = None
                while len(self._done) > 4096:
                    self._done.popitem(last=False)

    async def assistant(self) -> AssistantInfo:
        """Name, greeting and switch of the assistant (cached by the runner for all its bots)."""
        return await self.runner.assistant(self.record.assistant_id)

    @contextlib.asynccontextmanager
    async def typing(self, chat_id: int) -> AsyncIterator[None]:
        """'typing…' in the chat until the answer is ready (Telegram shows it ~5 s per call)."""

        async def loop() -> None:
            await asyncio.sleep(TYPING_AFTER)  # instant answers need no indicator (and no extra request)
            while True:
                with contextlib.suppress(Exception):
                    await self.bot.send_chat_action(chat_id=chat_id, action="typing")
                await asyncio.sleep(4.5)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()

    async def send_parts(self, chat_id: int, parts: list[str]) -> int | None:
        """Send each part in order; returns the first message id, None if the chat is unreachable."""
        first: int | None = None
        for part in parts:
            message_id = await self._send_one(chat_id, part)
            if message_id is None:
                return None
            first = first or message_id
        return first

    async def _send_one(self, chat_id: int, text: str) -> int | None:
        parse_mode: str | None = ParseMode.HTML
        delay = self.runner.backoff_base
        for _attempt in range(8):
            await self.throttle.wait(chat_id)
            self._check_lease()
            try:
                message = await self.bot.send_message_raw(chat_id=chat_id, text=text, parse_mode=parse_mode,
                                                          link_preview_options=NO_PREVIEW)
                return int(message["message_id"])
            except RetryAfter as exc:  # this chat waits; other chats keep going
                self.throttle.block(chat_id, _seconds(exc.retry_after))
            except BadRequest as exc:
                if parse_mode and "parse" in str(exc).lower():
                    parse_mode, text = None, _plain_text(text)  # never lose an answer over markup
                    continue
                if "chat not found" in str(exc).lower():
                    return None
                raise
            except Forbidden:  # the user blocked the bot
                return None
            except (NetworkError, TimedOut) as exc:
                if isinstance(exc, InvalidToken):
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        raise NetworkError("sendMessage kept failing")
