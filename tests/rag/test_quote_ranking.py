"""Which sentence of the retrieved chunks is quoted (issue 20): the kind of fact asked for, lexical evidence
matched by prefix and weighted by rarity, "the cheapest". Examples from the tune half of bench/answer_sets.py,
first with the relevance the vectors gave (the wrong sentence ahead), then through the real local embedder."""

from __future__ import annotations

import uuid

from bench.answer_sets import BIKES_SET, COFFEE_SHOP_SET, FLOWERS_SET
from chatai.rag.embeddings import calibration_for, embed_query, get_embedder
from chatai.rag.extractive import select_quotes
from chatai.rag.quote_ranking import lexical_evidence, lowest_price, rank_sentences, word_matches
from chatai.rag.retrieval import SearchHit, make_plan

CLOSURES = "The shop is closed on 25 December, 1 January and Easter Sunday."
HOURS = "We are open every day from 9 am to 7 pm, and until 9 pm from June to August."
ANONYMOUS = "Можем доставить анонимно: курьер не назовёт отправителя."
DELIVERY_HOURS = "Доставляем с 8:00 до 23:00; заказ, оформленный до 18:00, привезём в тот же день."
MENU = ["Позиция: Капучино; Цена: 230 руб.; Объём: 300 мл", "Позиция: Эспрессо; Цена: 150 руб.; Объём: 30 мл",
        "Позиция: Круассан с миндалём; Цена: 210 руб.; Объём: 1 шт."]
LOYALTY = "Каждый шестой напиток бесплатно по электронной карте гостя в приложении."


def _best(question: str, sentences: list[str], relevance: list[float], headings: list[str] | None = None) -> str:
    ranks = rank_sentences(question, sentences, headings or [""] * len(sentences), relevance)
    return sentences[max(range(len(sentences)), key=lambda i: ranks[i])]


def test_a_time_question_quotes_the_sentence_with_a_time_of_day():
    # The vectors (and the shared word "close") put the holiday closures first.
    assert _best("What time do you close?", [CLOSURES, HOURS], [0.59, 0.45]) == HOURS
    assert _best("До скольки работает курьер?", [ANONYMOUS, DELIVERY_HOURS], [0.34, 0.30]) == DELIVERY_HOURS


def test_a_question_without_a_kind_keeps_the_vectors_order():
    assert _best("Are you open on Christmas day?", [CLOSURES, HOURS], [0.86, 0.40]) == CLOSURES


def test_a_price_question_prefers_a_number_with_a_currency_and_the_cheapest_the_lowest():
    # "бесплатно" is a price, but a written price answers "which is the cheapest" and the lowest one wins.
    assert _best("Какой самый дешёвый кофе у вас?", [LOYALTY, *MENU], [0.62, 0.34, 0.30, 0.31]) == MENU[1]
    assert _best("Сколько стоит капучино?", MENU, [0.6, 0.5, 0.4]) == MENU[0]
    assert lowest_price("Цена: от 6000 руб.; сложное удаление — 9000 руб.") == 6000.0
    assert lowest_price("Цена: 1 200 руб.") == 1200.0 and lowest_price("Осмотр и план лечения") is None


def test_word_forms_meet_by_prefix():
    assert word_matches("зуб", {"зубной", "камень"}) and word_matches("закрываетесь", {"закрыта"})
    assert word_matches("доставки", {"доставляем"}) and not word_matches("часы", {"чашка", "час2"})
    assert word_matches("9", {"9", "утра"}) and not word_matches("9", {"19"})


def test_a_word_every_sentence_has_counts_less_than_a_rare_one():
    sentences = ["Кофе в зёрнах для турки.", "Кофе без кофеина из Колумбии.", "Кофе дня в стаканчике."]
    evidence = lexical_evidence("кофе из Колумбии", sentences, ["", "", ""])
    assert evidence[1] == max(evidence) and evidence[0] == evidence[2] < 0.5 * evidence[1]
    # A word found only in the sentence's heading counts half.
    above = lexical_evidence("Is the parking guarded?", ["It is guarded at night."], ["Parking"])
    inside = lexical_evidence("Is the parking guarded?", ["The parking is guarded at night."], [""])
    assert 0 < above[0] < inside[0]


def _chunk(text: str, section: str) -> SearchHit:
    return SearchHit(kind="chunk", id=uuid.uuid4(), document="about.md", section=section, text=text, score=0.6,
                     similarity=None, vector_rank=1, fts_rank=1)


def _section(answer_set, title: str) -> str:
    for file in answer_set.business.files:
        for section in file.sections:
            if section.title == title:
                return "\n".join(f.text for f in section.facts)
    raise LookupError(title)


async def _quoted(question: str, hits: list[SearchHit]) -> str:
    embedder = get_embedder()
    plan = make_plan(question, await embed_query(question), provider_ok=True, multilingual=embedder.multilingual,
                     calibration=calibration_for(embedder.name))
    return "\n".join(q.text for q in await select_quotes(hits, plan))


async def test_the_real_embedder_quotes_the_hours_not_the_closures():
    hours = _chunk(_section(BIKES_SET, "Opening hours"), "Riverside Bikes > Opening hours")
    quoted = await _quoted("What time do you close?", [hours])
    assert "from 9 am to 7 pm" in quoted and "Easter" not in quoted


async def test_the_real_embedder_quotes_the_delivery_hours_for_the_courier():
    delivery = _chunk(_section(FLOWERS_SET, "Доставка"), "Доставка и оплата > Доставка")
    quoted = await _quoted("До скольки работает курьер?", [delivery])
    assert "Доставляем с 8:00 до 23:00" in quoted and "анонимно" not in quoted


async def test_the_real_embedder_quotes_the_cheapest_row_of_the_menu():
    menu = next(f for f in COFFEE_SHOP_SET.business.files if f.filename == "menu.csv")
    # As the CSV parser writes a row: "Header: value; Header: value".
    rows = "\n".join("; ".join(f"{h}: {v}" for h, v in zip(menu.header, (f.text, *f.cells), strict=True))
                     for f in menu.sections[0].facts)
    quoted = await _quoted("Какой самый дешёвый кофе у вас?", [_chunk(rows, "")])
    assert "Эспрессо" in quoted and "150" in quoted
