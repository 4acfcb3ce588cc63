"""Follow-up questions searched as standalone questions: the offline rule (the previous user question when
the new one is a short follow-up) and the LLM rewrite (one call, cached in Redis), end to end through
retrieval and the answer."""

from __future__ import annotations

import json

import pytest

from chatai.cache import get_redis
from chatai.db.session import async_session
from chatai.rag import followup
from chatai.rag.answer import answer_question
from chatai.rag.worker import process_pending
from chatai.services import knowledge
from tests.fakes.openai_server import structured

DOCS = """# Доставка курьером

Курьер привезёт заказ по городу на следующий день. Стоимость доставки курьером 300 рублей.

# Подарочные сертификаты

Подарочный сертификат можно купить на сумму от 1000 до 10000 рублей.

# Bike rental

A city bike costs 15 EUR per day. We are open from 9:00 to 20:00 on weekdays and from 10:00 to 18:00 on weekends.
"""
DELIVERY = [("user", "Вы доставляете курьером по городу?"),
            ("assistant", "Да, курьер привезёт заказ на следующий день.")]


@pytest.mark.parametrize("question", [
    "а сколько это стоит?", "А в субботу?", "и это тоже?", "по выходным?", "Сколько он стоит?",
    "and on weekends?", "What about kids?", "How much is it?", "on Sunday?",
])
def test_short_questions_that_point_back_are_follow_ups(question):
    assert followup.is_follow_up(question) and followup.may_lean_on_context(question)


@pytest.mark.parametrize("question", [
    "Сколько стоит доставка курьером по городу?", "Есть подарочные сертификаты?", "Какие часы работы?",
    "How much is a city bike for one day?", "Do you deliver?", "Is there parking?", "",
    "Is it possible to pay for the city bike with a card at the counter?",  # "it", but long and named
])
def test_standalone_questions_are_not_follow_ups(question):
    assert not followup.is_follow_up(question)


def test_offline_rule_adds_the_previous_user_question_only():
    history = [*DELIVERY, ("operator", "Анна на связи"), ("user", "/start")]
    assert followup.offline_search_question("а сколько это стоит?", history) == (
        "Вы доставляете курьером по городу? а сколько это стоит?")
    assert followup.offline_search_question("Есть подарочные сертификаты?", history) == "Есть подарочные сертификаты?"
    assert followup.offline_search_question("а сколько это стоит?", []) == "а сколько это стоит?"


def test_offline_rule_follows_a_chain_of_follow_ups_back_to_the_question_that_stood_alone():
    history = [("user", "Какие часы работы?"), ("assistant", "С 9 до 18."), ("user", "Есть доставка?"),
               ("assistant", "Да."), ("user", "а сколько стоит?"), ("assistant", "300 рублей.")]
    assert followup.offline_search_question("а в выходные?", history) == (
        "Есть доставка? а сколько стоит? а в выходные?")
    chain = [("user", "а это?"), ("user", "а то?"), ("user", "а там?"), ("user", "а тут?")]
    assert followup.offline_search_question("и это?", chain) == "а то? а там? а тут? и это?"  # at most 3 back


async def _setup(tenant) -> None:
    async with async_session() as s:
        await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        filename="shop.md", data=DOCS.encode())
    await process_pending()


async def test_offline_follow_up_is_searched_with_the_previous_question(tenant):
    await _setup(tenant)
    alone = await answer_question(assistant_id=tenant.assistant_id, question="а сколько это стоит?")
    followed = await answer_question(assistant_id=tenant.assistant_id, question="а сколько это стоит?",
                                     history=DELIVERY)
    assert followed.answered_by == "extractive"
    assert "300 рублей" in followed.text and followed.sources[0].section == "Доставка курьером"
    assert "300 рублей" not in alone.text  # on its own the question says nothing about delivery


def _rewrite_requests(fake_openai) -> list[dict]:
    return fake_openai.chat_requests("standalone_question")


async def test_llm_rewrites_a_follow_up_once_and_caches_it(tenant, fake_openai):
    await _setup(tenant)

    def reply(body):
        if body["response_format"]["json_schema"]["name"] == "standalone_question":
            return json.dumps({"question": "Сколько стоит доставка курьером?"}, ensure_ascii=False)
        return structured("Доставка курьером стоит 300 рублей.", passages=[1])

    fake_openai.reply = reply
    for _ in range(2):
        answer = await answer_question(assistant_id=tenant.assistant_id, question="а сколько это стоит?",
                                       history=DELIVERY)
        assert answer.answered_by == "llm" and answer.text == "Доставка курьером стоит 300 рублей."
        assert answer.sources[0].section == "Доставка курьером"  # retrieval searched the rewritten question
    assert len(_rewrite_requests(fake_openai)) == 1  # the second time came from the cache
    request = _rewrite_requests(fake_openai)[0]["body"]
    assert request["temperature"] == 0 and request.get("stream") is not True
    assert "customer: Вы доставляете курьером по городу?" in request["messages"][1]["content"]
    assert request["messages"][1]["content"].endswith("Customer's last message: а сколько это стоит?\n")
    keys = await get_redis().keys(followup.CACHE_PREFIX + "*")
    assert len(keys) == 1 and await get_redis().get(keys[0]) == "Сколько стоит доставка курьером?"
    # The answer itself is written for the question as asked, with the conversation.
    answer_request = fake_openai.chat_requests("grounded_answer")[-1]["body"]
    assert answer_request["messages"][-1]["content"] == "а сколько это стоит?"


async def test_no_rewrite_without_history_or_for_a_long_standalone_question(tenant, fake_openai):
    await _setup(tenant)
    alone = await answer_question(assistant_id=tenant.assistant_id, question="а сколько это стоит?")
    assert alone.outcome == "dont_know"  # nothing found for it on its own (no model call either)
    await answer_question(assistant_id=tenant.assistant_id, history=DELIVERY,
                          question="How much is a city bike for one day in your shop?")
    assert _rewrite_requests(fake_openai) == [] and len(fake_openai.chat_requests("grounded_answer")) == 1


@pytest.mark.parametrize("bad_reply", ['{"question": ""}', '{"question": 42}', "{not json"])
async def test_an_unusable_rewrite_falls_back_to_the_offline_rule_and_is_not_cached(tenant, fake_openai, bad_reply):
    await _setup(tenant)
    fake_openai.reply = lambda body: (bad_reply if body["response_format"]["json_schema"]["name"]
                                      == "standalone_question" else structured("300 рублей.", passages=[1]))
    answer = await answer_question(assistant_id=tenant.assistant_id, question="а сколько это стоит?",
                                   history=DELIVERY)
    assert len(_rewrite_requests(fake_openai)) == 1
    # Searched as "Вы доставляете курьером по городу? а сколько это стоит?": delivery is the first passage.
    assert answer.sources[0].section == "Доставка курьером"
    assert await get_redis().keys(followup.CACHE_PREFIX + "*") == []
