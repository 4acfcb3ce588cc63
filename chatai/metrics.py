"""Prometheus metrics for /metrics, right whichever process produced them.

The bot runner may be a separate process (or several), so nothing is kept in one process's registry:
- events (answers by kind, answer latency, Telegram send errors, LLM tokens and errors) are tallied in
  process memory by `events` (a dict increment on the hot path) and added to one Redis hash about once a
  second, one pipeline of HINCRBY per flush. A runner killed loses at most that second of counts;
- states (bots by status, the ingestion queue, web sessions) are read from the database at scrape time.
A scrape gathers both asynchronously, then a Collector yields them as metric families to
prometheus-client, which writes the exposition format.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
COUNTERS_KEY = "chatai:metrics:events"
# Answer latency (seconds, from picking the update up to Telegram accepting the reply): LLM answers take
# 1-10 s, extractive ones well under a second.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0)
BOT_STATUSES = ("starting", "running", "paused", "error")
ACTIVE_SESSION_WINDOW = timedelta(minutes=15)
FLUSH_INTERVAL = 1.0
_LABEL = re.compile(r"[^a-z0-9_]")


def _label(value: str) -> str:
    """Label values come from code, but a bounded alphabet and length keeps series few whatever happens."""
    return _LABEL.sub("_", (value or "unknown").lower())[:32] or "unknown"


class EventCounters:
    """Per-process tallies of events, added to the shared Redis hash shortly after they happen."""

    def __init__(self, interval: float = FLUSH_INTERVAL) -> None:
        self.interval = interval
        self._pending: dict[str, int] = {}
        self._task: asyncio.Task | None = None

    def add(self, name: str, amount: int = 1) -> None:
        self._bump(name, amount)
        self._schedule()

    def answer(self, *, answered_by: str, latency_ms: int) -> None:
        seconds = latency_ms / 1000
        bucket = next((i for i, bound in enumerate(LATENCY_BUCKETS) if seconds <= bound), len(LATENCY_BUCKETS))
        self._bump(f"answers:{_label(answered_by)}")
        self._bump(f"latency_bucket:{bucket}")
        self._bump("latency_sum_ms", max(0, int(latency_ms)))
        self._bump("latency_count")
        self._schedule()

    def send_error(self, reason: str) -> None:
        self.add(f"send_errors:{_label(reason)}")

    def llm_tokens(self, *, prompt: int, completion: int) -> None:
        self._bump("llm_tokens:prompt", int(prompt or 0))
        self._bump("llm_tokens:completion", int(completion or 0))
        self._schedule()

    def llm_error(self, kind: str) -> None:
        self.add(f"llm_errors:{_label(kind)}")

    def _bump(self, name: str, amount: int = 1) -> None:
        if amount > 0:
            self._pending[name] = self._pending.get(name, 0) + amount

    def discard(self) -> None:
        """Forget what is not flushed yet (tests: one test's counts are not the next one's)."""
        self._pending.clear()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a sync caller): flushed by the next event on a loop, or by flush()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._flush_soon(), name="metrics-flush")

    async def _flush_soon(self) -> None:
        while self._pending:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception as exc:  # noqa: BLE001 - kept and retried; counts are never worth a crash
                log.debug("metrics not flushed yet: %s", type(exc).__name__)

    async def flush(self) -> None:
        """Add everything tallied to Redis now (before a scrape, on a clean stop, in tests)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        from chatai.cache import get_redis

        try:
            async with get_redis().pipeline(transaction=False) as pipe:
                for name, amount in pending.items():
                    pipe.hincrby(COUNTERS_KEY, name, amount)
                await pipe.execute()
        except BaseException:
            for name, amount in pending.items():  # keep them for the next try
                self._pending[name] = self._pending.get(name, 0) + amount
            raise


events = EventCounters()


@dataclass
class Snapshot:
    """Everything one scrape reports, read asynchronously before prometheus-client renders it."""

    counters: dict[str, int] = field(default_factory=dict)
    bots: dict[str, int] = field(default_factory=dict)
    ingest_queued: int = 0
    ingest_processing: int = 0
    ingest_stalled: int = 0
    ingest_oldest_wait_seconds: float = 0.0
    sessions_signed_in: int = 0
    sessions_active: int = 0


async def read_snapshot() -> Snapshot:
    import sqlalchemy as sa

    from chatai.cache import get_redis
    from chatai.db.models import Bot, UserSession
    from chatai.db.session import async_session
    from chatai.services.monitor import ingest_queue

    await events.flush()  # this process's own (a runner inside the web process)
    raw = await get_redis().hgetall(COUNTERS_KEY)
    snap = Snapshot(counters={name: int(value) for name, value in raw.items()})
    now = datetime.now(UTC)
    async with async_session() as session:
        rows = await session.execute(sa.select(Bot.status, sa.func.count()).group_by(Bot.status))
        snap.bots = {status: n for status, n in rows.all()}
        queue = await ingest_queue(session, now=now)
        signed_in, active = (await session.execute(sa.select(
            sa.func.count(), sa.func.count().filter(UserSession.last_seen_at >= now - ACTIVE_SESSION_WINDOW),
        ).where(UserSession.expires_at > now))).one()
    snap.ingest_queued, snap.ingest_processing = queue.queued, queue.processing
    snap.ingest_stalled, snap.ingest_oldest_wait_seconds = queue.stalled, queue.oldest_wait_seconds
    snap.sessions_signed_in, snap.sessions_active = signed_in, active
    return snap


class SnapshotCollector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def _by_prefix(self, prefix: str) -> dict[str, int]:
        return {name[len(prefix):]: value for name, value in self.snapshot.counters.items()
                if name.startswith(prefix)}

    def _counter(self, name: str, doc: str, label: str, prefix: str) -> CounterMetricFamily:
        family = CounterMetricFamily(name, doc, labels=[label])
        for value, count in sorted(self._by_prefix(prefix).items()):
            family.add_metric([value], count)
        return family

    def collect(self) -> Iterator:
        snap = self.snapshot
        yield self._counter("chatai_answers", "Replies sent to Telegram, by what produced them.",
                            "answered_by", "answers:")
        yield self._latency()
        yield self._counter("chatai_telegram_send_errors", "Failed sendMessage attempts, by reason.",
                            "reason", "send_errors:")
        yield self._counter("chatai_llm_tokens", "LLM tokens used by answers.", "kind", "llm_tokens:")
        yield self._counter("chatai_llm_errors", "Answers the assistant failed to produce (timeouts, errors).",
                            "kind", "llm_errors:")
        bots = GaugeMetricFamily("chatai_bots", "Telegram bots by status.", labels=["status"])
        for status in sorted(set(BOT_STATUSES) | set(snap.bots)):
            bots.add_metric([status], snap.bots.get(status, 0))
        yield bots
        queue = GaugeMetricFamily("chatai_ingest_queue_documents", "Documents waiting for or in indexing.",
                                  labels=["state"])
        queue.add_metric(["queued"], snap.ingest_queued)
        queue.add_metric(["processing"], snap.ingest_processing)
        queue.add_metric(["stalled"], snap.ingest_stalled)
        yield queue
        yield GaugeMetricFamily("chatai_ingest_queue_oldest_wait_seconds",
                                "How long the longest-waiting document has waited for a worker.",
                                value=snap.ingest_oldest_wait_seconds)
        yield GaugeMetricFamily("chatai_web_sessions_signed_in", "Unexpired dashboard sign-in sessions.",
                                value=snap.sessions_signed_in)
        yield GaugeMetricFamily("chatai_web_sessions_active",
                                "Dashboard sessions used in the last 15 minutes.", value=snap.sessions_active)

    def _latency(self) -> HistogramMetricFamily:
        counts = self._by_prefix("latency_bucket:")
        buckets, running = [], 0
        for i, bound in enumerate(LATENCY_BUCKETS):
            running += counts.get(str(i), 0)
            buckets.append((repr(bound), running))
        total = self.snapshot.counters.get("latency_count", 0)
        buckets.append(("+Inf", total))
        return HistogramMetricFamily("chatai_answer_latency_seconds",
                                     "From picking a message up to Telegram accepting the reply.",
                                     buckets=buckets, sum_value=self.snapshot.counters.get("latency_sum_ms", 0) / 1000)


def render(snapshot: Snapshot) -> bytes:
    """The exposition text (a registry per scrape: the snapshot is the state, nothing global)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)
