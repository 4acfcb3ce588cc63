"""Retrieval quality with the default local embedder: each question must retrieve its own answer.

    .venv/bin/python -m bench.retrieval_quality [--sets english russian-30 russian]
    LOCAL_EMBEDDER=all-MiniLM-L6-v2 .venv/bin/python -m bench.retrieval_quality   # the other local model

Sets:
- english: the 503 pairs of PyPI `zaragoza-construction-faq` (CC BY 4.0; requirements-bench.txt), each answer
  uploaded as its own .txt document.
- russian-30: the first own Russian set (bench/russian_faq.py, one online shop), answers as .txt documents.
- russian: 102 paraphrased questions over three fictional businesses (bench/russian_businesses.py), whose
  knowledge is uploaded as CSV, Markdown, HTML and DOCX files, one assistant per business; a question is
  found at the first chunk that contains its passage.
Everything goes through the real pipeline (upload -> worker -> chunks) and the real fused query. Reports
Recall@1/@5 and MRR@10 for hybrid (fused order), vector only, full text only, and "answer order": the
hybrid candidates sorted by calibrated score as `search_knowledge` orders them for the answer and the
test console (no threshold applied).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from importlib import resources

from bench.common import Timer, bench_database, make_assistant
from bench.knowledge_files import needle, render
from bench.russian_businesses import BUSINESSES, Business
from bench.russian_faq import RUSSIAN_FAQ

MODES = ("hybrid", "vector only", "full text only", "answer order")
# A question and the test that says whether a retrieved hit answers it.
Probe = tuple[str, Callable[[object], bool]]


def english_faq() -> list[tuple[str, str]]:
    path = resources.files("zaragoza_construction_faq").joinpath("data/faq-en.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(q["q"], q["a"]) for q in data["questions"]]


async def _index(files: list[tuple[str, bytes]]) -> uuid.UUID:
    """A new assistant with these files uploaded and processed by the worker."""
    from chatai.db.models import Assistant
    from chatai.db.session import async_session
    from chatai.rag.worker import process_pending
    from chatai.services import knowledge

    assistant_id = await make_assistant()
    async with async_session() as s:
        owner_id = (await s.get(Assistant, assistant_id)).owner_id
        for filename, data in files:
            await knowledge.upload_document(s, owner_id=owner_id, assistant_id=assistant_id, filename=filename,
                                            data=data)
    await process_pending()
    return assistant_id


async def _ranks(assistant_id: uuid.UUID, probes: list[Probe]) -> dict[str, list[int | None]]:
    """1-based rank of the first hit that answers each question, per mode (None: not in the top 10)."""
    from chatai.db.models import Assistant
    from chatai.db.session import async_session
    from chatai.rag.retrieval import by_relevance, make_plan, plan_query, search_table

    ranks: dict[str, list[int | None]] = {mode: [] for mode in MODES}
    async with async_session() as s:
        assistant = await s.get(Assistant, assistant_id)
        s.expunge(assistant)  # plain values survive the per-question rollback
        for question, answers in probes:
            plan = await plan_query(assistant, question)
            plans = {
                "hybrid": plan,
                "vector only": make_plan("", plan.vector, provider_ok=True, multilingual=True),
                "full text only": make_plan(question, None, provider_ok=True, multilingual=False),
            }
            hits_by_mode = {}
            for mode, p in plans.items():
                hits_by_mode[mode] = await search_table(s, table="chunks", assistant_id=assistant_id, plan=p,
                                                        candidates=40)
            hits_by_mode["answer order"] = by_relevance(hits_by_mode["hybrid"])
            for mode in MODES:
                top = hits_by_mode[mode][:10]
                ranks[mode].append(next((i + 1 for i, h in enumerate(top) if answers(h)), None))
            await s.rollback()
    return ranks


def _figures(ranks: dict[str, list[int | None]]) -> dict[str, dict[str, float]]:
    results = {}
    for mode, found in ranks.items():
        n = len(found)
        results[mode] = {
            "recall@1": sum(1 for r in found if r == 1) / n,
            "recall@5": sum(1 for r in found if r and r <= 5) / n,
            "mrr@10": sum(1 / r for r in found if r) / n,
        }
    return results


async def evaluate_pairs(name: str, pairs: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Each answer is its own .txt document; a question must retrieve its document."""
    with Timer() as t:
        assistant_id = await _index([(f"{i:04d}.txt", answer.encode()) for i, (_, answer) in enumerate(pairs)])
    print(f"[{name}] indexed {len(pairs)} answers in {t.seconds:.1f} s", flush=True)
    probes = [(q, lambda h, target=f"{i:04d}.txt": h.document == target) for i, (q, _) in enumerate(pairs)]
    return _figures(await _ranks(assistant_id, probes))


async def _check_passages(assistant_id: uuid.UUID, business: Business) -> None:
    """Every passage must survive parsing and chunking whole, else the bench would measure the renderer."""
    from sqlalchemy import text

    from chatai.db.session import async_session

    async with async_session() as s:
        connection = await s.connection()
        chunks = (await connection.execute(text("SELECT text FROM chunks WHERE assistant_id = :a"),
                                           {"a": assistant_id})).scalars().all()
    missing = [f.key for file in business.files for section in file.sections for f in section.facts
               if not any(needle(f) in c for c in chunks)]
    if missing:
        raise SystemExit(f"{business.name}: passages not found whole in any chunk: {missing}")


async def evaluate_businesses(name: str, businesses: list[Business]) -> dict[str, dict[str, float]]:
    """One assistant per business with its files; figures pooled over all questions."""
    pooled: dict[str, list[int | None]] = {mode: [] for mode in MODES}
    for business in businesses:
        facts = {f.key: f for file in business.files for section in file.sections for f in section.facts}
        with Timer() as t:
            assistant_id = await _index([(file.filename, render(file)) for file in business.files])
        await _check_passages(assistant_id, business)
        print(f"[{name}] {business.name}: {len(business.files)} files, {len(facts)} passages indexed in "
              f"{t.seconds:.1f} s", flush=True)
        probes = [(q, lambda h, wanted=needle(facts[key]): wanted in h.text) for q, key in business.questions]
        ranks = await _ranks(assistant_id, probes)
        own = _figures(ranks)["hybrid"]
        print(f"[{name}] {business.name}: {len(probes)} questions, hybrid Recall@5 {own['recall@5']:.3f} "
              f"MRR@10 {own['mrr@10']:.3f}", flush=True)
        for mode in MODES:
            pooled[mode] += ranks[mode]
    return _figures(pooled)


async def main(sets: list[str]) -> None:
    from chatai.rag.embeddings import get_embedder

    print(f"embedder: {get_embedder().name}", flush=True)
    questions = sum(len(b.questions) for b in BUSINESSES)
    runs = {
        "english": ("english (zaragoza-construction-faq, 503)", lambda n: evaluate_pairs(n, english_faq())),
        "russian-30": ("russian (own, 30, one shop)", lambda n: evaluate_pairs(n, RUSSIAN_FAQ)),
        "russian": (f"russian ({questions}, {len(BUSINESSES)} businesses)",
                    lambda n: evaluate_businesses(n, BUSINESSES)),
    }
    for key in sets:
        name, run = runs[key]
        results = await run(name)
        for mode, r in results.items():
            print(f"{name:42s} {mode:15s} Recall@1 {r['recall@1']:.3f}  Recall@5 {r['recall@5']:.3f}  "
                  f"MRR@10 {r['mrr@10']:.3f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", choices=("english", "russian-30", "russian"),
                        default=["english", "russian-30", "russian"])
    args = parser.parse_args()
    with bench_database(f"quality_{uuid.uuid4().hex[:6]}"):
        asyncio.run(main(args.sets))
    sys.exit(0)
