"""Re-embedding an assistant's knowledge base when the embedding provider changes (e.g. the default local
model became multilingual-e5-small): automatic, resumable, with progress.

Readers never mix spaces: retrieval uses vectors only while Assistant.embedding_provider equals the current
provider, so during a re-embed answers come from full text alone, and the switch of the name happens in the
same commit as the last batch (the Q&A pairs, few per assistant). Chunks are re-embedded in id order, one
committed batch at a time, with the position in `kb_reembed`: a crash or restart resumes after the last
batch instead of starting over (the old single-transaction re-embed redid a 100k-chunk base from zero).

One worker per assistant: each batch locks the progress row (FOR UPDATE SKIP LOCKED); another worker that
finds it locked moves on. Chunks written meanwhile by ingestion are already in the new space (the worker
embeds with the current provider), so re-embedding them again when their id is after the cursor is harmless.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from chatai.db.models import Assistant, Chunk, KbReembed, QAPair, utcnow
from chatai.db.session import async_session
from chatai.rag.embeddings import get_embedder
from chatai.rag.passage_vectors import embed_passages

log = logging.getLogger(__name__)

REEMBED_BATCH = 64
# Chunks still without unit vectors; the very predicate of migration 0012's partial index, so finding none
# (the usual case, every maintenance round) reads an empty index instead of scanning every chunk.
UNITS_MISSING = "chunks.unit_embeddings IS NULL AND chunks.embedding IS NOT NULL AND strpos(chunks.text, chr(10)) > 0"


async def switch_providers(*, max_batches: int | None = None) -> int:
    """Re-embed every assistant whose vectors are in another space than the current provider's.
    Returns how many assistants were switched. `max_batches` bounds the work of one call (tests, crash drills)."""
    embedder = get_embedder()
    async with async_session() as session:
        ids = list((await session.execute(
            select(Assistant.id).where(Assistant.embedding_provider != "",
                                       Assistant.embedding_provider != embedder.name)
        )).scalars())
    switched = 0
    for assistant_id in ids:
        switched += await reembed_assistant(assistant_id, max_batches=max_batches)
    return switched


async def _start(assistant_id: uuid.UUID, provider: str) -> bool:
    """Create (or restart, when the target provider changed again) the progress row. False: nothing to do."""
    async with async_session() as session:
        assistant = await session.get(Assistant, assistant_id)
        if assistant is None or assistant.embedding_provider in ("", provider):
            return False
        row = await session.get(KbReembed, assistant_id)
        if row is not None and row.provider == provider:
            return True
        total = (await session.execute(select(func.count()).select_from(Chunk)
                                       .where(Chunk.assistant_id == assistant_id))).scalar_one()
        now = utcnow()
        values = {"provider": provider, "cursor": None, "done": 0, "total": total, "started_at": now,
                  "updated_at": now}
        await session.execute(pg_insert(KbReembed).values(assistant_id=assistant_id, **values)
                              .on_conflict_do_update(index_elements=["assistant_id"], set_=values))
        await session.commit()
        log.info("re-embedding assistant %s: %s -> %s (%d chunks)", assistant_id, assistant.embedding_provider,
                 provider, total)
        return True


async def reembed_assistant(assistant_id: uuid.UUID, *, max_batches: int | None = None) -> int:
    """Continue (or start) one assistant's re-embed; 1 when it finished and switched, else 0."""
    embedder = get_embedder()
    if not await _start(assistant_id, embedder.name):
        return 0
    batches = 0
    while max_batches is None or batches < max_batches:
        async with async_session() as session:
            row = (await session.execute(select(KbReembed).where(KbReembed.assistant_id == assistant_id)
                                         .with_for_update(skip_locked=True))).scalar_one_or_none()
            if row is None or row.provider != embedder.name:
                return 0  # another worker holds it, or the provider changed again (next round restarts)
            query = select(Chunk.id, Chunk.section, Chunk.text).where(Chunk.assistant_id == assistant_id)
            if row.cursor is not None:
                query = query.where(Chunk.id > row.cursor)
            batch = (await session.execute(query.order_by(Chunk.id).limit(REEMBED_BATCH))).all()
            if not batch:
                await _finish(session, assistant_id, embedder)
                return 1
            vectors = await embed_passages(embedder, [(c.section, c.text) for c in batch])
            for chunk, vector in zip(batch, vectors, strict=True):
                await session.execute(update(Chunk).where(Chunk.id == chunk.id)
                                      .values(embedding=vector.vector, embedding_dim=len(vector.vector),
                                              unit_embeddings=vector.units))
            row.cursor, row.done, row.updated_at = batch[-1].id, row.done + len(batch), utcnow()
            session.add(row)
            await session.commit()
        batches += 1
    return 0


async def _finish(session, assistant_id: uuid.UUID, embedder) -> None:
    """Q&A pairs and the provider name in the same commit: readers switch to the new space all at once."""
    pairs = (await session.execute(select(QAPair.id, QAPair.question)
                                   .where(QAPair.assistant_id == assistant_id))).all()
    vectors = await embedder.embed([p.question for p in pairs]) if pairs else []
    for pair, vector in zip(pairs, vectors, strict=True):
        await session.execute(update(QAPair).where(QAPair.id == pair.id)
                              .values(embedding=vector, embedding_dim=len(vector)))
    await session.execute(update(Assistant).where(Assistant.id == assistant_id)
                          .values(embedding_provider=embedder.name))
    await session.delete(await session.get(KbReembed, assistant_id))
    await session.commit()
    log.info("re-embedding assistant %s finished: now %s", assistant_id, embedder.name)


async def reembed_progress(session, *, assistant_id: uuid.UUID) -> tuple[int, int] | None:
    """(done, total) while the assistant's knowledge base is being re-embedded, else None."""
    row = await session.get(KbReembed, assistant_id)
    if row is None:
        return None
    return min(row.done, row.total), row.total


async def backfill_units(*, max_batches: int | None = None) -> int:
    """Unit vectors for multi-line chunks stored before they existed (migration 0012), in the assistant's
    current space: the chunk vector becomes the mean of its units in the same update. Resumable by its own
    condition (a done chunk has units); assistants in the middle of a provider switch are left to it.
    Returns how many chunks were updated."""
    embedder = get_embedder()
    updated = batches = 0
    while max_batches is None or batches < max_batches:
        async with async_session() as session:
            batch = (await session.execute(
                select(Chunk.id, Chunk.section, Chunk.text).join(Assistant, Assistant.id == Chunk.assistant_id)
                .where(text(UNITS_MISSING), Assistant.embedding_provider == embedder.name)
                .limit(REEMBED_BATCH).with_for_update(of=Chunk, skip_locked=True)
            )).all()
            if not batch:
                return updated
            vectors = await embed_passages(embedder, [(c.section, c.text) for c in batch])
            for chunk, vector in zip(batch, vectors, strict=True):
                # A chunk whose lines are all blank but one has no units: mark it with an empty array so it
                # is not picked again (ranked by its chunk vector, like a one-unit chunk).
                await session.execute(update(Chunk).where(Chunk.id == chunk.id)
                                      .values(embedding=vector.vector, embedding_dim=len(vector.vector),
                                              unit_embeddings=vector.units or []))
            await session.commit()
        updated += len(batch)
        batches += 1
    return updated
