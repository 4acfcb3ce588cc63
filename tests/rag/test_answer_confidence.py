"""Answer when sure, hand off when not (issue 20): the decision before answering, on the real pipeline (real
PostgreSQL, the local multilingual embedder). The five failures quoted in the issue are handed off or answered
right, the per-assistant setting moves the bar, a Q&A pair sharing one word with the question never answers it.
"""

from __future__ import annotations

import uuid

import pytest

from bench.answer_sets import BIKES_SET, COFFEE_SHOP_SET, AnswerSet
from bench.knowledge_files import render
from chatai.db.session import async_session
from chatai.rag.answer import TEXTS, Answer, answer_question, decide, offline_candidate
from chatai.rag.confidence import (
    GUESS_CAP,
    THRESHOLDS,
    confidence,
    evidence,
    qa_question_matches,
    threshold_for,
)
from chatai.rag.retrieval import SearchHit
from chatai.rag.worker import process_pending
from chatai.services import assistants, knowledge


async def _load(tenant, answer_set: AnswerSet) -> None:
    async with async_session() as s:
        for file in answer_set.business.files:
            await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                            filename=file.filename, data=render(file))
        for _, question, answer in answer_set.qa_pairs:
            await knowledge.add_qa_pair(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        question=question, answer=answer)
    await process_pending()


async def _certainty(tenant, value: str) -> None:
    async with async_session() as s:
        await assistants.update_assistant(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                          answer_certainty=value)


def _is_dont_know(answer: Answer) -> bool:
    return (answer.outcome, answer.answered_by, answer.needs_handoff, answer.sources) == (
        "dont_know", "fallback", True, []) and answer.text == TEXTS[answer.language]["dont_know"]


async def test_the_coffee_shop_failures_of_the_issue(tenant):
    await _load(tenant, COFFEE_SHOP_SET)
    hours = await answer_question(assistant_id=tenant.assistant_id, question="Какие часы работы?")
    # Was answered with the wholesale Q&A pair (one shared word, "работаете"): now the opening hours.
    assert hours.outcome == "answer" and "с 7:30 до 21:00" in hours.text and "оптов" not in hours.text
    assert hours.confidence >= threshold_for("balanced")
    returns = await answer_question(assistant_id=tenant.assistant_id,
                                    question="можно отдать нераспечатанный кофе обратно?")
    # Was answered with the Q&A pair about grinding: now never that pair, and not charged if unsure.
    assert "смелем" not in returns.text.lower()
    assert _is_dont_know(returns) or "Нераспечатанную пачку зерна можно вернуть" in returns.text


async def test_the_bike_rental_failures_of_the_issue(tenant):
    await _load(tenant, BIKES_SET)
    close = await answer_question(assistant_id=tenant.assistant_id, question="What time do you close?")
    # Was: the holiday closures. Now the sentence with a time of day is quoted (rag/quote_ranking.py).
    assert close.outcome == "answer" and "from 9 am to 7 pm" in close.text and "Easter" not in close.text
    for question in ("How much for a regular bike for one day?",  # was: the e-bike and tandem prices
                     "Do you organise guided rides?"):  # was: a bare "Yes."
        answer = await answer_question(assistant_id=tenant.assistant_id, question=question)
        assert _is_dont_know(answer), (question, answer.text, answer.confidence)
        assert answer.confidence < threshold_for("balanced")
    sure = await answer_question(assistant_id=tenant.assistant_id, question="How much is the deposit?")
    assert sure.outcome == "answer" and "100 EUR per bike" in sure.text


async def test_the_setting_moves_the_bar(tenant):
    await _load(tenant, COFFEE_SHOP_SET)
    question = "можно отдать нераспечатанный кофе обратно?"
    candidate = await offline_candidate(assistant_id=tenant.assistant_id, question=question)
    # The right passage, but not sure enough for "balanced": the case the setting decides.
    assert "Нераспечатанную пачку зерна можно вернуть" in candidate.text
    assert threshold_for("bold") <= candidate.confidence < threshold_for("balanced")
    await _certainty(tenant, "bold")
    bold = await answer_question(assistant_id=tenant.assistant_id, question=question)
    assert bold.outcome == "answer" and bold.answered_by == "extractive" and bold.text == candidate.text
    for careful_enough in ("balanced", "careful"):
        await _certainty(tenant, careful_enough)
        assert _is_dont_know(await answer_question(assistant_id=tenant.assistant_id, question=question))


async def test_an_unknown_setting_is_refused_by_name(tenant):
    async with async_session() as s:
        with pytest.raises(ValueError, match="answer_certainty must be careful, balanced or bold"):
            await assistants.update_assistant(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                              answer_certainty="reckless")


def test_decide_compares_the_confidence_with_the_settings_threshold():
    answer = Answer(text="> 20 EUR", sources=[], answered_by="extractive", needs_handoff=False, confidence=0.6)
    assert THRESHOLDS["bold"] < 0.6 < THRESHOLDS["balanced"] < THRESHOLDS["careful"]
    assert decide(answer, "bold") is answer
    for setting in ("balanced", "careful", "unknown"):  # an unknown value means the default
        refused = decide(answer, setting)
        assert _is_dont_know(refused) and refused.confidence == 0.6


async def test_one_shared_word_with_a_qa_question_never_answers(tenant):
    async with async_session() as s:
        await knowledge.add_qa_pair(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                    question="Вы работаете с оптовыми покупателями?",
                                    answer="Да, для кафе и офисов есть оптовый прайс.")
        await knowledge.add_qa_pair(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                    question="Есть ли парковка?", answer="Да, во дворе.")
    answer = await answer_question(assistant_id=tenant.assistant_id, question="Какие часы работы?")
    assert _is_dont_know(answer) and "оптов" not in answer.text
    parking = await answer_question(assistant_id=tenant.assistant_id, question="Есть парковка?")
    assert parking.outcome == "answer" and parking.answered_by == "qa"
    assert parking.text == "Есть ли парковка?\nДа, во дворе."  # a short answer carries its question


def _qa_hit(question: str, similar: float) -> SearchHit:
    return SearchHit(kind="qa", id=uuid.uuid4(), document="Q&A", section=question, text="Да.", score=similar,
                     similarity=None, vector_rank=1, fts_rank=None, extra={"similar": similar})


@pytest.mark.parametrize(("question", "pair", "similar", "matches"), [
    ("Какие часы работы?", "Вы работаете с оптовыми покупателями?", 0.95, False),  # one word, "работ"
    ("можно отдать нераспечатанный кофе обратно?", "Можете смолоть купленный кофе?", 0.98, False),
    ("Есть парковка?", "Есть ли парковка?", 0.2, True),  # every word of the shorter question
    ("do you have gift cards", "Do you have a gift card?", 0.2, True),  # two words
    ("Полотенца выдаёте?", "Делаете трансфер из аэропорта?", 0.66, False),  # no word, vectors unsure
    ("Поставляете зерно в офис оптом?", "Вы работаете с оптовыми покупателями?", 0.9, True),  # a paraphrase
])
def test_qa_question_matches(question, pair, similar, matches):
    assert qa_question_matches(question, _qa_hit(pair, similar)) is matches


def test_a_missing_price_or_time_and_a_row_guess_lower_the_confidence():
    def hit(text: str, score: float) -> SearchHit:
        return SearchHit(kind="chunk", id=uuid.uuid4(), document="info.md", section="Opening hours", text=text,
                         score=score, similarity=None, vector_rank=1, fts_rank=1)

    closures = hit("The shop is closed on 25 December and 1 January.", 0.6)
    hours = hit("We are open every day from 9 am to 7 pm.", 0.6)
    question = "What time do you close?"
    without_time = evidence(question, [closures], [closures], closures.text)
    with_time = evidence(question, [hours], [hours], hours.text)
    assert without_time.kind_missing and not with_time.kind_missing
    assert confidence(without_time) < confidence(with_time)
    guess = evidence(question, [hours], [hours], hours.text, guess=True)
    assert confidence(guess) == min(confidence(with_time), GUESS_CAP) < threshold_for("bold")
