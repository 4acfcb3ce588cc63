"""The ingestion worker: claims queued documents with a database lease, so any number of web workers
(each runs `run_ingest_worker` as a lifespan task) share the queue, and a document whose worker died
(status "processing", lease expired) is claimed again instead of staying "processing" forever.

Fair across owners: each worker processes up to `ingest_concurrency` documents at once, an owner has at
most `ingest_per_owner` documents processing across all workers, and the next document comes from the
owner served least recently. One owner's 50,000-page upload once made another owner's 48-byte file wait
668 s; now the small file takes the next free slot, which that owner cannot fill alone.

Wake-up: uploads publish on a Redis channel so the worker starts within milliseconds; a short poll is the
fallback when a message is missed (Redis restart) and the way expired leases get noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy import select, text, update

from chatai.cancellation import cancel_and_wait
from chatai.db.models import Document, utcnow
from chatai.db.session import async_session
from chatai.rag.ingest import Lease, LeaseLost, embed_missing_qa, process_document, release, switch_providers
from chatai.settings import get_settings

log = logging.getLogger(__name__)

CHANNEL = "chatai:kb:ingest"
LEASE_SECONDS = 120.0  # renewed after every embedding batch (a batch takes ~1-2 s locally)
POLL_SECONDS = 5.0
MAX_INGEST_ATTEMPTS = 3
GAVE_UP_ERROR = ("Processing stopped {attempts} times without finishing (the file may be too complex for this "
                 "server). Re-index to try again, or split the file.")


async def notify_ingest() -> None:
    """Tell running workers there is work (best effort: they poll anyway)."""
    try:
        from chatai.cache import get_redis

        await get_redis().publish(CHANNEL, "1")
    except Exception as exc:  # noqa: BLE001 - an upload must not fail because Redis blinked
        log.warning("cannot notify the ingest worker: %s", exc)


# Claimable documents (queued, or abandoned by a dead worker) of owners below their cap, least recently
# served owner first (an owner's latest document update outside the queue: a claim, progress or finish),
# then oldest first. Owners are aggregated only among those with pending documents.
_NEXT_DOCUMENT = text("""
WITH pending_owners AS (
    SELECT DISTINCT a.owner_id FROM documents d JOIN assistants a ON a.id = d.assistant_id
    WHERE d.status IN ('queued', 'processing')
), owners AS (
    SELECT a.owner_id,
           count(*) FILTER (WHERE d.status = 'processing' AND d.lease_until >= :now) AS running,
           max(d.updated_at) FILTER (WHERE d.status <> 'queued') AS last_served
    FROM documents d JOIN assistants a ON a.id = d.assistant_id
    WHERE a.owner_id IN (SELECT owner_id FROM pending_owners)
    GROUP BY a.owner_id
)
SELECT d.id FROM documents d
JOIN assistants a ON a.id = d.assistant_id
JOIN owners o ON o.owner_id = a.owner_id
WHERE (d.status = 'queued' OR (d.status = 'processing' AND (d.lease_until IS NULL OR d.lease_until < :now)))
  AND o.running < :per_owner
ORDER BY o.running, o.last_served NULLS FIRST, d.created_at
LIMIT 1
FOR UPDATE OF d SKIP LOCKED
""")


async def claim_next(lease_seconds: float = LEASE_SECONDS) -> Lease | None:
    """Take the next document fairly (see _NEXT_DOCUMENT), atomically, skipping ones other workers hold.

    An abandoned document (its worker died) is claimed again until it has been tried MAX_INGEST_ATTEMPTS
    times; then it is marked "error" so that a file that kills the worker cannot keep it busy forever."""
    per_owner = max(1, get_settings().ingest_per_owner)
    while True:
        now = utcnow()
        async with async_session() as session:
            # Claims are serialized (each takes milliseconds): two workers counting an owner's running
            # documents at the same moment would otherwise both see room under the cap.
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('chatai:ingest:claim'))"))
            document_id = (await session.execute(_NEXT_DOCUMENT, {"now": now, "per_owner": per_owner})).scalar()
            if document_id is None:
                return None
            document = (await session.execute(select(Document).where(Document.id == document_id))).scalar_one()
            if document.status == "processing" and document.attempts >= MAX_INGEST_ATTEMPTS:
                log.error("giving up on %s (%s): its worker stopped %d times before finishing",
                          document.id, document.filename, document.attempts)
                await session.execute(update(Document).where(Document.id == document.id).values(
                    status="error", error=GAVE_UP_ERROR.format(attempts=document.attempts), progress=0.0,
                    lease_until=None, updated_at=now))
                await session.commit()
                continue
            until = now + timedelta(seconds=lease_seconds)
            if document.status == "processing":
                log.warning("re-claiming %s (%s): its worker stopped before finishing", document.id,
                            document.filename)
            await session.execute(update(Document).where(Document.id == document.id).values(
                status="processing", progress=0.0, lease_until=until, attempts=Document.attempts + 1,
                updated_at=now))
            await session.commit()
            return Lease(document.id, until)


class Lanes:
    """The documents this process is working on, at most `size` at a time, each in its own task."""

    def __init__(self, size: int | None = None, *, lease_seconds: float = LEASE_SECONDS) -> None:
        self.size = max(1, size or get_settings().ingest_concurrency)
        self.lease_seconds = lease_seconds
        self.tasks: set[asyncio.Task[None]] = set()
        self.finished = asyncio.Event()  # set whenever a lane frees up
        self.claimed = 0

    async def fill(self, limit: int | None = None) -> None:
        """Claim documents into free lanes until the lanes are full or nothing is claimable."""
        while len(self.tasks) < self.size and (limit is None or self.claimed < limit):
            lease = await claim_next(self.lease_seconds)
            if lease is None:
                return
            self.claimed += 1
            task = asyncio.create_task(self._process(lease))
            self.tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.finished.set()

    async def _process(self, lease: Lease) -> None:
        try:
            status = await process_document(lease, lease_seconds=self.lease_seconds)
            log.info("document %s: %s", lease.document_id, status)
        except LeaseLost:
            log.warning("document %s was taken over by another worker", lease.document_id)
        except asyncio.CancelledError:
            # Shutting down: hand the document back (uncounted) rather than let its lease run out.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await release(lease)
            raise
        except Exception:  # noqa: BLE001 - one document's failure must not stop the others; its lease expires
            log.exception("processing document %s failed", lease.document_id)

    async def cancel(self) -> None:
        await cancel_and_wait(self.tasks, what="ingestion worker")


async def process_pending(limit: int | None = None, *, lease_seconds: float = LEASE_SECONDS) -> int:
    """Process what is queued now (provider switches, Q&A vectors, documents), several documents at a time.
    Returns the number of documents claimed."""
    await switch_providers()
    while await embed_missing_qa():
        pass
    lanes = Lanes(lease_seconds=lease_seconds)
    try:
        while True:
            lanes.finished.clear()
            await lanes.fill(limit)
            # A lane that freed up during fill() may have made room under an owner's cap: fill again.
            if not lanes.tasks and not lanes.finished.is_set():
                break
            await lanes.finished.wait()
    finally:
        await lanes.cancel()
    return lanes.claimed


async def run_ingest_worker(stop: asyncio.Event | None = None) -> None:
    """Long-running loop for the web app's lifespan: fill free lanes, then sleep until notified, polled, a
    lane frees up, or stopped."""
    stop = stop or asyncio.Event()
    lanes = Lanes()
    pubsub = None
    try:
        from chatai.cache import get_redis

        pubsub = get_redis().pubsub()
        await pubsub.subscribe(CHANNEL)
    except Exception as exc:  # noqa: BLE001
        log.warning("ingest worker without Redis notifications (polling only): %s", exc)
        pubsub = None
    maintenance: asyncio.Task[None] | None = None
    try:
        while not stop.is_set():
            lanes.finished.clear()
            # Beside the lanes, never before them: a provider switch re-embeds whole knowledge bases, and
            # new documents must not wait for it.
            if maintenance is None or maintenance.done():
                maintenance = asyncio.create_task(_maintain())
            try:
                await lanes.fill()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the loop alive; the next round retries
                log.exception("ingest round failed")
            await _wait(stop, pubsub, lanes.finished)
    finally:
        if maintenance is not None:
            maintenance.cancel()
            await asyncio.gather(maintenance, return_exceptions=True)
        await lanes.cancel()
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(CHANNEL)
                await pubsub.aclose()


async def _maintain() -> None:
    """Provider switches and vectors for imported Q&A pairs."""
    try:
        await switch_providers()
        while await embed_missing_qa():
            pass
    except Exception:  # noqa: BLE001 - retried on the next round
        log.exception("ingest maintenance failed")


async def _wait(stop: asyncio.Event, pubsub: object | None, lane_freed: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lane_freed.wait())]
    if pubsub is not None:
        waiters.append(asyncio.ensure_future(_next_message(pubsub)))
    try:
        await asyncio.wait(waiters, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def _next_message(pubsub: object) -> None:
    while True:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)  # type: ignore[attr-defined]
        if message is not None:
            return
