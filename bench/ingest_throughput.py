"""Ingestion throughput with the default local embedder: pages/s and chunks/s through the real pipeline
(upload validation + parse + chunk + embed + store), for a generated multi-page PDF and a Markdown guide;
then the query embedding latency (p50/p95 of one question, uncached, as a search embeds it).

    .venv/bin/python -m bench.ingest_throughput [--queries 300]

The machine's load average is printed before and after: on a shared machine the figures depend on it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid

from bench.common import Timer, bench_database, make_assistant, percentile

WORDS = ("delivery order payment refund warranty customer account invoice shipping return store product price "
         "discount support hours manager contract service quality package tracking address courier").split()
RUSSIAN_WORDS = ("доставка заказ оплата возврат гарантия клиент счёт магазин товар цена скидка поддержка часы "
                 "менеджер договор услуга качество посылка адрес курьер запись приём врач").split()


def sentence(rng: random.Random, words: tuple[str, ...] | list[str] = WORDS) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(8, 18))).capitalize() + "."


def make_pdf(pages: int, rng: random.Random) -> bytes:
    from tests.rag.conftest import make_pdf as build

    return build([[sentence(rng) for _ in range(30)] for _ in range(pages)])


def make_markdown(sections: int, rng: random.Random) -> bytes:
    parts = []
    for i in range(sections):
        parts.append(f"## Section {i}\n")
        parts.extend(" ".join(sentence(rng) for _ in range(5)) + "\n" for _ in range(4))
    return "\n".join(parts).encode()


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


async def ingestion() -> None:
    from chatai.db.models import Assistant, Document
    from chatai.db.session import async_session
    from chatai.rag.embeddings import get_embedder
    from chatai.rag.worker import process_pending
    from chatai.services import knowledge

    await get_embedder().embed(["warm-up"])  # model load (and first-use conversion) is not ingestion
    rng = random.Random(7)
    files = {"manual.pdf": make_pdf(40, rng), "guide.md": make_markdown(60, rng)}
    assistant_id = await make_assistant()
    for name, data in files.items():
        async with async_session() as s:
            owner = (await s.get(Assistant, assistant_id)).owner_id
            with Timer() as t:
                doc = await knowledge.upload_document(s, owner_id=owner, assistant_id=assistant_id, filename=name,
                                                      data=data)
                await process_pending()
            doc = await s.get(Document, doc.id, populate_existing=True)
        secs = t.seconds
        print(f"{name}: {len(data) / 1024:.0f} KB, {doc.page_count} pages, {doc.chunk_count} chunks in {secs:.1f} s"
              f" -> {doc.page_count / secs:.2f} pages/s, {doc.chunk_count / secs:.1f} chunks/s (load {load()})",
              flush=True)


async def query_latency(count: int) -> None:
    """One question per call, as a search embeds it on a cache miss (English and Russian, 4-18 words)."""
    from chatai.rag.embeddings import get_embedder

    embedder = get_embedder()
    rng = random.Random(11)
    questions = [sentence(rng, RUSSIAN_WORDS if i % 2 else WORDS).replace(".", "?") for i in range(count)]
    for q in questions[:5]:
        await embedder.embed([q], query=True)  # warm-up
    times = []
    for q in questions:
        start = time.perf_counter()
        await embedder.embed([q], query=True)
        times.append((time.perf_counter() - start) * 1000)
    print(f"query embedding ({embedder.name}, {count} questions, uncached): p50 {percentile(times, 50):.1f} ms, "
          f"p95 {percentile(times, 95):.1f} ms, max {max(times):.1f} ms (load {load()})", flush=True)


async def main(queries: int) -> None:
    from chatai.rag.embeddings import get_embedder

    print(f"embedder: {get_embedder().name}; load average 1/5/15 min: {load()}", flush=True)
    await ingestion()
    await query_latency(queries)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    with bench_database(f"ingest_{uuid.uuid4().hex[:6]}"):
        asyncio.run(main(args.queries))
