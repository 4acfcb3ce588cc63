"""Quotes that stand alone (issue 20): a quoted "Yes."/"Да." carries what it answers, a price row its item
name and unit, and a number is never cut from what it is the number of."""

from __future__ import annotations

import uuid

from chatai.db.session import async_session
from chatai.rag.answer import answer_question, offline_candidate
from chatai.rag.extractive import asked_kind, has_kind, select_quotes, split_sentences, stands_alone
from chatai.rag.retrieval import SearchHit, make_plan
from chatai.rag.worker import process_pending
from chatai.services import knowledge


def test_a_sentence_that_cannot_stand_alone_stays_with_its_neighbour():
    assert split_sentences("Кения АА — яркая кислотность, чёрная смородина и томат. 250 г — 990 руб.") == [
        "Кения АА — яркая кислотность, чёрная смородина и томат. 250 г — 990 руб."]
    assert split_sentences("Да. Мы принимаем оплату картой и наличными.") == [
        "Да. Мы принимаем оплату картой и наличными."]
    assert split_sentences("Yes, we do. Guided rides start at 10 am on Saturdays.") == [
        "Yes, we do. Guided rides start at 10 am on Saturdays."]
    # Two sentences that each make sense are still quoted apart.
    assert split_sentences("We ship orders worldwide with DHL. Delivery takes three to five days.") == [
        "We ship orders worldwide with DHL.", "Delivery takes three to five days."]
    assert not stands_alone("Да.") and not stands_alone("250 г — 990 руб.") and not stands_alone("1 day: 40 EUR")
    assert stands_alone("Delivery takes three to five days.")


def test_what_kind_of_fact_a_question_asks_for():
    assert asked_kind("What time do you close?") == "time" and asked_kind("До скольки работает курьер?") == "time"
    assert asked_kind("Во сколько обойдётся пломба?") == "price" and asked_kind("How much is a city bike?") == "price"
    assert asked_kind("Можно с собакой?") is None
    assert has_kind("We are open from 9 am to 7 pm.", "time") and has_kind("Открыты с 7:30 до 21:00", "time")
    assert not has_kind("The shop is closed on 25 December and 1 January.", "time")
    assert has_kind("City bike: 20 EUR a day", "price") and not has_kind("Bikes for the whole family", "price")


GUIDE = """# Riverside Bikes

## Can I bring my dog?

Yes.

## Prices

- 1 day: 40 EUR
- 1 week: 150 EUR

## Returns

Late returns cost 5 EUR per started hour, and a bike kept overnight is charged a full extra day.
"""


async def _setup(tenant, qa=()):
    async with async_session() as s:
        await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        filename="guide.md", data=GUIDE.encode())
        for q, a in qa:
            await knowledge.add_qa_pair(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        question=q, answer=a)
    await process_pending()


async def test_a_bare_yes_in_a_document_is_quoted_with_its_heading(tenant):
    await _setup(tenant)
    answer = await answer_question(assistant_id=tenant.assistant_id, question="Can I bring my dog along?")
    assert answer.answered_by == "extractive", answer.text
    assert "> Can I bring my dog?: Yes." in answer.text.splitlines()


async def test_a_price_line_carries_the_heading_it_belongs_to(tenant):
    await _setup(tenant)
    # What would be quoted (the decision may still hand a vague price question to a person).
    answer = await offline_candidate(assistant_id=tenant.assistant_id,
                                     question="What do your prices for a day look like?")
    quoted = [line for line in answer.text.splitlines() if line.startswith(">")]
    assert "> Prices: 1 day: 40 EUR" in quoted, answer.text


async def test_a_direct_qa_yes_carries_its_question(tenant):
    await _setup(tenant, qa=[("Do you have child seats?", "Yes.")])
    answer = await answer_question(assistant_id=tenant.assistant_id, question="Do you have child seats?")
    assert (answer.answered_by, answer.text) == ("qa", "Do you have child seats?\nYes.")


async def test_a_quoted_qa_answer_carries_its_question():
    pair = SearchHit(kind="qa", id=uuid.uuid4(), document="Q&A", section="Do you have child seats?", text="Yes.",
                     score=0.6, similarity=None, vector_rank=None, fts_rank=1)
    plan = make_plan("Have you got child seats?", None, provider_ok=False, multilingual=False)
    (quote,) = await select_quotes([pair], plan)
    assert quote.text == "Do you have child seats?\nYes."
