"""Reconciling a runner's bots with the database and the leases: which bots run here, started, stopped and
restarted as their rows say (paused, new token, deleted, failed then resumed), and free bots taken.

Why apart from runner.py: the runner is the process's lifecycle and loops; this is the decision of what runs.
`Reconciler` is a part of BotRunner (mixed in): it uses the runner's database, leases, locks and workers.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from typing import Any

from chatai.bots import logsafe, pending_wire, queries
from chatai.bots.contracts import BotRecord
from chatai.bots.ownership import preferred_runner
from chatai.bots.pacing import in_slices, slices
from chatai.bots.supervisor import BotWorker
from chatai.security import decrypt_secret

log = logging.getLogger(__name__)


class Reconciler:
    """The reconcile half of BotRunner (see the module doc). What it uses of the runner, set by BotRunner:"""

    runner_id: str
    mode: str
    workers: dict[uuid.UUID, BotWorker]
    stop_grace: float
    takeover_grace: float
    setup_records: Any  # bot_setup.SetupRecords
    _leases: Any  # ownership.Leases, once started
    _locks: Any  # pacing.BotLocks
    _live: list[str]
    _wanted: set[uuid.UUID]
    _free_since: dict[uuid.UUID, float]
    _digest: str | None
    _stopping: bool
    db: Any  # the runner's admitted AUTOCOMMIT connections (BotRunner.db)
    queue_status: Any

    async def reconcile(self, only: uuid.UUID | None = None, *, restart: bool = False) -> None:
        """Make the running set match the database (and the leases): one bot, or all of them."""
        if only is not None:
            async with self._locks.hold(only):
                await self._apply(only, restart=restart)
            return
        # The periodic pass (the safety net for lost commands, and how a dead runner's bots move here)
        # runs every few seconds on the loop that answers messages, so it costs one digest row when the
        # table did not change, and otherwise a slim comparison in slices; full rows only for bots acted on.
        async with self.db() as conn:
            digest = await queries.digest(conn)
        if digest != self._digest:
            await self._compare_all()
            self._digest = digest  # only once compared: after a failed round the next one compares again
        await self._start_free([bot_id for bot_id in self._wanted if bot_id not in self.workers])

    async def _compare_all(self) -> None:
        """Every bot's state against what runs here. A digest read before this comparison covers it: a
        change made meanwhile changes the next digest, so it is compared again next round."""
        async with self.db() as conn:
            rows = await queries.states(conn)
        wanted: set[uuid.UUID] = set()
        seen: set[uuid.UUID] = set()
        act: list[uuid.UUID] = []
        async for part in in_slices(rows):
            for row in part:
                seen.add(row.id)
                if row.desired_state == "running":
                    wanted.add(row.id)
                worker = self.workers.get(row.id)
                if worker is not None and _needs_action(row, worker):
                    act.append(row.id)
        act.extend(bot_id for bot_id in self.workers if bot_id not in seen)  # deleted
        self._wanted = wanted
        for bot_id in act:
            async with self._locks.hold(bot_id):
                await self._apply(bot_id)

    async def _apply(self, bot_id: uuid.UUID, *, restart: bool = False) -> None:
        """Act on the bot's row as it is now (the caller holds the bot's lock): stop, restart, or start
        it when its lease is free."""
        async with self.db() as conn:
            row = (await queries.records(conn, [bot_id])).get(bot_id)
        running = row is not None and row.desired_state == "running"
        if running:
            self._wanted.add(bot_id)
        else:
            self._wanted.discard(bot_id)
        worker = self.workers.get(bot_id)
        if worker is not None:
            if not running:
                await self._stop_worker(bot_id, paused=row is not None)
            elif restart or _needs_action(row, worker):
                await self._restart_worker(row)
        elif running and await self._free_to_take([bot_id]):
            await self._take(row, (await self._recorded_setups([bot_id])).get(bot_id, ""))

    async def _start_free(self, candidates: list[uuid.UUID]) -> None:
        """Start the candidates whose lease is free, a slice at a time: lock the slice's bots (a bot a
        command is acting on right now is left to the command), read their rows, take their leases."""
        for part in slices(await self._free_to_take(candidates)):
            if self._stopping:
                return
            async with contextlib.AsyncExitStack() as stack:
                mine = [bot_id for bot_id in part if not self._locks.busy(bot_id)]
                if not mine:
                    continue
                for bot_id in mine:
                    await stack.enter_async_context(self._locks.hold(bot_id))
                async with self.db() as conn:
                    rows = await queries.records(conn, mine)
                setups = await self._recorded_setups(mine)
                for bot_id in mine:
                    row = rows.get(bot_id)
                    if row is not None and row.desired_state == "running" and bot_id not in self.workers:
                        await self._take(row, setups.get(bot_id, ""))

    async def _recorded_setups(self, bot_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        """What Telegram holds for these bots as recorded (bot_setup.py); Redis away: unknown, set up again."""
        try:
            return await self.setup_records.recorded(bot_ids)
        except Exception as exc:  # noqa: BLE001
            log.warning("bot set-up records not read: %s", logsafe.describe(exc))
            return {}

    async def _free_to_take(self, candidates: list[uuid.UUID]) -> list[uuid.UUID]:
        """Candidates without a lease that this runner should take: at once when it is their preferred
        runner, after takeover_grace otherwise (their preferred runner may be dead)."""
        assert self._leases is not None
        if not candidates:
            return []
        holders = await self._leases.holders(candidates)
        live = self._live or [self.runner_id]
        now = time.monotonic()
        to_start = []
        async for part in in_slices(candidates):
            for bot_id in part:
                if holders.get(bot_id):
                    self._free_since.pop(bot_id, None)
                    continue
                first_free = self._free_since.setdefault(bot_id, now)
                if preferred_runner(bot_id, live) == self.runner_id or now - first_free >= self.takeover_grace:
                    to_start.append(bot_id)
        return to_start

    async def _take(self, row: Any, setup: str = "") -> None:
        assert self._leases is not None
        if not self._stopping and await self._leases.acquire(row.id):
            self._free_since.pop(row.id, None)
            self._start_worker(row, setup)

    def _record(self, row: Any, setup: str = "") -> BotRecord:
        return BotRecord(id=row.id, owner_id=row.owner_id, assistant_id=row.assistant_id,
                         token=decrypt_secret(row.token_encrypted), token_encrypted=row.token_encrypted,
                         webhook_secret=row.webhook_secret, username=row.username, setup=setup)

    def _start_worker(self, row: Any, setup: str = "") -> None:
        try:
            worker = BotWorker(self, self._record(row, setup))
        except Exception as exc:  # noqa: BLE001 - e.g. SECRET_KEY changed: only this bot fails
            log.warning("bot %s cannot start: %s", row.id, type(exc).__name__)
            return
        self.workers[row.id] = worker
        worker.start()

    async def _restart_worker(self, row: Any) -> None:
        old = self.workers.pop(row.id, None)
        if old is not None:
            await old.stop(grace=self.stop_grace)
        self._start_worker(row)  # set up again: a restart (admin, new token, retry) also repairs the webhook

    async def _stop_worker(self, bot_id: uuid.UUID, *, paused: bool) -> None:
        worker = self.workers.pop(bot_id, None)
        if worker is None:
            return
        if self.mode == "webhook":
            with contextlib.suppress(Exception):
                await worker.bot.delete_webhook()  # Telegram keeps the updates for when it resumes
        if self.mode == "webhook" or not paused:  # no webhook any more, or no bot: the record is stale
            with contextlib.suppress(Exception):
                await self.setup_records.forget(bot_id)
        await worker.stop(grace=self.stop_grace)
        if self._leases is not None:
            await self._leases.release([bot_id])
        if paused:
            self.queue_status(worker, "paused", "")

    async def _on_command(self, action: str, bot_id: uuid.UUID, update_ids: list[int] | None = None,
                          delivered: Any = None) -> None:
        try:
            async with self._locks.hold(bot_id):
                if action == "pending":
                    worker = self.workers.get(bot_id)
                    if worker is None:
                        return
                    try:  # what the web worker stored, answered as after a poll (pending_wire.py)
                        worker.take_delivered([pending_wire.decode(bot_id, item) for item in delivered])
                    except (ValueError, KeyError, TypeError):  # none, or malformed: read them back
                        await worker.recover(update_ids)  # the ids stored: none of the other answers owed
                    return
                await self._apply(bot_id, restart=action == "reload")
        except Exception:  # noqa: BLE001
            log.warning("bot command %s for %s failed; reconcile will retry", action, bot_id, exc_info=True)

    async def _sweep_pending(self) -> None:
        """Safety net: answers still owed by bots this runner owns."""
        async with self.db() as conn:
            owed = await queries.received_updates(conn)
        for bot_id, update_ids in owed.items():
            worker = self.workers.get(bot_id)
            if worker is not None and worker.status == "running":
                await worker.recover(update_ids)


def _needs_action(row: Any, worker: BotWorker) -> bool:
    """Stop (paused), restart (new token), or retry (failed for good, then resumed or given a new token)."""
    return (row.desired_state != "running" or row.token_encrypted != worker.record.token_encrypted
            or (worker.failed and row.status == "starting"))
