"""The ingestion worker: claims queued documents with a database lease, so any number of web workers
(each runs `run_ingest_worker` as a lifespan task) share the queue, and a document whose worker died
(status "processing", lease expired) is claimed again instead of staying "processing" forever.

Wake-up: uploads publish on a Redis channel so the worker starts within milliseconds; a short poll is the
fallback when a message is missed (Redis restart) and the way expired leases get noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy import or_, select, update

from chatai.db.models import Document, utcnow
from chatai.db.session import async_session
from chatai.rag.ingest import Lease, LeaseLost, embed_missing_qa, process_document, switch_providers

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


async def claim_next(lease_seconds: float = LEASE_SECONDS) -> Lease | None:
    """Take the oldest queued (or abandoned) document, atomically, skipping ones other workers hold.

    An abandoned document (its worker died) is claimed again until it has been tried MAX_INGEST_ATTEMPTS
    times; then it is marked "error" so that a file that kills the worker cannot keep it busy forever."""
    while True:
        now = utcnow()
        async with async_session() as session:
            document = (await session.execute(
                select(Document)
                .where(or_(Document.status == "queued",
                           (Document.status == "processing") & ((Document.lease_until.is_(None))
                                                                | (Document.lease_until < now))))
                .order_by(Document.created_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )).scalar_one_or_none()
            if document is None:
                return None
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


async def process_pending(limit: int | None = None, *, lease_seconds: float = LEASE_SECONDS) -> int:
    """Process what is queued now (provider switches, Q&A vectors, documents). Returns documents processed."""
    await switch_providers()
    while await embed_missing_qa():
        pass
    processed = 0
    while limit is None or processed < limit:
        lease = await claim_next(lease_seconds)
        if lease is None:
            break
        try:
            status = await process_document(lease, lease_seconds=lease_seconds)
            log.info("document %s: %s", lease.document_id, status)
        except LeaseLost:
            log.warning("document %s was taken over by another worker", lease.document_id)
        processed += 1
    return processed


async def run_ingest_worker(stop: asyncio.Event | None = None) -> None:
    """Long-running loop for the web app's lifespan: process, then sleep until notified, polled or stopped."""
    stop = stop or asyncio.Event()
    pubsub = None
    try:
        from chatai.cache import get_redis

        pubsub = get_redis().pubsub()
        await pubsub.subscribe(CHANNEL)
    except Exception as exc:  # noqa: BLE001
        log.warning("ingest worker without Redis notifications (polling only): %s", exc)
        pubsub = None
    try:
        while not stop.is_set():
            try:
                await process_pending()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the loop alive; the next round retries
                log.exception("ingest round failed")
            await _wait(stop, pubsub)
    finally:
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(CHANNEL)
                await pubsub.aclose()


async def _wait(stop: asyncio.Event, pubsub: object | None) -> None:
    stopper = asyncio.ensure_future(stop.wait())
    waiters = [stopper]
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
