"""The bot runner: every Telegram bot of the platform (or this process's share) in one asyncio loop.

Why one process: a bot is mostly an idle long poll, so a thousand fit in one event loop (tens of
MB) where the previous generation spent a ~100 MB process per bot. Shared across bots: one SSL
context (loading the CA bundle per client cost 1.7 MB each) and sharded HTTP pools for sending and
for long polls (see _PoolShards).

Per-message cost is what limits a runner, so the hot path is lean: one statement to persist an
update (AUTOCOMMIT connection, no ORM), one to save the reply, 'answered' marks and live-view nudges
batched for all bots (writeback.py), assistant settings cached per assistant, not per bot.

Control: the database is the truth (bots.desired_state, token). Services publish a command on Redis
(`chatai:bots:commands`) and the owning runner applies it at once (start/stop/token change well under
2 s); a periodic reconcile against the database covers lost messages and runners that were down
(reconcile.py: what runs here).
Ownership across processes: Redis leases (see ownership.py). Health: a heartbeat hash per runner in
Redis, read by health.runner_health() from any process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import certifi
import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.bots import heap, logsafe, operator, operator_alerts
from chatai.bots.admission import Admission, slots_for
from chatai.bots.assistant_cache import AssistantCache
from chatai.bots.bot_setup import SetupRecords
from chatai.bots.contracts import AnswerFn, AssistantInfo
from chatai.bots.http_pools import PoolShards, SharedRequest
from chatai.bots.ownership import Leases
from chatai.bots.pacing import BotLocks, RatePacer, in_slices
from chatai.bots.rebalance import Rebalancer
from chatai.bots.reconcile import Reconciler
from chatai.bots.status_writer import StatusWriter
from chatai.bots.supervisor import BotWorker
from chatai.bots.writeback import WriteBehind
from chatai.cache import get_redis
from chatai.cancellation import cancel_and_wait, wait_set
from chatai.conversation import charging
from chatai.db.models import utcnow
from chatai.db.session import database_url, warm_pool
from chatai.services.bots import COMMANDS_CHANNEL, publish_command
from chatai.settings import get_settings

log = logging.getLogger(__name__)
logsafe.install()

UPDATE_POOLS = 64
SEND_POOLS = 8

def _default_answer(**kwargs: Any) -> Any:
    """The answer as it is generated (text deltas, then the Answer): the pipeline streams it as drafts in a
    private chat and shows "typing" elsewhere (bots/handlers.py)."""
    from chatai.rag.answer import stream_answer  # lazy: the runner imports without the RAG stack

    return stream_answer(**kwargs)


class BotRunner(Reconciler):
    def __init__(self, *, answer_fn: AnswerFn | None = None, runner_id: str | None = None,
                 lease_ttl: float = 15.0, reconcile_interval: float = 5.0, poll_timeout: int = 25,
                 takeover_grace: float | None = None, answer_timeout: float = 90.0, stop_grace: float = 3.0,
                 backoff_base: float = 1.0, mode: str | None = None, send_pool_size: int = 16,
                 startup_concurrency: int = 50, writeback_interval: float = 0.05, db_pool_size: int = 10,
                 operator_alert_gather: float = operator_alerts.ALERT_GATHER, db_pool_timeout: float = 30.0,
                 setup_per_second: float | None = None) -> None:
        self.answer_fn: AnswerFn = answer_fn or _default_answer
        self.runner_id = runner_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.lease_ttl = lease_ttl
        self.reconcile_interval = reconcile_interval
        self.poll_timeout = poll_timeout
        self.takeover_grace = lease_ttl if takeover_grace is None else takeover_grace
        self.answer_timeout = answer_timeout
        self.operator_alert_gather = operator_alert_gather  # how long a burst of waiting dialogs is gathered
        self.stop_grace = stop_grace
        self.backoff_base = backoff_base
        self.mode = mode or get_settings().telegram_mode
        self.ssl_context = ssl.create_default_context(cafile=certifi.where())
        # Sends: SEND_POOLS x send_pool_size connections, keep-alive for all of them (httpx keeps only 20
        # by default: reconnect churn under load).
        self._send_pools = PoolShards(SEND_POOLS, lambda: SharedRequest(
            connection_pool_size=send_pool_size, read_timeout=15.0, write_timeout=15.0, connect_timeout=5.0,
            pool_timeout=10.0, httpx_kwargs={"verify": self.ssl_context, "limits": httpx.Limits(
                max_connections=send_pool_size, max_keepalive_connections=send_pool_size)}))
        # Long polls: one connection per bot, UPDATE_POOLS pools without a limit.
        self._update_pools = PoolShards(UPDATE_POOLS, lambda: SharedRequest(
            read_timeout=5.0, connect_timeout=5.0, pool_timeout=5.0, httpx_kwargs={
                "verify": self.ssl_context,
                "limits": httpx.Limits(max_connections=None, max_keepalive_connections=None)}))
        self.db_pool_size = db_pool_size
        self.db_pool_timeout = db_pool_timeout  # an admitted step never waits for it (admission.py)
        self.admission = Admission(slots_for(db_pool_size, db_pool_size))  # pool_size + max_overflow (start())
        self.writeback = WriteBehind(self._reserved_db, interval=writeback_interval)
        self.assistants = AssistantCache(self.db, self.admission)
        self.workers: dict[uuid.UUID, BotWorker] = {}
        self.started_at: datetime | None = None
        self._leases: Leases | None = None
        self._loops: list[asyncio.Task] = []
        self._free_since: dict[uuid.UUID, float] = {}
        self._locks = BotLocks()
        # Two lease periods of an unchanged set of live runners before bots move to one that joined.
        self._rebalancer = Rebalancer(self.runner_id, stable_for=2 * lease_ttl)
        self._digest: str | None = None  # of the bots table as last compared (queries.digest)
        self._wanted: set[uuid.UUID] = set()  # bots that should run somewhere, as last read
        self.statuses = StatusWriter(runner_id=self.runner_id, mode=self.mode, lease_ttl=lease_ttl,
                                     session=self.session, db=self.db)
        self._live: list[str] = []
        self._stopping = False
        self._engine: AsyncEngine | None = None
        self.startup_slots = asyncio.Semaphore(startup_concurrency)
        self.setup_pacer = RatePacer(get_settings().bot_setup_per_second if setup_per_second is None
                                     else setup_per_second)
        self.setup_records: SetupRecords = None  # type: ignore[assignment] - set by start() (needs Redis)
        self._sweep_wanted = asyncio.Event()
        self._heap = heap.HeapKeeper()
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._autocommit: AsyncEngine | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """ORM sessions on the runner's own engine, for the cold paths (reconcile, status, recovery),
        admitted like db(). No pre-ping: a ping per checkout is one more round trip; a dead connection
        instead fails that transaction, which supervision retries (poll backoff, recovery sweep)."""
        assert self._sessions is not None, "runner not started"
        async with self.admission.slot(), self._sessions() as session:
            yield session

    @contextlib.asynccontextmanager
    async def db(self, *, hot_row: object = None, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        """An AUTOCOMMIT connection for the hot path: each statement is its own transaction, so a
        one-statement write is one round trip (no BEGIN, no COMMIT). Admitted first (admission.py): under
        load a step waits here for a free connection rather than timing out in the pool; a step writing a
        row many answers write (`hot_row`: the owner's account) waits for its turn holding no connection, an
        `urgent` one (an answer waits for it) before the others."""
        admitted = self.admission.slot() if hot_row is None else self.admission.turn(hot_row, urgent=urgent)
        async with admitted, self._reserved_db() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _reserved_db(self) -> AsyncIterator[AsyncConnection]:
        """A connection without admission: the write-behind's (one statement at a time, from the reserve),
        so 'answered' marks never queue behind the answers they close."""
        assert self._autocommit is not None, "runner not started"
        async with self._autocommit.connect() as conn:
            yield conn

    async def start(self) -> None:
        self.started_at = utcnow()
        # Hot-path statements are single round trips, so few connections carry a thousand bots.
        self._engine = create_async_engine(database_url(), pool_size=self.db_pool_size,
                                           max_overflow=self.db_pool_size, pool_recycle=1800,
                                           pool_timeout=self.db_pool_timeout)
        self._autocommit = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        self._sessions = async_sessionmaker(self._engine, class_=AsyncSession, expire_on_commit=False)
        await warm_pool(self._engine)  # before the first updates need them (a restart under load)
        self._leases = Leases(get_redis(), self.runner_id, self.lease_ttl)
        self.setup_records = SetupRecords(self._leases.redis)
        await self._leases.heartbeat(self._stats())
        self._live = await self._leases.live_runners()
        self._loops = [asyncio.create_task(fn(), name=f"runner-{fn.__name__}")
                       for fn in (self._heartbeat_loop, self.statuses.poll_marks_loop, self._reconcile_loop,
                                  self._listen_loop, self.statuses.status_loop, self.writeback.run, self._heap.run,
                                  charging.settle_loop(self))]
        self._loops.append(asyncio.create_task(operator.run(self), name="runner-operator"))  # handoff (operator.py)
        self._loops.append(asyncio.create_task(operator_alerts.run(self), name="runner-operator-chat"))  # issue 22
        await self.reconcile()
        heap.freeze()  # what start-up created; the bots' own objects once they are up (heap.py)
        log.info("bot runner %s started (%s mode), %d bots", self.runner_id, self.mode, len(self.workers))

    async def stop(self) -> None:
        """Clean stop: stop receiving, let in-flight answers finish briefly, release leases at once."""
        self._stopping = True
        await cancel_and_wait(self._loops, what=f"bot runner {self.runner_id}")
        workers = list(self.workers.values())
        for start in range(0, len(workers), 200):  # batches: avoid a burst of final requests
            await asyncio.gather(*(w.stop(grace=self.stop_grace) for w in workers[start:start + 200]),
                                 return_exceptions=True)
        for w in workers:
            if not w.failed:
                self.queue_status(w, "starting", "")  # waiting for a runner, truthfully
        try:
            await self.writeback.flush()
        except Exception:  # noqa: BLE001 - those answers may be sent again after restart (at-least-once)
            log.warning("answered marks not written at stop", exc_info=True)
        await self.statuses.flush_status()
        await self.statuses.flush_polls()
        if self._leases is not None:
            with contextlib.suppress(Exception):
                await self._leases.release(self.workers)
                await self._leases.leave()
        self.workers.clear()
        await self._send_pools.close()
        await self._update_pools.close()
        if self._engine is not None:
            await self._engine.dispose()
        log.info("bot runner %s stopped", self.runner_id)

    async def abort(self) -> None:
        """Die like a killed process (tests): nothing released, nothing written, sockets closed."""
        self._stopping = True
        await cancel_and_wait(self._loops, what=f"bot runner {self.runner_id}")
        await asyncio.gather(*(w.abort() for w in self.workers.values()), return_exceptions=True)
        self.workers.clear()
        self.writeback.drop()
        await self._send_pools.close()
        await self._update_pools.close()
        if self._engine is not None:
            await self._engine.dispose()

    # --- state for workers ---------------------------------------------------------------------

    def note_poll(self, bot_id: uuid.UUID) -> None:
        self.statuses.note_poll(bot_id)

    def updates_request_for(self, bot_id: uuid.UUID) -> SharedRequest:
        """The long-poll pool of this bot (created on first use, closed by stop())."""
        return self._update_pools.for_bot(bot_id)

    def send_request_for(self, bot_id: uuid.UUID) -> SharedRequest:
        """The pool this bot sends through (created on first use, closed by stop())."""
        return self._send_pools.for_bot(bot_id)

    async def assistant(self, assistant_id: uuid.UUID) -> AssistantInfo:
        """Name, greeting and switch of an assistant, cached for all its bots (assistant_cache.py)."""
        return await self.assistants.get(assistant_id)

    def bot_up(self) -> None:
        """A bot came up: look for answers it still owes soon (batched with the others starting), and
        freeze its long-lived objects out of the garbage collector once the wave of starts settles."""
        self._sweep_wanted.set()
        self._heap.bot_started()

    def forget(self, worker: BotWorker) -> None:
        """A worker fenced itself off (its lease ran out): it no longer runs here."""
        if self.workers.get(worker.id) is worker:
            self.workers.pop(worker.id, None)

    def running_workers(self) -> dict[uuid.UUID, BotWorker]:
        """The bots answering here now (not starting, stopping or failed): what the periodic sweeps act for."""
        return {bot_id: w for bot_id, w in self.workers.items() if w.status == "running"}

    def queue_status(self, worker: BotWorker, status: str, error: str) -> None:
        self.statuses.queue(worker.id, worker.record.owner_id, status, error)

    def _stats(self) -> dict[str, str | int | float]:
        running = sum(1 for w in self.workers.values() if w.status == "running")
        errors = sum(1 for w in self.workers.values() if w.status == "error")
        return {"bots_running": running, "bots_error": errors, "bots": len(self.workers),
                "last_poll": self.statuses.last_poll.isoformat() if self.statuses.last_poll else "",
                "started_at": self.started_at.isoformat() if self.started_at else "", "pid": os.getpid(),
                "mode": self.mode}

    # --- loops --------------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        assert self._leases is not None
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            try:
                await self._renew_leases()
                await self._leases.heartbeat(self._stats())
                self._live = await self._leases.live_runners()
            except Exception:  # noqa: BLE001 - Redis away: self-fence when the leases run out
                log.warning("runner heartbeat failed", exc_info=True)
                for bot_id, worker in list(self.workers.items()):
                    if time.monotonic() > worker.lease_deadline:
                        self.workers.pop(bot_id, None)
                        asyncio.create_task(worker.abort())

    async def _renew_leases(self) -> None:
        """Renew in slices (each its own Redis round trip, messages handled in between); a bot whose lease
        another runner holds now stops here at once."""
        assert self._leases is not None
        async for part in in_slices(list(self.workers)):
            sent_at = time.monotonic()
            lost = await self._leases.renew(part)
            for bot_id in part:
                worker = self.workers.get(bot_id)
                if worker is None:
                    continue
                if bot_id in lost:
                    log.warning("bot %s: lease lost, stopping it here", bot_id)
                    self.workers.pop(bot_id, None)
                    asyncio.create_task(worker.abort())
                else:
                    worker.lease_deadline = sent_at + self.lease_ttl

    async def _reconcile_loop(self) -> None:
        while True:
            if await wait_set(self._sweep_wanted, self.reconcile_interval):
                self._sweep_wanted.clear()
                await asyncio.sleep(min(0.5, self.reconcile_interval))  # gather the bots starting together
                with contextlib.suppress(Exception):
                    await self._sweep_pending()
                continue
            try:
                await self.reconcile()
                await self._sweep_pending()
                await self._hand_over()
            except Exception:  # noqa: BLE001 - next round
                log.warning("bot reconcile failed", exc_info=True)

    async def _hand_over(self) -> None:
        """Release the bots another live runner should hold (rebalance.py); it takes them at once."""
        for bot_id in self._rebalancer.to_hand_over(list(self.workers), self._live, time.monotonic()):
            if self._stopping:
                return
            async with self._locks.hold(bot_id):
                worker = self.workers.pop(bot_id, None)
                if worker is None:
                    continue
                await worker.stop(grace=self.stop_grace)
                if self._leases is not None:
                    await self._leases.release([bot_id])
            await publish_command("start", bot_id)  # the preferred runner takes it now, not next round
            log.info("bot %s handed over to its preferred runner", bot_id)

    async def _listen_loop(self) -> None:
        while True:
            pubsub = get_redis().pubsub()
            try:
                await pubsub.subscribe(COMMANDS_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        data = json.loads(message["data"])
                        bot_id = uuid.UUID(data["bot_id"])
                        update_ids = [int(i) for i in data["update_ids"]] if data.get("update_ids") else None
                    except (ValueError, KeyError, TypeError):
                        continue
                    if bot_id in self.workers or data.get("action") != "pending":  # another runner's bot: not ours
                        asyncio.create_task(self._on_command(str(data.get("action")), bot_id, update_ids,
                                                             data.get("pending")))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.warning("bot command channel lost; resubscribing", exc_info=True)
                await asyncio.sleep(1)
                asyncio.create_task(self.reconcile())  # commands may have been missed
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()


async def run_in_web() -> None:
    """Lifespan task for the web app (single machine): runs the runner until cancelled."""
    if not get_settings().run_bots_in_web:
        return
    runner = BotRunner()
    await runner.start()
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.shield(runner.stop())


async def run_forever(runner: BotRunner | None = None) -> None:
    """`python -m chatai bots run`: until SIGINT/SIGTERM, then a clean stop."""
    runner = runner or BotRunner()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runner.start()
    try:
        await stop.wait()
    finally:
        await runner.stop()
