# ruff: noqa: E501 - one dialog per line reads best for a data table
"""Follow-up questions: does the passage that answers a follow-up come first when it is searched as typed,
with the offline rule (chatai/rag/followup.py: the dialog's previous question added to a short follow-up),
and as a correct standalone rewrite (what the LLM rewrite is asked to produce; written by hand here, so
this is the LLM path's ceiling, not a model's measured output)?

    .venv/bin/python -m bench.followup_quality

The three Russian businesses of bench/russian_businesses.py, ingested through the real pipeline with the
default local embedder; 24 two-turn dialogs written as customers write. Reports Recall@1/@5 in answer order
(the order the answer uses). A control: the businesses' own 102 standalone questions, each asked after the
one before it, must not lose recall to the offline rule (how many it takes for follow-ups is printed).
"""

from __future__ import annotations

import asyncio
import sys
import uuid

from bench.common import bench_database
from bench.knowledge_files import needle, render
from bench.retrieval_quality import _figures, _index, _ranks
from bench.russian_businesses import BUSINESSES, Business

# (business name, previous question, follow-up, fact key, standalone rewrite)
DIALOGS = [
    ("dental clinic", "Сколько стоит отбеливание?", "а сколько по времени это длится?", "whitening", "Сколько длится отбеливание зубов?"),
    ("dental clinic", "Во сколько вы открываетесь в будни?", "а в субботу?", "hours", "Во сколько клиника работает в субботу?"),
    ("dental clinic", "Сколько стоит имплант под ключ?", "а гарантия на него какая?", "warranty", "Какая гарантия на имплант?"),
    ("dental clinic", "Сколько стоит коронка из циркония?", "а как долго её делают?", "crown", "Сколько дней делают коронку из циркония?"),
    ("dental clinic", "Вы лечите детям зубы?", "а с какого возраста?", "kids", "С какого возраста принимает детский стоматолог?"),
    ("dental clinic", "Где находится клиника?", "а машину там есть где оставить?", "parking", "Есть ли у клиники парковка?"),
    ("dental clinic", "Можно ли оплатить лечение в рассрочку?", "а на какой срок?", "installment", "На какой срок можно оформить рассрочку на лечение?"),
    ("dental clinic", "Сколько стоят брекеты?", "а осмотры ортодонта туда входят?", "braces", "Входят ли осмотры ортодонта в цену брекетов?"),
    ("coffee roastery", "Как быстро привезут по Москве?", "а сколько это стоит?", "courier_msk", "Сколько стоит курьерская доставка по Москве?"),
    ("coffee roastery", "Доставляете ли вы в Минск?", "а в Казахстан?", "abroad", "Доставляете ли вы кофе в Казахстан?"),
    ("coffee roastery", "Сколько стоит эфиопский кофе?", "а кенийский?", "kenya", "Сколько стоит кенийский кофе?"),
    ("coffee roastery", "Можно ли заехать к вам и взять кофе лично?", "а в какие часы?", "pickup", "В какие часы можно забрать кофе самовывозом?"),
    ("coffee roastery", "У вас есть подписка на кофе?", "а скидка по ней есть?", "subscription", "Есть ли скидка на подписку на кофе?"),
    ("coffee roastery", "Делаете подарки с логотипом компании?", "а от скольки штук?", "corporate", "Какой минимальный тираж корпоративных подарков с логотипом?"),
    ("coffee roastery", "Как варить кофе в турке?", "а сколько кофе класть?", "turka", "Сколько кофе класть в турку?"),
    ("coffee roastery", "Можно заплатить наличными курьеру?", "а картой на сайте?", "payment", "Можно ли оплатить заказ картой на сайте?"),
    ("car service", "Сколько стоит замена масла?", "а по времени сколько?", "oil", "Сколько времени занимает замена масла?"),
    ("car service", "Сколько стоит заменить ремень ГРМ?", "а как часто его меняют?", "timing_interval", "Как часто нужно менять ремень ГРМ?"),
    ("car service", "У вас есть эвакуатор?", "а сколько он стоит?", "tow", "Сколько стоит эвакуатор?"),
    ("car service", "Какая гарантия на ремонт?", "а на запчасти?", "warranty", "Какая гарантия на запчасти?"),
    ("car service", "Вы работаете в выходные?", "а до скольки?", "hours", "До скольки работает автосервис?"),
    ("car service", "Дадите машину на время ремонта?", "а с какого срока?", "replacement_car", "При каком сроке ремонта дают подменный автомобиль?"),
    ("car service", "Сколько стоит диагностика двигателя?", "а долго она идёт?", "diag", "Сколько длится диагностика двигателя?"),
    ("car service", "Проверяете аккумуляторы?", "и сколько это стоит?", "battery", "Сколько стоит проверка аккумулятора?"),
]
MODE = "answer order"


def _found(business: Business, key: str):
    facts = {f.key: f for file in business.files for section in file.sections for f in section.facts}
    wanted = needle(facts[key])
    return lambda hit: wanted in hit.text


async def main() -> None:
    from chatai.rag.embeddings import get_embedder
    from chatai.rag.followup import is_follow_up, offline_search_question

    print(f"embedder: {get_embedder().name}; {len(DIALOGS)} follow-up dialogs", flush=True)
    ranks: dict[str, list[int | None]] = {"as typed": [], "offline rule": [], "standalone rewrite": []}
    control: dict[str, list[int | None]] = {"alone": [], "offline rule": []}
    taken = 0
    for business in BUSINESSES:
        assistant_id = await _index([(file.filename, render(file)) for file in business.files])
        dialogs = [d for d in DIALOGS if d[0] == business.name]
        for mode, questions in (
            ("as typed", [follow for _b, _p, follow, _k, _r in dialogs]),
            ("offline rule", [offline_search_question(follow, [("user", prev)]) for _b, prev, follow, _k, _r in dialogs]),
            ("standalone rewrite", [rewrite for _b, _p, _f, _k, rewrite in dialogs]),
        ):
            probes = [(q, _found(business, d[3])) for q, d in zip(questions, dialogs, strict=True)]
            ranks[mode] += (await _ranks(assistant_id, probes))[MODE]
        # Control: standalone questions asked one after another must not be disturbed by the rule.
        pairs = business.questions
        searched = [offline_search_question(q, [("user", pairs[i - 1][0])] if i else []) for i, (q, _k) in enumerate(pairs)]
        taken += sum(1 for i, (q, _k) in enumerate(pairs) if i and is_follow_up(q))
        control["alone"] += (await _ranks(assistant_id, [(q, _found(business, k)) for q, k in pairs]))[MODE]
        control["offline rule"] += (await _ranks(assistant_id, [(s, _found(business, k)) for s, (_q, k)
                                                                in zip(searched, pairs, strict=True)]))[MODE]
    for mode, found in ranks.items():
        figures = _figures({mode: found})[mode]
        print(f"follow-ups ({len(found)}) {mode:20s} Recall@1 {figures['recall@1']:.3f}  Recall@5 {figures['recall@5']:.3f}",
              flush=True)
    n = len(control["alone"])
    print(f"control: {taken} of {n} standalone questions taken for follow-ups by the offline rule", flush=True)
    for mode, found in control.items():
        figures = _figures({mode: found})[mode]
        print(f"control ({n}) {mode:20s} Recall@1 {figures['recall@1']:.3f}  Recall@5 {figures['recall@5']:.3f}",
              flush=True)


if __name__ == "__main__":
    with bench_database(f"followup_{uuid.uuid4().hex[:6]}"):
        asyncio.run(main())
    sys.exit(0)
