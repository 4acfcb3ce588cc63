"""Ingestion throughput with the local embedder: pages/s and chunks/s through the real pipeline
(upload validation + parse + chunk + embed + store), for a generated multi-page PDF and a Markdown guide.

    .venv/bin/python -m bench.ingest_throughput
"""

from __future__ import annotations

import asyncio
import random
import uuid

from bench.common import Timer, bench_database, make_assistant

WORDS = ("delivery order payment refund warranty customer account invoice shipping return store product price "
         "discount support hours manager contract service quality package tracking address courier").split()


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 18))).capitalize() + "."


def make_pdf(pages: int, rng: random.Random) -> bytes:
    from tests.rag.conftest import make_pdf as build

    return build([[sentence(rng) for _ in range(30)] for _ in range(pages)])


def make_markdown(sections: int, rng: random.Random) -> bytes:
    parts = []
    for i in range(sections):
        parts.append(f"## Section {i}\n")
        parts.extend(" ".join(sentence(rng) for _ in range(5)) + "\n" for _ in range(4))
    return "\n".join(parts).encode()


async def main() -> None:
    from chatai.db.models import Assistant, Document
    from chatai.db.session import async_session
    from chatai.rag.embeddings import _local_embedder
    from chatai.rag.worker import process_pending
    from chatai.services import knowledge

    _local_embedder()  # model load (~0.5 s) is not ingestion
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
              f" -> {doc.page_count / secs:.2f} pages/s, {doc.chunk_count / secs:.1f} chunks/s")


if __name__ == "__main__":
    with bench_database(f"ingest_{uuid.uuid4().hex[:6]}"):
        asyncio.run(main())
