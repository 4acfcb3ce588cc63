"""One bot inside the runner: its Telegram client, its poll loop and its supervision (its answers and sends:
worker_answers.py).

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

Poison updates: an update that cannot be stored (whatever the cause, short of the database being
unreachable) is retried with backoff, and after `bot_update_max_attempts` failures it is marked 'failed'
and skipped, so the offset moves on and the bot's other customers are answered; an update whose answer
keeps failing is given up the same way. `last_error` and the event log (services/bot_events.py) get
sentences, never exception text; logs get `logsafe.describe()`, never a customer's words or name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict
from typing import Any

import sqlalchemy as sa
from telegram.error import Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from chatai.bots import bot_setup, business, handlers, operator_updates
from chatai.bots.bot_sentences import (
    CONFLICT,
    DATABASE_UNREACHABLE,
    INTERNAL_ERROR,
    RECOVERED,
    REVOKED,
    STORE_RETRYING,
    STORE_SKIPPED,
    TELEGRAM_UNREACHABLE,
)
from chatai.bots.contracts import BotRecord, LeaseLost, Runner, UpdateFailed
from chatai.bots.logsafe import debug_details, describe
from chatai.bots.telegram_api import LeanBot
from chatai.bots.throttle import Throttle, retry_after_seconds
from chatai.bots.worker_answers import WorkerAnswers
from chatai.cancellation import cancel_and_wait
from chatai.db.models import utcnow
from chatai.services import bot_events, dialogs
from chatai.services.bots import redact
from chatai.services.handoff import publish_events
from chatai.settings import get_settings

log = logging.getLogger(__name__)

ALLOWED_UPDATES = bot_setup.ALLOWED_UPDATES


def database_unreachable(exc: BaseException) -> bool:
    """The database (not this update) is the problem: no update is blamed for an outage."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError, OSError,
                            TimeoutError))


class BotWorker(WorkerAnswers):
    def __init__(self, runner: Runner, record: BotRecord) -> None:
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
        self._attempts: dict[int, int] = {}  # answers that raised, by update id
        self._store_failures: dict[int, int] = {}  # updates that could not be stored, by update id
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
            await cancel_and_wait([self._main], what=f"bot {self.id}")
        if self._tasks and grace > 0:
            await asyncio.wait(set(self._tasks), timeout=grace)
        await self._cancel_tasks()
        await self._close()

    async def abort(self) -> None:
        """Simulated crash (tests) or lost lease: cancel everything, write nothing."""
        await cancel_and_wait([self._main, *self._tasks] if self._main is not None else self._tasks,
                              what=f"bot {self.id}")
        await self._close()

    async def _cancel_tasks(self) -> None:
        await cancel_and_wait(self._tasks, what=f"bot {self.id}")

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self.bot.shutdown()  # the shared HTTP pools ignore it; the runner closes them

    def _set_status(self, status: str, error: str = "") -> None:
        """Queue the new status for the bots row; entering 'error' and leaving it are events of the log."""
        if status == self.status and not error:
            return
        if status == "running" and self._store_failures:
            return  # a message is still being retried: not healthy yet (and no error/recovered flapping)
        previous, self.status = self.status, status
        error = redact(error)[:1000]
        self.runner.queue_status(self, status, error)
        if status == "error" and previous != "error":
            self._event("error", error)
        elif status == "running" and previous == "error":
            self._event("recovered", RECOVERED)

    def _event(self, kind: str, message: str) -> None:
        """Record an event of the bot's log in the background (stamped now: writes may finish out of order)."""
        at = utcnow()

        async def write() -> None:
            try:
                async with self.runner.db() as conn:
                    await bot_events.record(conn, bot_id=self.id, owner_id=self.record.owner_id, kind=kind,
                                            message=message, at=at)
            except Exception as exc:  # noqa: BLE001 - the log is informational; bots.status stays the truth
                log.warning("bot %s: %s event not recorded: %s", self.id, kind, describe(exc))

        self._spawn_background(write())

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
                await self._forget_setup()
                self._set_status("error", REVOKED)
                return
            except Conflict:
                conflicts += 1
                await self._forget_setup()  # a webhook set elsewhere answers getUpdates with 409: delete it
                if conflicts >= 3:
                    self._set_status("error", CONFLICT)
                delay = min(60.0, self.runner.backoff_base * 2 ** conflicts)
            except RetryAfter as exc:
                delay = retry_after_seconds(exc.retry_after)
            except UpdateFailed as exc:
                self._set_status("error", exc.sentence)
                delay = min(30.0, self.runner.backoff_base * 2 ** exc.attempts)
            except (NetworkError, TimedOut, OSError) as exc:
                failures += 1
                if failures >= 3:
                    log.warning("bot %s: cannot reach Telegram: %s", self.id, describe(exc))
                    self._set_status("error", TELEGRAM_UNREACHABLE)
                delay = min(30.0, self.runner.backoff_base * 2 ** failures)
            except Exception as exc:  # noqa: BLE001 - one bad bot never affects the others
                failures += 1
                log.warning("bot %s: unexpected error: %s", self.id, describe(exc))
                debug_details(log, exc, "bot %s: unexpected error", self.id)
                self._set_status("error", DATABASE_UNREACHABLE if database_unreachable(exc) else INTERNAL_ERROR)
                delay = min(60.0, self.runner.backoff_base * 2 ** failures)
            else:
                delay = 0
            await asyncio.sleep(delay)

    def check_lease(self) -> None:
        """Raise LeaseLost once this runner may no longer act for the bot (its lease was not renewed in
        time): every send to Telegram for the bot, customers' and operators', checks it first."""
        if time.monotonic() > self.lease_deadline:
            raise LeaseLost()

    async def _run_once(self) -> None:
        self.check_lease()
        await self._set_up()
        if self.runner.mode == "webhook":
            self._set_status("running")
            self.runner.note_poll(self.id)
            self.runner.bot_up()
            await asyncio.Event().wait()  # updates arrive through the web route; answers through commands
        await self._poll_loop()

    async def _set_up(self) -> None:
        await bot_setup.set_up(self, self.bot)

    async def _forget_setup(self) -> None:
        await bot_setup.forget(self)

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
            self.check_lease()
            updates = await self.bot.get_updates_raw(offset=offset, timeout=timeout,
                                                     allowed_updates=ALLOWED_UPDATES, read_timeout=5.0)
            timeout = self.runner.poll_timeout
            self.runner.note_poll(self.id)
            if self._store_failures:
                self._forget_gone(updates)
            self._set_status("running")
            if not updates:
                continue
            await self._ingest(updates)
            offset = updates[-1]["update_id"] + 1  # confirm only what is committed

    async def _ingest(self, updates: list[dict[str, Any]]) -> None:
        """Store the batch in order (one statement per update on one connection) and start answering each
        one stored. An update that fails is retried (UpdateFailed) or, out of attempts, skipped; the
        database being unreachable is raised as it is: that is nobody's poison."""
        queue = [u for u in updates if u["update_id"] not in self.inflight and u["update_id"] not in self._done]
        while queue:
            failed: tuple[int, Exception] | None = None
            async with self.runner.db() as conn:
                while queue:
                    update = queue.pop(0)
                    try:
                        await self._store(conn, update)
                    except Exception as exc:
                        if database_unreachable(exc):
                            raise
                        failed = (update["update_id"], exc)
                        break  # a fresh connection for what follows: this one saw an error
            if failed is not None:
                await self._store_failed(*failed)

    def _forget_gone(self, updates: list[dict[str, Any]]) -> None:
        """Failures counted for updates Telegram no longer delivers (it hands them out in order, so an id
        below the first one fetched, or any when nothing came, is gone): they no longer hold the bot in error."""
        first = updates[0]["update_id"] if updates else None
        for update_id in [i for i in self._store_failures if first is None or i < first]:
            del self._store_failures[update_id]

    async def _store(self, conn: Any, update: dict[str, Any]) -> None:
        update_id = update["update_id"]
        self.inflight.add(update_id)
        try:
            operator_update = await operator_updates.intercept(self, conn, update)  # never a customer's question
            if operator_update is not None:
                self.inflight.discard(update_id)
                self._store_failures.pop(update_id, None)
                self._spawn_background(operator_update)
                return
            stored = await business.store(conn, update, bot_id=self.id, owner_id=self.record.owner_id,
                                          assistant_id=self.record.assistant_id)
            if stored is not None:
                pending = stored.pending
                if stored.events:
                    self._spawn_background(publish_events(stored.events))
            else:
                incoming = await handlers.classify_for(self, update)
                pending = await dialogs.record_incoming(conn, bot_id=self.id, owner_id=self.record.owner_id,
                                                        assistant_id=self.record.assistant_id, incoming=[incoming])
        except BaseException:
            self.inflight.discard(update_id)
            raise
        self._store_failures.pop(update_id, None)
        if not any(not p.ai_muted for p in pending):
            self.inflight.discard(update_id)
        for p in pending:
            if not p.ai_muted:
                self._spawn_answer(p)
            self.runner.writeback.nudge(dialog_id=p.dialog_id, owner_id=p.owner_id, role="user")

    async def _store_failed(self, update_id: int, exc: Exception) -> None:
        """Count a failure to store this update: retry it (raise UpdateFailed) or, the last attempt used, mark
        it failed, record the event and carry on with the rest."""
        limit = max(1, get_settings().bot_update_max_attempts)
        attempts = self._store_failures[update_id] = self._store_failures.get(update_id, 0) + 1
        log.warning("bot %s: update %s not stored (attempt %d of %d): %s", self.id, update_id, attempts, limit,
                    describe(exc))
        debug_details(log, exc, "bot %s: update %s not stored", self.id, update_id)
        if attempts < limit:
            raise UpdateFailed(STORE_RETRYING.format(n=attempts, limit=limit), attempts)
        async with self.runner.db() as conn:
            await dialogs.mark_failed(conn, bot_id=self.id, update_id=update_id)
        self._store_failures.pop(update_id, None)
        self._remember_done(update_id)
        self._event("update_failed", STORE_SKIPPED.format(update_id=update_id, n=attempts))
