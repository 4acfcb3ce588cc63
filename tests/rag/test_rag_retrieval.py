from chatai.db.session import async_session
from chatai.rag.worker import process_pending
from chatai.services import knowledge
from tests.rag.conftest import make_tenant

FAQ = """# Shipping

We ship orders worldwide with DHL. Delivery takes three to five working days in Europe.

# Returns

You can return any item within 30 days for a full refund. Keep the receipt.

# Opening hours

The shop is open Monday to Friday from 9 am to 6 pm.

# Оплата

Мы принимаем оплату банковской картой и наличными при получении заказа.
"""


async def _upload(tenant, name, text):
    async with async_session() as s:
        await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        filename=name, data=text.encode())


async def _search(tenant, query, **kw):
    async with async_session() as s:
        return await knowledge.search(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, query=query, **kw)


async def test_hybrid_search_ranks_the_right_section_first(tenant):
    await _upload(tenant, "faq.md", FAQ)
    assert await process_pending() == 1
    cases = {
        "How long does delivery take?": "Shipping",
        "Can I get my money back?": "Returns",  # no shared word: found by the vector half
        "when are you open": "Opening hours",
        "как оплатить заказ картой": "Оплата",  # Russian: found by the full-text half
    }
    for query, section in cases.items():
        hits = await _search(tenant, query, top_k=3)
        assert hits[0].section == section, (query, [(h.section, h.score) for h in hits])
        assert hits[0].document == "faq.md"


async def test_search_explains_why(tenant):
    await _upload(tenant, "faq.md", FAQ)
    await process_pending()
    hit = (await _search(tenant, "return refund receipt", top_k=1))[0]
    assert hit.section == "Returns"
    assert hit.vector_rank == 1 and hit.fts_rank == 1
    assert hit.matched_terms == hit.query_terms == 3
    assert 0 < hit.score <= 1 and hit.similarity is not None


async def test_score_threshold_filters_unrelated(tenant):
    await _upload(tenant, "faq.md", FAQ)
    await process_pending()
    assert await _search(tenant, "quantum chromodynamics lattice", threshold=0.3) == []
    assert await _search(tenant, "квантовая хромодинамика", threshold=0.3) == []
    assert await _search(tenant, "оплата картой", threshold=0.3)


async def test_tenant_isolation(db):
    a = await make_tenant("a@example.com")
    b = await make_tenant("b@example.com")
    await _upload(a, "a.md", "# Secret\n\nThe alpha launch code is tangerine.")
    await _upload(b, "b.md", "# Menu\n\nWe serve pancakes with maple syrup.")
    await process_pending()
    for query in ("launch code tangerine", "pancakes", "alpha"):
        hits = await _search(b, query, top_k=10)
        assert all(h.document == "b.md" for h in hits), query
    # Another owner's assistant is "not found", never searched.
    async with async_session() as s:
        try:
            await knowledge.search(s, owner_id=b.owner_id, assistant_id=a.assistant_id, query="launch code")
            raise AssertionError("expected NotFound")
        except knowledge.NotFound:
            pass


async def test_filtered_vector_search_still_returns_k_rows(tenant):
    other = await make_tenant("other@example.com")
    await _upload(tenant, "mine.md", "\n\n".join(f"# Topic {i}\n\nMine fact number {i}." for i in range(6)))
    await _upload(other, "theirs.md", "\n\n".join(f"# T {i}\n\nOther fact {i} about things." for i in range(30)))
    await process_pending()
    hits = await _search(tenant, "zzz unrelated words", top_k=5)
    assert len(hits) == 5 and all(h.document == "mine.md" for h in hits)
