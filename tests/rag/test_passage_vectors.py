"""Unit vectors of multi-paragraph chunks (chatai/rag/passage_vectors.py): what is embedded, how retrieval
ranks with them, and the backfill of chunks stored before they existed (migration 0012)."""

import numpy as np
from sqlalchemy import select, text, update

from chatai.db.models import Assistant, Chunk
from chatai.db.session import async_session
from chatai.rag import reembed
from chatai.rag.embeddings import get_embedder
from chatai.rag.passage_vectors import UNIT_WEIGHT, embed_passages, passage_units
from chatai.rag.retrieval import plan_query, search_table
from chatai.rag.worker import process_pending
from chatai.services import knowledge

PRICES = """# Цены

Имплант под ключ: 65000 рублей.

Профессиональная чистка зубов: 4500 рублей.

Отбеливание ZOOM: 25000 рублей.

# Адрес

Садовая улица, дом 12.
"""


async def _upload(tenant, name: str, body: str) -> None:
    async with async_session() as s:
        await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        filename=name, data=body.encode())
    await process_pending()


async def _chunks(tenant) -> list[tuple]:
    async with async_session() as s:
        return (await s.execute(text(
            "SELECT id, section, text, embedding::text AS embedding, unit_embeddings::text AS units "
            "FROM chunks WHERE assistant_id = :a ORDER BY position"), {"a": tenant.assistant_id})).all()


def _vector(literal: str) -> np.ndarray:
    return np.array([float(x) for x in literal.strip("[]").split(",")], dtype=np.float64)


def _units(literal: str | None) -> list[np.ndarray]:
    if not literal or literal == "{}":
        return []
    return [_vector(part.strip('"')) for part in literal.strip("{}").split('","')]


def test_units_are_the_lines_with_the_section_title():
    units = passage_units("Цены", "Имплант: 65000.\nЧистка: 4500.\n\n")
    assert units == ["Цены\nИмплант: 65000.", "Цены\nЧистка: 4500."]
    assert passage_units("", "One paragraph only.") == ["One paragraph only."]


def _same(a, b) -> bool:
    """The int8 engine quantizes each batch with its own range: one text's vector differs slightly with what
    it was batched with (cosine ~0.999), so "the same vector" is a cosine, not an exact match."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) > 0.995


async def test_chunk_vector_is_the_normalized_mean_of_its_units():
    embedder = get_embedder()
    many, one = await embed_passages(embedder, [("Цены", "Имплант: 65000.\nЧистка: 4500."), ("", "Один абзац.")])
    units = np.array(await embedder.embed(["Цены\nИмплант: 65000.", "Цены\nЧистка: 4500."]))
    mean = units.mean(axis=0)
    assert abs(np.linalg.norm(many.vector) - 1) < 1e-5 and _same(many.vector, mean)
    assert len(many.units) == 2 and all(_same(a, b) for a, b in zip(many.units, units, strict=True))
    # Two units are not one: the mean is not either of them.
    assert not _same(units[0], units[1]) and float(np.asarray(many.vector) @ units[0]) < 0.99
    assert one.units is None and _same(one.vector, (await embedder.embed(["Один абзац."]))[0])


async def test_ingested_chunks_store_units_and_rank_by_their_best_unit(tenant):
    await _upload(tenant, "clinic.md", PRICES)
    rows = {r.section: r for r in await _chunks(tenant)}
    prices, address = rows["Цены"], rows["Адрес"]
    assert len(_units(prices.units)) == 3 and address.units is None
    async with async_session() as s:
        assistant = await s.get(Assistant, tenant.assistant_id)
        plan = await plan_query(assistant, "Сколько стоит имплант?")
        hits = await search_table(s, table="chunks", assistant_id=tenant.assistant_id, plan=plan, candidates=10)
    query = np.array(plan.vector)
    by_section = {h.section: h for h in hits}
    # The multi-unit chunk: (1 - w) x its chunk vector + w x its best unit (the implant line), as cosines.
    chunk_cos = float(query @ _vector(prices.embedding))
    best_unit = max(float(query @ u) for u in _units(prices.units))
    assert best_unit > chunk_cos
    expected = (1 - UNIT_WEIGHT) * chunk_cos + UNIT_WEIGHT * best_unit
    assert abs(by_section["Цены"].similarity - expected) < 1e-3
    # A one-unit chunk is ranked by its own vector.
    assert abs(by_section["Адрес"].similarity - float(query @ _vector(address.embedding))) < 1e-3
    assert hits[0].section == "Цены" and hits[0].vector_rank == 1


async def test_backfill_gives_old_chunks_units_once_and_skips_a_switching_assistant(tenant):
    await _upload(tenant, "clinic.md", PRICES)
    ingested = {r.section: r for r in await _chunks(tenant)}
    # As stored before migration 0012: one vector of the whole chunk text, no units.
    embedder = get_embedder()
    async with async_session() as s:
        for row in ingested.values():
            (whole,) = await embedder.embed([f"{row.section}\n{row.text}"])
            await s.execute(update(Chunk).where(Chunk.id == row.id).values(embedding=whole, unit_embeddings=None))
        await s.commit()
        missing = (await s.execute(select(Chunk.id).where(text(reembed.UNITS_MISSING)))).scalars().all()
    assert missing == [ingested["Цены"].id]  # the one-line chunk needs none

    # Mid provider switch: the re-embed owns this assistant's vectors; the backfill leaves them alone.
    async with async_session() as s:
        await s.execute(update(Assistant).where(Assistant.id == tenant.assistant_id)
                        .values(embedding_provider="local:all-MiniLM-L6-v2"))
        await s.commit()
    assert await reembed.backfill_units() == 0
    async with async_session() as s:
        await s.execute(update(Assistant).where(Assistant.id == tenant.assistant_id)
                        .values(embedding_provider=embedder.name))
        await s.commit()

    assert await reembed.backfill_units() == 1
    assert await reembed.backfill_units() == 0  # done: nothing picked again
    after = {r.section: r for r in await _chunks(tenant)}
    assert _same(_vector(after["Цены"].embedding), _vector(ingested["Цены"].embedding))
    assert [_same(a, b) for a, b in zip(_units(after["Цены"].units), _units(ingested["Цены"].units),
                                        strict=True)] == [True] * 3
    assert after["Адрес"].units is None


async def test_best_unit_ranking_keeps_nonsense_below_the_threshold(tenant):
    """The best of several units is a max: it must not lift noise over the calibrated threshold."""
    await _upload(tenant, "clinic.md", PRICES)
    async with async_session() as s:
        threshold = (await s.get(Assistant, tenant.assistant_id)).score_threshold
        for nonsense in ("xyzzy qwerty", "Какая столица Монголии?", "quantum chromodynamics lattice"):
            hits = await knowledge.search(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                          query=nonsense, threshold=threshold)
            assert hits == [], nonsense
        hits = await knowledge.search(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                      query="Сколько стоит имплант?", threshold=threshold)
    assert hits and hits[0].section == "Цены"
