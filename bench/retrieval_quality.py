"""Retrieval quality with the default local embedder: each question must retrieve its own answer.

    .venv/bin/python -m bench.retrieval_quality

English: the 503 pairs of PyPI `zaragoza-construction-faq` (CC BY 4.0; requirements-bench.txt).
Russian: 30 pairs written for this project (bench/russian_faq.py). Answers are uploaded as documents
through the real pipeline (upload -> worker -> chunks); questions go through the real hybrid query.
Reports Recall@1/@5 and MRR@10 for hybrid, vector-only and full-text-only.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from importlib import resources

from bench.common import Timer, bench_database, make_assistant
from bench.russian_faq import RUSSIAN_FAQ


def english_faq() -> list[tuple[str, str]]:
    path = resources.files("zaragoza_construction_faq").joinpath("data/faq-en.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(q["q"], q["a"]) for q in data["questions"]]


async def evaluate(name: str, pairs: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    from chatai.db.models import Assistant
    from chatai.db.session import async_session
    from chatai.rag.retrieval import make_plan, plan_query, search_table
    from chatai.rag.worker import process_pending
    from chatai.services import knowledge

    assistant_id = await make_assistant()
    async with async_session() as s:
        owner_id = (await s.get(Assistant, assistant_id)).owner_id
        for i, (_, answer) in enumerate(pairs):
            await knowledge.upload_document(s, owner_id=owner_id, assistant_id=assistant_id,
                                            filename=f"{i:04d}.txt", data=answer.encode())
    with Timer() as t:
        await process_pending()
    print(f"[{name}] indexed {len(pairs)} answers in {t.seconds:.1f} s")
    modes = {"hybrid": [], "vector only": [], "full text only": []}
    async with async_session() as s:
        assistant = await s.get(Assistant, assistant_id)
        s.expunge(assistant)  # plain values survive the per-question rollback
        for i, (question, _) in enumerate(pairs):
            plan = await plan_query(assistant, question)
            plans = {
                "hybrid": plan,
                "vector only": make_plan("", plan.vector, provider_ok=True, multilingual=True),
                "full text only": make_plan(question, None, provider_ok=True, multilingual=False),
            }
            for mode, p in plans.items():
                hits = await search_table(s, table="chunks", assistant_id=assistant_id, plan=p, candidates=40)
                ranked = [h.document for h in hits[:10]]
                target = f"{i:04d}.txt"
                modes[mode].append(ranked.index(target) + 1 if target in ranked else None)
            await s.rollback()
    results = {}
    for mode, ranks in modes.items():
        n = len(ranks)
        results[mode] = {
            "recall@1": sum(1 for r in ranks if r == 1) / n,
            "recall@5": sum(1 for r in ranks if r and r <= 5) / n,
            "mrr@10": sum(1 / r for r in ranks if r) / n,
        }
    return results


async def main() -> None:
    sets = {"english (zaragoza-construction-faq, 503)": english_faq(), "russian (own, 30)": RUSSIAN_FAQ}
    for name, pairs in sets.items():
        results = await evaluate(name, pairs)
        for mode, r in results.items():
            print(f"{name:42s} {mode:15s} Recall@1 {r['recall@1']:.3f}  Recall@5 {r['recall@5']:.3f}  "
                  f"MRR@10 {r['mrr@10']:.3f}")


if __name__ == "__main__":
    with bench_database(f"quality_{uuid.uuid4().hex[:6]}"):
        asyncio.run(main())
    sys.exit(0)
