import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from chatai.db.models import Assistant, Chunk, Document, DocumentFile, QAPair, utcnow
from chatai.db.session import async_session
from chatai.rag import worker
from chatai.rag.embeddings import LocalEmbedder
from chatai.rag.worker import process_pending, run_ingest_worker
from chatai.services import knowledge
from chatai.services.knowledge import UploadError
from tests.rag.conftest import make_docx, make_encrypted_pdf, make_pdf, make_scanned_pdf

TEXT = "# Intro\n\nHello there, this is the intro.\n\n# Details\n\n" + "\n\n".join(
    f"Detail paragraph {i} about warranty terms and conditions." for i in range(30))


async def _upload(tenant, name, data):
    async with async_session() as s:
        return await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                               filename=name, data=data)


async def _count(model, **where):
    async with async_session() as s:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return (await s.execute(q)).scalar_one()


async def _doc(document_id):
    async with async_session() as s:
        return await s.get(Document, document_id)


async def test_upload_queues_then_worker_indexes_every_format(tenant):
    files = {"a.pdf": make_pdf([["Page one text."], ["Page two text."]]), "b.docx": make_docx(),
             "c.txt": b"Plain text file.", "d.md": TEXT.encode(), "e.html": b"<h1>T</h1><p>Para.</p>",
             "f.csv": b"item,price\ntea,3\n"}
    docs = [await _upload(tenant, name, data) for name, data in files.items()]
    assert {d.status for d in docs} == {"queued"}
    assert await process_pending() == len(files)
    for d in docs:
        d = await _doc(d.id)
        assert (d.status, d.progress, d.error, d.lease_until) == ("ready", 1.0, "", None), d.filename
        assert d.chunk_count == await _count(Chunk, document_id=d.id) > 0
    async with async_session() as s:
        a = await s.get(Assistant, tenant.assistant_id)
        assert a.embedding_provider == LocalEmbedder.name
        dims = set((await s.execute(select(Chunk.embedding_dim))).scalars())
        assert dims == {384}
        pdf = (await s.execute(select(Document).where(Document.filename == "a.pdf"))).scalar_one()
        assert pdf.page_count == 2


@pytest.mark.parametrize(("name", "data", "code"), [
    ("locked.pdf", make_encrypted_pdf(), "encrypted"),
    ("scan.pdf", make_scanned_pdf(), "no_text_layer"),
    ("broken.pdf", b"%PDF-1.7 nope", "corrupt"),
    ("tool.exe", b"MZ..", "unsupported_type"),
    ("empty.txt", b"", "empty"),
])
async def test_bad_upload_stores_nothing(tenant, name, data, code):
    with pytest.raises(UploadError) as err:
        await _upload(tenant, name, data)
    assert err.value.code == code and err.value.filename == name and err.value.message
    assert await _count(Document) == 0 and await _count(DocumentFile) == 0


async def test_too_large_upload(tenant, monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_MB", "1")
    from chatai.settings import get_settings

    get_settings.cache_clear()
    try:
        with pytest.raises(UploadError) as err:
            await _upload(tenant, "big.txt", b"a " * 600_000)
        assert err.value.code == "too_large" and "limit is 1 MB" in err.value.message
    finally:
        monkeypatch.delenv("MAX_UPLOAD_MB")
        get_settings.cache_clear()


async def test_duplicate_is_refused_and_reindex_is_idempotent(tenant):
    doc = await _upload(tenant, "guide.md", TEXT.encode())
    await process_pending()
    first = await _count(Chunk, document_id=doc.id)
    with pytest.raises(UploadError) as err:
        await _upload(tenant, "copy-of-guide.md", TEXT.encode())
    assert err.value.code == "duplicate" and "guide.md" in err.value.message
    async with async_session() as s:
        await knowledge.reindex_document(s, owner_id=tenant.owner_id, document_id=doc.id)
    assert (await _doc(doc.id)).status == "queued"
    await process_pending()
    assert await _count(Chunk, document_id=doc.id) == first == (await _doc(doc.id)).chunk_count
    assert await _count(Document) == 1


async def test_delete_removes_chunks(tenant):
    doc = await _upload(tenant, "guide.md", TEXT.encode())
    await process_pending()
    assert await _count(Chunk) > 0
    async with async_session() as s:
        await knowledge.delete_document(s, owner_id=tenant.owner_id, document_id=doc.id)
    assert await _count(Chunk) == 0 and await _count(DocumentFile) == 0


async def test_other_owner_cannot_touch_documents(tenant):
    from tests.rag.conftest import make_tenant

    doc = await _upload(tenant, "guide.md", TEXT.encode())
    intruder = await make_tenant("intruder@example.com")
    async with async_session() as s:
        for call in (knowledge.delete_document, knowledge.reindex_document):
            with pytest.raises(knowledge.NotFound):
                await call(s, owner_id=intruder.owner_id, document_id=doc.id)
        with pytest.raises(knowledge.NotFound):
            await knowledge.list_documents(s, owner_id=intruder.owner_id, assistant_id=tenant.assistant_id)
        with pytest.raises(knowledge.NotFound):
            await knowledge.upload_document(s, owner_id=intruder.owner_id, assistant_id=tenant.assistant_id,
                                            filename="x.txt", data=b"x")


async def test_document_interrupted_mid_processing_is_processed_again(tenant):
    doc = await _upload(tenant, "guide.md", TEXT.encode())
    # A worker claimed it and died: status processing, stale progress, lease in the past.
    async with async_session() as s:
        await s.execute(update(Document).where(Document.id == doc.id).values(
            status="processing", progress=0.4, lease_until=utcnow() - timedelta(seconds=1)))
        await s.commit()
    assert await process_pending() == 1
    d = await _doc(doc.id)
    assert d.status == "ready" and d.chunk_count > 0


async def test_document_that_kills_its_worker_every_time_ends_as_error(tenant):
    """A poison file must not stay "processing" forever: each dead worker's claim counts."""
    doc = await _upload(tenant, "guide.md", TEXT.encode())
    for attempt in range(1, worker.MAX_INGEST_ATTEMPTS + 1):
        lease = await worker.claim_next()  # the worker claims it ... and dies: its lease runs out
        assert lease is not None and lease.document_id == doc.id
        async with async_session() as s:
            await s.execute(update(Document).where(Document.id == doc.id).values(
                lease_until=utcnow() - timedelta(seconds=1)))
            await s.commit()
        assert (await _doc(doc.id)).attempts == attempt
    assert await worker.claim_next() is None
    d = await _doc(doc.id)
    assert d.status == "error" and "3 times" in d.error and d.lease_until is None
    async with async_session() as s:  # the owner re-indexes: a fresh set of attempts
        await knowledge.reindex_document(s, owner_id=tenant.owner_id, document_id=doc.id)
    assert await process_pending() == 1
    d = await _doc(doc.id)
    assert d.status == "ready" and d.attempts == 1


async def test_document_with_live_lease_is_left_alone(tenant):
    doc = await _upload(tenant, "guide.md", TEXT.encode())
    async with async_session() as s:
        await s.execute(update(Document).where(Document.id == doc.id).values(
            status="processing", lease_until=utcnow() + timedelta(minutes=1)))
        await s.commit()
    assert await process_pending() == 0


async def test_worker_that_lost_its_lease_writes_nothing(tenant):
    doc = await _upload(tenant, "guide.md", TEXT.encode())
    lease = await worker.claim_next()
    async with async_session() as s:  # another worker re-claimed it after our lease expired
        await s.execute(update(Document).where(Document.id == doc.id).values(lease_until=utcnow()))
        await s.commit()
    from chatai.rag.ingest import LeaseLost, process_document

    with pytest.raises(LeaseLost):
        await process_document(lease, lease_seconds=60)
    assert await _count(Chunk) == 0


async def test_progress_is_reported_while_embedding(tenant, monkeypatch):
    from chatai.rag import ingest

    monkeypatch.setattr(ingest, "EMBED_BATCH", 2)
    seen = []
    real_renew = ingest._renew

    async def spy(lease, *, progress, lease_seconds):
        seen.append(progress)
        await real_renew(lease, progress=progress, lease_seconds=lease_seconds)

    monkeypatch.setattr(ingest, "_renew", spy)
    await _upload(tenant, "guide.md", TEXT.encode())
    await process_pending()
    assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] == pytest.approx(0.95)


async def test_running_worker_wakes_on_upload(tenant, monkeypatch):
    from chatai.cache import get_redis
    from tests.bots.conftest import wait_for
    from tests.waits import PATIENCE

    # No poll during the test: a document that gets ready was started by the upload's notification.
    monkeypatch.setattr(worker, "POLL_SECONDS", 3600.0)
    stop = asyncio.Event()
    task = asyncio.create_task(run_ingest_worker(stop))
    # Subscribed (counted by Redis, not assumed after a sleep): the notification cannot be missed.
    assert await wait_for(lambda: _subscribers(get_redis()))
    await asyncio.sleep(0.3)  # and most likely idle, past its first round
    doc = await _upload(tenant, "note.txt", b"Wake up quickly please.")
    assert await wait_for(lambda: _ready(doc.id))
    stop.set()
    await asyncio.wait_for(task, PATIENCE)


async def _subscribers(redis) -> bool:
    return dict(await redis.pubsub_numsub(worker.CHANNEL)).get(worker.CHANNEL, 0) > 0


async def _ready(doc_id) -> bool:
    return (await _doc(doc_id)).status == "ready"


async def test_qa_csv_import_and_crud(tenant):
    doc = await _upload(tenant, "faq.csv", "question,answer\nDo you ship abroad?,Yes.\nОплата картой?,Да.\n".encode())
    assert doc.status == "ready" and doc.chunk_count == 0 and doc.content_type.endswith("; qa")
    assert await _count(QAPair, assistant_id=tenant.assistant_id) == 2
    await process_pending()  # embeds the imported pairs
    async with async_session() as s:
        pairs = await knowledge.list_qa_pairs(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id)
        assert all(p.embedding_dim == 384 for p in pairs)
        pair = await knowledge.add_qa_pair(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                           question="Where are you?", answer="Main street 1.")
        assert pair.embedding_dim == 384
        pair = await knowledge.update_qa_pair(s, owner_id=tenant.owner_id, qa_id=pair.id,
                                              question="Where is the shop?", answer="Main street 2.")
        assert pair.answer == "Main street 2."
        with pytest.raises(ValueError):
            await knowledge.add_qa_pair(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        question=" ", answer="x")
        await knowledge.delete_qa_pair(s, owner_id=tenant.owner_id, qa_id=pair.id)
    assert await _count(QAPair) == 2
