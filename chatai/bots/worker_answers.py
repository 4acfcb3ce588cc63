"""The answering half of a bot's worker: answers owed (after a poll, a webhook delivery, a crash, a hand-over or
a top-up), one chat at a time in order, and the sends through Telegram (typing, parts, retries, markup
fallback), fenced by the bot's lease.

Why apart from supervisor.py: that module receives and supervises; this one answers. `WorkerAnswers` is mixed
into BotWorker and uses its runner, bot, throttle and bookkeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from chatai import metrics
from chatai.bots import business, handlers
from chatai.bots.bot_sentences import ANSWER_SKIPPED, REVOKED
from chatai.bots.contracts import AssistantInfo, BotRecord, LeaseLost
from chatai.bots.logsafe import debug_details, describe
from chatai.bots.throttle import retry_after_seconds
from chatai.services import dialogs
from chatai.settings import get_settings

log = logging.getLogger(__name__)

TYPING_AFTER = 0.25
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # immutable: one for every message


def plain_text(html_text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


class WorkerAnswers:
    """What it uses of the worker, set by BotWorker:"""

    id: Any  # the bot's uuid
    runner: Any  # contracts.Runner
    record: BotRecord
    bot: Any  # telegram_api.LeanBot
    throttle: Any  # throttle.Throttle
    inflight: set[int]
    _done: OrderedDict[int, None]
    _attempts: dict[int, int]
    _tasks: set[asyncio.Task]
    _chat_locks: dict[int, list[Any]]

    def check_lease(self) -> None:  # BotWorker's
        raise NotImplementedError

    def _set_status(self, status: str, error: str = "") -> None:  # BotWorker's
        raise NotImplementedError

    def _event(self, kind: str, message: str) -> None:  # BotWorker's
        raise NotImplementedError

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
        except Exception as exc:  # noqa: BLE001 - the next sweep tries again
            log.warning("bot %s: pending updates not loaded: %s", self.id, describe(exc))
            return
        limit = max(1, get_settings().bot_update_max_attempts)
        for p in pending:
            if p.ai_muted or self._owed_elsewhere(p.update_id):
                continue
            attempts = self._attempts.get(p.update_id, 0)
            if attempts >= limit:
                log.warning("bot %s: giving up on update %s after %s attempts", self.id, p.update_id, attempts)
                try:
                    async with self.runner.db() as conn:
                        await dialogs.mark_failed(conn, bot_id=self.id, update_id=p.update_id)
                except Exception as exc:  # noqa: BLE001 - the next sweep tries again
                    log.warning("bot %s: update %s not marked failed: %s", self.id, p.update_id, describe(exc))
                    continue
                self._attempts.pop(p.update_id, None)
                self._remember_done(p.update_id)
                self._event("update_failed", ANSWER_SKIPPED.format(update_id=p.update_id, n=attempts))
                continue
            self.inflight.add(p.update_id)
            self._spawn_answer(p)

    def take_delivered(self, delivered: list[dialogs.Pending]) -> None:
        """Answer updates the web worker stored and handed over (webhook mode, pending_wire.py), as after a poll.
        One being answered here or done already is skipped (the sweep may have found it first); one that failed
        before is left to recover(), which counts its attempts."""
        for p in delivered:
            if p.ai_muted or self._owed_elsewhere(p.update_id) or p.update_id in self._attempts:
                continue
            self.inflight.add(p.update_id)
            self._spawn_answer(p)

    async def answer_again(self, update_ids: list[int]) -> None:
        """Updates the database handed back to be answered after they were handled here (a question a zero
        balance left waiting, claimed after a top-up: services/topup_resume.py): forget them, then answer."""
        for update_id in update_ids:
            self._done.pop(update_id, None)
        await self.recover(update_ids)

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
                await (business.respond if pending.channel == "business" else handlers.respond)(self, pending)
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
            log.warning("bot %s: update %s not answered yet: %s", self.id, pending.update_id, describe(exc))
            debug_details(log, exc, "bot %s: update %s not answered yet", self.id, pending.update_id)
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._chat_locks.pop(pending.chat_id, None)
            self.inflight.discard(pending.update_id)
            if ok:
                self._attempts.pop(pending.update_id, None)
                self._remember_done(pending.update_id)

    def _remember_done(self, update_id: int) -> None:
        """Handled for good here (answered, or failed and skipped): a re-delivery is not processed again."""
        self._done[update_id] = None
        while len(self._done) > 4096:
            self._done.popitem(last=False)

    async def assistant(self) -> AssistantInfo:
        """Name, greeting and switch of the assistant (cached by the runner for all its bots)."""
        return await self.runner.assistant(self.record.assistant_id)

    @contextlib.asynccontextmanager
    async def typing(self, chat_id: int, *, business_connection_id: str = "") -> AsyncIterator[None]:
        """'typing…' in the chat until the answer is ready (Telegram shows it ~5 s per call); in a business
        chat through the owner's connection."""

        async def loop() -> None:
            await asyncio.sleep(TYPING_AFTER)  # instant answers need no indicator (and no extra request)
            while True:
                with contextlib.suppress(Exception):
                    await self.bot.send_chat_action(chat_id=chat_id, action="typing",
                                                    business_connection_id=business_connection_id or None)
                await asyncio.sleep(4.5)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()

    async def send_parts(self, chat_id: int, parts: list[str], *, business_connection_id: str = "") -> int | None:
        """Send each part in order; returns the first message id, None if the chat is unreachable. With a
        business connection id, the parts go to the owner's own chat with that customer."""
        first: int | None = None
        for part in parts:
            message_id = await self._send_one(chat_id, part, business_connection_id or None)
            if message_id is None:
                return None
            first = first or message_id
        return first

    async def _send_one(self, chat_id: int, text: str, business_connection_id: str | None = None) -> int | None:
        parse_mode: str | None = ParseMode.HTML
        delay = self.runner.backoff_base
        for _attempt in range(8):
            await self.throttle.wait(chat_id)
            self.check_lease()
            try:
                message = await self.bot.send_message_raw(chat_id=chat_id, text=text, parse_mode=parse_mode,
                                                          link_preview_options=NO_PREVIEW,
                                                          business_connection_id=business_connection_id)
                return int(message["message_id"])
            except RetryAfter as exc:  # this chat waits; other chats keep going
                metrics.events.send_error("retry_after")
                self.throttle.block(chat_id, retry_after_seconds(exc.retry_after))
            except BadRequest as exc:
                metrics.events.send_error("bad_request")
                if parse_mode and "parse" in str(exc).lower():
                    parse_mode, text = None, plain_text(text)  # never lose an answer over markup
                    continue
                if "chat not found" in str(exc).lower():
                    return None
                raise
            except Forbidden:  # the user blocked the bot
                metrics.events.send_error("forbidden")
                return None
            except (NetworkError, TimedOut) as exc:
                if isinstance(exc, InvalidToken):
                    raise
                metrics.events.send_error("network")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        raise NetworkError("sendMessage kept failing")
