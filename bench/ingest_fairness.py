"""Hostile files and fairness: how fast each bomb is refused, what a file that reaches the parse child's
limits costs the app process (RSS before/after), and how long another owner's small file waits while
one owner's big upload is being indexed.

    .venv/bin/python -m bench.ingest_fairness
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import psutil

from bench.common import bench_database


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1048576


async def owner_and_assistant(label: str):
    from chatai.db.models import Assistant, User
    from chatai.db.session import async_session
    from tests.factories import Tenant

    async with async_session() as s:
        user = User(email=f"{label}-{uuid.uuid4().hex[:6]}@example.com", password_hash="-")
        s.add(user)
        await s.flush()
        assistant = Assistant(owner_id=user.id, name=label)
        s.add(assistant)
        await s.commit()
        return Tenant(user.id, assistant.id)


async def upload(tenant, name: str, data: bytes):
    from chatai.db.session import async_session
    from chatai.services import knowledge

    async with async_session() as s:
        return await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                               filename=name, data=data)


async def status(document_id) -> str:
    from chatai.db.models import Document
    from chatai.db.session import async_session

    async with async_session() as s:
        return (await s.get(Document, document_id)).status


async def until_status(document_id, wanted: str) -> None:
    """Poll (the database is the source of truth for a document's status) until it reaches `wanted`."""
    while True:
        if await status(document_id) == wanted:
            return
        await asyncio.sleep(0.02)


async def refusals() -> None:
    from chatai.services.knowledge import UploadError
    from tests.rag import hostile_files as hostile

    tenant = await owner_and_assistant("bombs")
    print("refusing hostile uploads (time from upload call to the error; app RSS before -> after):")
    for name, ext, make in [("zip bomb DOCX (1 GiB zero part)", "docx", hostile.zip_bomb_docx),
                            ("DOCX with 100 MB document.xml", "docx", hostile.huge_xml_docx),
                            ("DOCX, 100 MB of text, ratio 17", "docx", hostile.dense_text_docx),
                            ("HTML 100,000 deep", "html", hostile.deep_html),
                            ("CSV 200,000 columns", "csv", hostile.wide_csv),
                            ("PDF 50,000 pages", "pdf", hostile.many_page_pdf),
                            ("PDF page of 14 MB text operators", "pdf", hostile.text_bomb_pdf)]:
        data = make()
        before = rss_mb()
        started = time.monotonic()
        try:
            await upload(tenant, f"{uuid.uuid4().hex[:6]}.{ext}", data)
            outcome = "ACCEPTED"
        except UploadError as exc:
            outcome = exc.message
        elapsed = time.monotonic() - started
        print(f"  {name:34s} {len(data) / 1024:7.0f} KB  {elapsed:5.2f} s  RSS {before:.0f} -> {rss_mb():.0f} MB"
              f"  | {outcome}")


async def child_limits() -> None:
    """A file past every check (ratio check turned off) that needs more memory than the child may use."""
    from chatai.services.knowledge import UploadError
    from chatai.settings import get_settings
    from tests.rag import hostile_files as hostile

    os.environ["MAX_ZIP_RATIO"] = "100000"
    get_settings.cache_clear()
    try:
        tenant = await owner_and_assistant("memory")
        data = hostile.huge_xml_docx()
        before = rss_mb()
        started = time.monotonic()
        try:
            await upload(tenant, "huge.docx", data)
            outcome = "ACCEPTED"
        except UploadError as exc:
            outcome = exc.message
        print(f"past the checks, 100 MB document.xml under PARSE_MEMORY_MB={get_settings().parse_memory_mb}: "
              f"{time.monotonic() - started:.1f} s, app RSS {before:.0f} -> {rss_mb():.0f} MB | {outcome}")
    finally:
        os.environ.pop("MAX_ZIP_RATIO")
        get_settings.cache_clear()


async def fairness() -> None:
    from chatai.rag.embeddings import get_embedder
    from chatai.rag.worker import run_ingest_worker
    from tests.rag.test_ingest_fairness import big_markdown

    await get_embedder().embed(["warm up"])
    big_owner, small_owner = await owner_and_assistant("big"), await owner_and_assistant("small")
    big = [await upload(big_owner, f"manual-{i}.md", big_markdown(i)) for i in range(3)]
    stop = asyncio.Event()
    worker = asyncio.create_task(run_ingest_worker(stop))
    try:
        await until_status(big[0].id, "processing")
        await asyncio.sleep(2)
        waits = []
        for i in range(5):
            small = await upload(small_owner, f"hours-{i}.txt", f"We are open from 9 to 18, note {i}.".encode())
            started = time.monotonic()
            await until_status(small.id, "ready")
            waits.append(time.monotonic() - started)
            await asyncio.sleep(1)
        states = [await status(d.id) for d in big]
        print(f"small file ready after upload, while another owner indexes 3 big files "
              f"({len(big_markdown(0)) / 1e6:.1f} MB each): " + ", ".join(f"{w:.2f}" for w in waits)
              + f" s (max {max(waits):.2f} s); big files then: {states}")
    finally:
        stop.set()
        await asyncio.wait_for(worker, 60)


async def main() -> None:
    await refusals()
    await child_limits()
    await fairness()


if __name__ == "__main__":
    with bench_database(f"fairness_{uuid.uuid4().hex[:6]}"):
        asyncio.run(main())
