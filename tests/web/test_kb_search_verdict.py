"""The test-search console says what the assistant would do with a question: answer (and how sure) or "don't
know" and a person, against the assistant's "How sure before answering" setting (rag/certainty.py)."""

import uuid

from chatai.rag.confidence import top_confidence
from chatai.rag.retrieval import SearchHit
from chatai.web.pages.kb_search import verdict

QUESTION = "What time do you open on Saturday?"


def _hit(text: str, score: float, section: str = "Hours") -> SearchHit:
    return SearchHit(kind="chunk", id=uuid.uuid4(), document="hours.txt", section=section, text=text, score=score,
                     similarity=score, vector_rank=1, fts_rank=1, matched_terms=2, query_terms=2)


HITS = [_hit("On Saturday we open at 10:00.", 0.8), _hit("Bikes must be returned clean.", 0.6, "Rules")]


def test_the_same_result_is_answered_or_handed_off_by_the_setting():
    sure = top_confidence(QUESTION, HITS)
    assert 0.7 <= sure < 0.8  # between the balanced and the careful operating points
    balanced, careful = verdict(QUESTION, HITS, "balanced"), verdict(QUESTION, HITS, "careful")
    assert balanced["kind"] == "answer" and careful["kind"] == "dont_know"
    assert f"sure {round(sure * 100)}%" in balanced["text"] and "“Balanced” answers from 70%" in balanced["text"]
    assert "“Careful” needs 80%" in careful["text"] and "passes the conversation to a person" in careful["text"]
    assert verdict(QUESTION, HITS, "bold")["kind"] == "answer"


def test_a_result_that_does_not_answer_the_question_is_not_said():
    off_topic = [_hit("Saturday rides start at the park.", 0.7), _hit("Bikes must be returned clean.", 0.65, "Rules")]
    assert verdict(QUESTION, off_topic, "bold")["kind"] == "dont_know"


def test_nothing_found_and_an_unknown_setting_read_in_russian():
    assert verdict(QUESTION, [], "balanced", "ru") == {
        "kind": "dont_know", "text": "В базе знаний нет ничего достаточно близкого: помощник скажет, что не знает, "
                                     "и передаст разговор сотруднику (когда передача включена)."}
    unknown = verdict(QUESTION, HITS, "reckless", "ru")  # a stored value from before: the default applies
    assert unknown["kind"] == "answer" and "«Сбалансированно» отвечает от 70%" in unknown["text"]
