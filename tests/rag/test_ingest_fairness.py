"""Ingestion is fair across owners: one owner's big uploads never make another owner's small file wait.

Once, another tenant's 48-byte file waited 668 s behind a 50,000-page PDF (issue 8, item 5): there was
one queue and one document at a time. Now each worker runs several lanes, an owner holds at most
`ingest_per_owner` of them, and the next document comes from the owner served least recently.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy import select, update

from chatai.db.models import Document, utcnow
from chatai.db.session import async_session
from chatai.rag import worker
from chatai.rag.embeddings import get_embedder
from chatai.services import knowledge
from tests.factories import make_tenant
from tests.waits import PATIENCE

WORDS = ("delivery order payment refund warranty customer account invoice shipping return store product price "
         "discount support hours manager contract service quality package tracking address courier").split()


def big_markdown(seed: int, sections: int = 600) -> bytes:
    """~3 MB of distinct text: thousands of chunks, minutes of embedding on this machine's CPU."""
    parts = []
    for i in range(sections):
        parts.append(f"## Section {seed}-{i}\n")
        for p in range(5):
            words = [WORDS[(seed * 7 + i * 13 + p * 3 + k) % len(WORDS)] for k in range(150)]
            parts.append(f"Paragraph {seed}.{i}.{p}: " + " ".join(words) + ".\n")
    return "\n".join(parts).encode()


async def _upload(tenant, name, data) -> Document:
    async with async_session() as s:
        return await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                               filename=name, data=data)


async def _statuses(ids) -> dict:
    async with async_session() as s:
        rows = (await s.execute(select(Document.id, Document.status).where(Document.id.in_(ids)))).all()
    return {r.id: r.status for r in rows}


async def _finish(document_id) -> None:
    """What a worker does at the end of a document (status ready, updated now)."""
    async with async_session() as s:
        await s.execute(update(Document).where(Document.id == document_id).values(
            status="ready", lease_until=None, updated_at=utcnow()))
        await s.commit()


async def test_claims_go_round_robin_by_owner_under_the_per_owner_cap(db):
    a, b = await make_tenant("a@example.com"), await make_tenant("b@example.com")
    a1, a2, a3 = [await _upload(a, f"a{i}.txt", f"Owner A file {i}.".encode()) for i in range(3)]
    b1 = await _upload(b, "b1.txt", b"Owner B file.")
    # A's three files are older, but A may have one processing at a time: B's file is next.
    assert (await worker.claim_next()).document_id == a1.id
    assert (await worker.claim_next()).document_id == b1.id
    assert await worker.claim_next() is None  # both owners at their cap
    await _finish(a1.id)
    await _finish(b1.id)
    c = await make_tenant("c@example.com")
    c1 = await _upload(c, "c1.txt", b"Owner C file, uploaded last.")
    # A was just served and C never: C's newer file goes before A's older ones.
    assert (await worker.claim_next()).document_id == c1.id
    assert (await worker.claim_next()).document_id == a2.id
    assert await worker.claim_next() is None
    # An abandoned document (its worker died) frees its owner's slot and is claimed again.
    async with async_session() as s:
        await s.execute(update(Document).where(Document.id == a2.id).values(
            lease_until=utcnow() - timedelta(seconds=1)))
        await s.commit()
    assert (await worker.claim_next()).document_id == a2.id
    assert (await _statuses([a3.id]))[a3.id] == "queued"


async def test_small_file_is_ready_while_another_owner_still_indexes_big_files(db):
    """Fairness as order, not as seconds: the small file is ready while the big owner's files are still
    queued or being indexed, and the big owner never held more than one lane. How many seconds the small file
    waited is `python -m bench ingest_fairness`'s figure."""
    big_owner, small_owner = await make_tenant("big@example.com"), await make_tenant("small@example.com")
    await get_embedder().embed(["warm up"])  # loading the model is not waiting
    big = [await _upload(big_owner, f"manual-{i}.md", big_markdown(i)) for i in range(3)]
    big_ids = [d.id for d in big]
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_ingest_worker(stop))
    try:
        deadline = time.monotonic() + PATIENCE  # the big owner's first file is being indexed
        while "processing" not in (await _statuses(big_ids)).values():
            assert time.monotonic() < deadline, "the worker never started on the big files"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # ...and the worker has settled with it
        small = await _upload(small_owner, "hours.txt", b"We are open from 9 to 18 on weekdays, 10-16 Sat.")
        assert len(b"We are open from 9 to 18 on weekdays, 10-16 Sat.") == 48
        deadline = time.monotonic() + 5 * PATIENCE  # a hang guard only: the order below is the test
        most_big_processing = 0
        while (await _statuses([small.id]))[small.id] != "ready":
            big_now = await _statuses(big_ids)
            most_big_processing = max(most_big_processing, list(big_now.values()).count("processing"))
            assert time.monotonic() < deadline, f"the small file never became ready; big files: {big_now}"
            await asyncio.sleep(0.05)
        big_now = await _statuses(big_ids)
        # The single queue of before made the small file wait for every big file: here it overtook them.
        assert "queued" in big_now.values() or "processing" in big_now.values(), big_now
        assert most_big_processing == 1  # one owner never holds every lane
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    # Stopping hands the claimed big file back to the queue, uncounted.
    async with async_session() as s:
        rows = (await s.execute(select(Document.status, Document.attempts).where(Document.id.in_(big_ids)))).all()
    assert {r.status for r in rows} <= {"queued", "ready"}
    assert all(r.attempts == 0 for r in rows if r.status == "queued")
