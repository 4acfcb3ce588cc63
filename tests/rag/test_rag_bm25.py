"""BM25 full text: term statistics kept exact by the triggers on chunks (ingest, re-index, delete, cascades,
text updates) and IDF-aware ranking in the product query."""

from sqlalchemy import delete, text

from chatai.db.models import Assistant, Document
from chatai.db.session import async_session
from chatai.rag.retrieval import make_plan, search_table
from chatai.rag.worker import process_pending
from chatai.services import knowledge
from tests.rag.conftest import make_tenant

STATS = text("""
    SELECT term, df FROM kb_term_stats WHERE assistant_id = :aid ORDER BY term
""")
RECOMPUTED = text("""
    SELECT t.term, count(*) AS df FROM chunks c, unnest(tsvector_to_array(c.tsv)) AS t(term)
    WHERE c.assistant_id = :aid GROUP BY 1 ORDER BY 1
""")
CORPUS = text("SELECT chunks, lexemes FROM kb_corpus_stats WHERE assistant_id = :aid")
CORPUS_RECOMPUTED = text("""
    SELECT count(*), coalesce(sum(length(tsv)), 0) FROM chunks WHERE assistant_id = :aid HAVING count(*) > 0
""")


async def _upload(tenant, name, body):
    async with async_session() as s:
        return await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                               filename=name, data=body.encode())


async def _assert_stats_exact(assistant_id) -> int:
    async with async_session() as s:
        stats = [tuple(r) for r in (await s.execute(STATS, {"aid": assistant_id})).all()]
        expected = [tuple(r) for r in (await s.execute(RECOMPUTED, {"aid": assistant_id})).all()]
        corpus = (await s.execute(CORPUS, {"aid": assistant_id})).first()
        corpus_expected = (await s.execute(CORPUS_RECOMPUTED, {"aid": assistant_id})).first()
    assert stats == expected
    assert (tuple(corpus) if corpus else None) == (tuple(corpus_expected) if corpus_expected else None)
    return len(stats)


async def test_term_statistics_follow_ingest_reindex_delete_and_cascades(tenant):
    other = await make_tenant("other@example.com")
    a = await _upload(tenant, "a.md",
                      "# Boiler\n\nThe boiler needs a yearly service.\n\n# Roof\n\nRoof tiles last long.")
    b = await _upload(tenant, "b.md", "The boiler warranty covers parts for five years.")
    await _upload(other, "c.md", "Completely different words: pancakes and syrup.")
    await process_pending()
    assert await _assert_stats_exact(tenant.assistant_id) > 0
    assert await _assert_stats_exact(other.assistant_id) > 0
    async with async_session() as s:
        df = (await s.execute(text("SELECT df FROM kb_term_stats WHERE assistant_id = :a AND term = 'boiler'"),
                              {"a": tenant.assistant_id})).scalar_one()
    assert df == 2  # two chunks mention it (the other assistant's chunks never count)

    async with async_session() as s:  # re-index replaces the chunks: counts must not double
        await knowledge.reindex_document(s, owner_id=tenant.owner_id, document_id=a.id)
    await process_pending()
    await _assert_stats_exact(tenant.assistant_id)

    async with async_session() as s:
        await knowledge.delete_document(s, owner_id=tenant.owner_id, document_id=b.id)
    await _assert_stats_exact(tenant.assistant_id)

    async with async_session() as s:  # a text edit in place (not done by the app today) is followed too
        await s.execute(text("UPDATE chunks SET text = 'Chimney sweeping every spring' WHERE document_id = :d "
                             "AND position = 0"), {"d": a.id})
        await s.commit()
    await _assert_stats_exact(tenant.assistant_id)

    async with async_session() as s:  # deleting the document row cascades to its chunks
        await s.execute(delete(Document).where(Document.id == a.id))
        await s.commit()
    assert await _assert_stats_exact(tenant.assistant_id) == 0

    async with async_session() as s:  # deleting an assistant removes its statistics
        await s.execute(delete(Assistant).where(Assistant.id == other.assistant_id))
        await s.commit()
        left = (await s.execute(text("SELECT count(*) FROM kb_term_stats WHERE assistant_id = :a"),
                                {"a": other.assistant_id})).scalar_one()
    assert left == 0


async def _fts_only(tenant, question):
    async with async_session() as s:
        plan = make_plan(question, None, provider_ok=True, multilingual=False)
        return await search_table(s, table="chunks", assistant_id=tenant.assistant_id, plan=plan, candidates=20)


async def test_bm25_prefers_the_rare_word_and_ors_the_query(tenant):
    # "permit" is in six short documents, "radon" in one long one: the rare word must win (ts_rank, with
    # no IDF, ranked the permit documents first: 0.0109 vs 0.0087).
    docs = {f"permit{i}.txt": f"Permit office {i}: permit forms, permit fees, permit rules." for i in range(6)}
    docs["radon.txt"] = ("Radon is measured in the basement and in the living rooms over two months with a small "
                         "dosimeter from the lab.")
    docs.update({f"tiles{i}.txt": f"Roof tiles of type {i} last for decades." for i in range(6)})
    for name, body in docs.items():
        await _upload(tenant, name, body)
    await process_pending()
    hits = await _fts_only(tenant, "radon permit")
    assert hits[0].document == "radon.txt"
    # OR semantics: a question with a word no chunk has still finds the chunks with the other words.
    hits = await _fts_only(tenant, "radon zeppelin")
    assert [h.document for h in hits] == ["radon.txt"]
    assert len(await _fts_only(tenant, "permit")) == 6
    # Words in more than half of the chunks do not generate candidates when a rarer word is asked too...
    assert {h.document for h in await _fts_only(tenant, "roof permit")} == {f"tiles{i}.txt" for i in range(6)} | {
        f"permit{i}.txt" for i in range(6)}  # (6 of 13 each: both still selective)
    for i in range(6, 9):
        await _upload(tenant, f"tiles{i}.txt", f"Roof tiles of type {i} last for decades.")
    await process_pending()
    hits = await _fts_only(tenant, "roof radon")  # "roof" now in 9 of 16 chunks
    assert [h.document for h in hits] == ["radon.txt"]
    # ...but alone they still return candidates.
    assert len(await _fts_only(tenant, "roof")) == 9


async def test_statistics_are_per_assistant(tenant):
    other = await make_tenant("other@example.com")
    for i in range(5):
        await _upload(other, f"o{i}.txt", f"Radon everywhere {i}.")
    await _upload(tenant, "radon.txt", "Radon is measured in becquerel.")
    await _upload(tenant, "tiles.txt", "Roof tiles are measured in square metres.")
    await process_pending()
    async with async_session() as s:
        row = (await s.execute(text("SELECT df FROM kb_term_stats WHERE assistant_id = :a AND term = 'radon'"),
                               {"a": tenant.assistant_id})).scalar_one()
    assert row == 1
    hits = await _fts_only(tenant, "radon tiles")
    assert {h.document for h in hits} == {"radon.txt", "tiles.txt"}


async def test_candidate_budget_takes_the_rarest_words_first(tenant):
    """Big knowledge bases: candidates come from the rarest words while their frequencies add up to less than
    BM25_MAX_CANDIDATES (chunks inserted directly: 3000 of them through the embedder would be slow)."""
    from chatai.rag.retrieval import BM25_MAX_CANDIDATES

    n = BM25_MAX_CANDIDATES + 100
    async with async_session() as s:
        doc = await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                              filename="big.txt", data=b"placeholder")
        await s.execute(text("""
            INSERT INTO chunks (id, document_id, assistant_id, position, section, text, token_count, embedding_dim)
            SELECT gen_random_uuid(), :d, :a, i, '',
                   CASE WHEN i < :n THEN 'alpha ' ELSE '' END || CASE WHEN i >= :n - 10 AND i < 2 * :n
                   THEN 'beta ' ELSE '' END || 'filler' || i, 3, 0
            FROM generate_series(0, 4 * :n) i
        """), {"d": doc.id, "a": tenant.assistant_id, "n": n})
        await s.commit()
    await _assert_stats_exact(tenant.assistant_id)
    # alpha: n chunks, beta: n + 10 chunks (10 have both); both below half of the 4n chunks.
    hits = await _fts_only(tenant, "alpha beta")
    assert len(hits) == 20 and all("alpha" in h.text for h in hits)  # beta, the commoner, made no candidates
    # The rarer word alone over the budget: still candidates (an arbitrary BM25_MAX_CANDIDATES of them).
    assert len(await _fts_only(tenant, "beta")) == 20


async def test_ef_search_grows_with_the_knowledge_base(tenant):
    from chatai.rag.retrieval import _prepare_vector_scan

    async with async_session() as s:
        await _prepare_vector_scan(s, 40, assistant_id=tenant.assistant_id)
        assert (await s.execute(text("SHOW hnsw.ef_search"))).scalar() == "80"
        await s.execute(text("INSERT INTO kb_corpus_stats (assistant_id, chunks, lexemes) VALUES (:a, 1000000, 1)"),
                        {"a": tenant.assistant_id})
        await _prepare_vector_scan(s, 40, assistant_id=tenant.assistant_id)
        assert (await s.execute(text("SHOW hnsw.ef_search"))).scalar() == "666"
        await s.rollback()
