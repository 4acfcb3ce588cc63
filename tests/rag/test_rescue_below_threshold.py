"""Recall below the score threshold (issue 20): offline, when no passage reaches the assistant's minimum
similarity (0.3), quotes may come from passages down to RESCUE_FLOOR, marked for the decision, which judges
them like any other; with an LLM they are never given to the model. The question is from the tune half of
bench/answer_sets.py (the dental clinic's hours score 0.29 for it)."""

from __future__ import annotations

from dataclasses import replace

from bench.knowledge_files import render
from bench.russian_businesses import DENTAL
from chatai.db.session import async_session
from chatai.rag.answer import RESCUE_FLOOR, offline_candidate, stream_answer
from chatai.rag.confidence import confidence, threshold_for
from chatai.rag.worker import process_pending
from chatai.services import knowledge

SATURDAY = "Во сколько вы открываетесь в субботу?"


async def _load(tenant) -> None:
    async with async_session() as s:
        for file in DENTAL.files:
            await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                            filename=file.filename, data=render(file))
    await process_pending()


async def test_a_passage_below_the_threshold_is_quoted_marked_and_judged(tenant):
    await _load(tenant)
    candidate = await offline_candidate(assistant_id=tenant.assistant_id, question=SATURDAY)
    assert candidate.answered_by == "extractive", candidate.text
    assert "в субботу с 9:00 до 18:00" in candidate.text
    assert all(RESCUE_FLOOR <= h.score < 0.3 for h in candidate.hits)
    assert candidate.evidence.rescued
    # Being below the owner's bar counts against it: the same evidence above the bar is surer.
    assert confidence(replace(candidate.evidence, rescued=False)) > candidate.confidence


async def test_a_question_nothing_reaches_even_the_floor_for_is_still_dont_know(tenant):
    await _load(tenant)
    candidate = await offline_candidate(assistant_id=tenant.assistant_id, question="Продаёте ли вы велосипеды?")
    assert (candidate.outcome, candidate.answered_by, candidate.confidence) == ("dont_know", "fallback", 0.0)


async def test_the_llm_is_never_given_passages_below_the_threshold(tenant, fake_openai):
    await _load(tenant)
    items = [i async for i in stream_answer(assistant_id=tenant.assistant_id, question=SATURDAY)]
    answer = items[-1]
    assert (answer.outcome, answer.answered_by) == ("dont_know", "fallback")
    assert answer.confidence < threshold_for("bold")
    assert fake_openai.chat_requests() == []
