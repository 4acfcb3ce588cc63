"""Ingestion of one claimed document, Q&A embedding, and embedding-provider switches.

Idempotent by construction: a document's chunks are replaced in one transaction (delete + insert) and
only by the worker that still holds the document's lease, so a crash at any point leaves either the old
chunks or the new ones, and the document is simply processed again.

Vector spaces never mix: Assistant.embedding_provider names the space of every stored vector of that
assistant. Retrieval uses vectors only when it equals the current provider; when the provider changes,
`switch_providers` re-embeds the assistant's chunks batch by batch (resumable) and sets the new name in
the commit of the last batch (readers never use a mixture: see chatai/rag/reembed.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Assistant, Chunk, Document, DocumentFile, QAPair, utcnow
from chatai.db.session import async_session
from chatai.rag.embeddings import get_embedder
from chatai.rag.parse_process import ParseOutcome, parse_isolated
from chatai.rag.parsing import ParseError
from chatai.rag.passage_vectors import PassageVectors, embed_passages

log = logging.getLogger(__name__)

EMBED_BATCH = 32


class LeaseLost(Exception):
    """Another worker took the document over (our lease expired): stop without writing anything."""


@dataclass
class Lease:
    document_id: uuid.UUID
    until: datetime


async def _renew(lease: Lease, *, progress: float, lease_seconds: float) -> None:
    """Report progress and extend the lease in one short transaction; fail if the lease is no longer ours."""
    new_until = utcnow() + timedelta(seconds=lease_seconds)
    async with async_session() as session:
        result = await session.execute(
            update(Document).where(Document.id == lease.document_id, Document.lease_until == lease.until)
            .values(progress=round(progress, 3), lease_until=new_until, updated_at=utcnow())
        )
        await session.commit()
    if result.rowcount != 1:
        raise LeaseLost(str(lease.document_id))
    lease.until = new_until


async def process_document(lease: Lease, *, lease_seconds: float) -> str:
    """Parse, chunk, embed and store one claimed document. Returns its final status."""
    async with async_session() as session:
        document = await session.get(Document, lease.document_id)
        file = await session.get(DocumentFile, lease.document_id)
        if document is None:
            return "gone"
        filename, data = document.filename, (file.data if file else b"")
    try:
        parsed = await _parse_keeping_lease(lease, filename, data, lease_seconds=lease_seconds)
    except ParseError as exc:  # includes a parse child that ran out of memory or CPU time, or died
        await _store_error(lease, exc.message)
        return "error"
    except LeaseLost:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. the child could not be started: this file fails, not the loop
        log.exception("parsing document %s failed", lease.document_id)
        await _store_error(lease, f"The file could not be read ({type(exc).__name__}).")
        return "error"

    drafts = parsed.chunks  # none for a question/answer CSV
    embedder = get_embedder()
    vectors: list[PassageVectors] = []
    await _renew(lease, progress=0.05, lease_seconds=lease_seconds)
    for start in range(0, len(drafts), EMBED_BATCH):
        batch = drafts[start:start + EMBED_BATCH]
        try:
            vectors.extend(await embed_passages(embedder, [(d.section, d.text) for d in batch]))
        except LeaseLost:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. the embeddings API is down: report, retry on reindex
            log.exception("embedding %s failed", filename)
            await _store_error(lease, f"Embedding failed: {exc}")
            return "error"
        await _renew(lease, progress=0.05 + 0.9 * (start + len(batch)) / len(drafts), lease_seconds=lease_seconds)

    async with async_session() as session:
        locked = (await session.execute(
            select(Document).where(Document.id == lease.document_id, Document.lease_until == lease.until)
            .with_for_update()
        )).scalar_one_or_none()
        if locked is None:
            raise LeaseLost(str(lease.document_id))
        await session.execute(delete(Chunk).where(Chunk.document_id == locked.id))
        if drafts:
            await session.execute(insert(Chunk), [
                {"id": uuid.uuid4(), "document_id": locked.id, "assistant_id": locked.assistant_id,
                 "position": d.position, "section": d.section, "text": d.text, "token_count": d.token_count,
                 "embedding": v.vector, "embedding_dim": len(v.vector), "unit_embeddings": v.units}
                for d, v in zip(drafts, vectors, strict=True)
            ])
        locked.status, locked.progress, locked.error = "ready", 1.0, ""
        locked.chunk_count, locked.page_count = len(drafts), parsed.page_count
        locked.lease_until, locked.updated_at = None, utcnow()
        session.add(locked)
        await _claim_empty_provider(session, locked.assistant_id, embedder.name)
        await session.commit()
    return "ready"


async def _parse_keeping_lease(lease: Lease, filename: str, data: bytes, *, lease_seconds: float) -> ParseOutcome:
    """Parse in the limited child, renewing the lease meanwhile (a slow parse must not look abandoned)."""
    parsing = asyncio.ensure_future(parse_isolated(filename, data))
    try:
        while True:
            done, _ = await asyncio.wait({parsing}, timeout=lease_seconds / 3)
            if done:
                return parsing.result()
            await _renew(lease, progress=0.0, lease_seconds=lease_seconds)
    finally:
        if not parsing.done():
            parsing.cancel()  # kills the child
            await asyncio.gather(parsing, return_exceptions=True)


async def release(lease: Lease) -> None:
    """Give a claimed document back to the queue, uncounted (its worker is shutting down, not dying on it)."""
    async with async_session() as session:
        await session.execute(
            update(Document).where(Document.id == lease.document_id, Document.lease_until == lease.until)
            .values(status="queued", progress=0.0, lease_until=None, attempts=func.greatest(Document.attempts - 1, 0),
                    updated_at=utcnow())
        )
        await session.commit()


async def _store_error(lease: Lease, message: str) -> None:
    async with async_session() as session:
        result = await session.execute(
            update(Document).where(Document.id == lease.document_id, Document.lease_until == lease.until)
            .values(status="error", error=message, progress=0.0, lease_until=None, updated_at=utcnow())
        )
        await session.execute(delete(Chunk).where(Chunk.document_id == lease.document_id))
        if result.rowcount != 1:
            await session.rollback()
            raise LeaseLost(str(lease.document_id))
        await session.commit()


async def _claim_empty_provider(session: AsyncSession, assistant_id: uuid.UUID, name: str) -> None:
    """The first vectors of an assistant define its space."""
    await session.execute(
        update(Assistant).where(Assistant.id == assistant_id, Assistant.embedding_provider == "")
        .values(embedding_provider=name)
    )


async def embed_missing_qa(limit: int = 256) -> int:
    """Embed Q&A pairs stored without a vector (CSV imports): full text finds them meanwhile."""
    embedder = get_embedder()
    async with async_session() as session:
        rows = (await session.execute(
            select(QAPair.id, QAPair.question, QAPair.assistant_id).where(QAPair.embedding.is_(None))
            .order_by(QAPair.created_at).limit(limit).with_for_update(skip_locked=True)
        )).all()
        if not rows:
            return 0
        vectors = await embedder.embed([r.question for r in rows])
        for row, vector in zip(rows, vectors, strict=True):
            await session.execute(update(QAPair).where(QAPair.id == row.id)
                                  .values(embedding=vector, embedding_dim=len(vector)))
        for assistant_id in {r.assistant_id for r in rows}:
            await _claim_empty_provider(session, assistant_id, embedder.name)
        await session.commit()
    return len(rows)


async def switch_providers() -> int:
    """Re-embed every assistant whose vectors are in another space than the current provider's (resumable,
    with progress: chatai.rag.reembed), and give chunks stored before unit vectors existed their units."""
    from chatai.rag.reembed import backfill_units
    from chatai.rag.reembed import switch_providers as reembed_all

    switched = await reembed_all()
    await backfill_units()
    return switched
