"""Knowledge base commands: `kb ingest`, `kb search`, and `ask` (the answer an end user would get).

Operators address an assistant by id; the commands act as its owner so the same owner-scoped services
(and their validation) run as in the dashboard.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path

from chatai.cli_support import assistant_id_arg, fail, owner_of_assistant, run_async


def register(sub: argparse._SubParsersAction) -> None:
    kb = sub.add_parser("kb", help="knowledge base").add_subparsers(dest="action", required=True)

    ingest = kb.add_parser("ingest", help="upload and index files now; exit 1 if any file fails")
    ingest.add_argument("--assistant", required=True, help="assistant id")
    ingest.add_argument("files", nargs="+", metavar="FILE")
    ingest.set_defaults(func=_ingest)

    search = kb.add_parser("search", help="hybrid search, as the test console shows it")
    search.add_argument("--assistant", required=True, help="assistant id")
    search.add_argument("--top-k", type=int, default=None, help="results per query (default: the assistant's)")
    search.add_argument("--json", action="store_true", help="one JSON object per query per line")
    search.add_argument("queries", nargs="+", metavar="QUERY")
    search.set_defaults(func=_search)

    reindex = kb.add_parser("reindex", help="re-index every document of an assistant")
    reindex.add_argument("--assistant", required=True, help="assistant id")
    reindex.set_defaults(func=_reindex)

    ask = sub.add_parser("ask", help="ask an assistant a question; prints the answer and its sources")
    ask.add_argument("--assistant", required=True, help="assistant id")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("question", nargs="+", metavar="QUESTION")
    ask.set_defaults(func=_ask)


def _ingest(args: argparse.Namespace) -> int:
    from chatai.db.models import Document
    from chatai.db.session import async_session
    from chatai.rag.worker import process_pending
    from chatai.services.knowledge import UploadError, upload_document

    assistant_id = assistant_id_arg(args.assistant)

    async def go() -> int:
        failures = 0
        queued: dict[uuid.UUID, str] = {}
        async with async_session() as session:
            owner_id = await owner_of_assistant(session, assistant_id)
            for name in args.files:
                path = Path(name)
                try:
                    data = await asyncio.to_thread(path.read_bytes)
                except OSError as exc:
                    print(f"{name}: cannot read the file: {exc.strerror or exc}", file=sys.stderr)
                    failures += 1
                    continue
                try:
                    document = await upload_document(session, owner_id=owner_id, assistant_id=assistant_id,
                                                     filename=path.name, data=data)
                except UploadError as exc:
                    print(f"{name}: {exc.message}", file=sys.stderr)
                    failures += 1
                    continue
                queued[document.id] = name
        await process_pending()
        async with async_session() as session:
            for document_id, name in queued.items():
                document = await session.get(Document, document_id)
                if document is None or document.status != "ready":
                    reason = document.error if document is not None else "deleted while indexing"
                    print(f"{name}: {reason or 'not indexed'}", file=sys.stderr)
                    failures += 1
                elif document.content_type.endswith("; qa"):
                    print(f"{name}: imported as Q&A pairs")
                else:
                    print(f"{name}: indexed, {document.chunk_count} chunks")
        return 1 if failures else 0

    return run_async(go())


def _search(args: argparse.Namespace) -> None:
    from chatai.db.session import async_session
    from chatai.rag.confidence import top_confidence
    from chatai.services.knowledge import search

    assistant_id = assistant_id_arg(args.assistant)
    if args.top_k is not None and not 1 <= args.top_k <= 100:
        fail("--top-k must be between 1 and 100")

    async def go() -> None:
        async with async_session() as session:
            owner_id = await owner_of_assistant(session, assistant_id)
            for query in args.queries:
                hits = await search(session, owner_id=owner_id, assistant_id=assistant_id, query=query,
                                    top_k=args.top_k)
                await session.rollback()
                if args.json:  # confidence: of answering with the top result (rag/confidence.py)
                    print(json.dumps({"query": query, "confidence": top_confidence(query, hits), "results": [
                        {"document": h.document, "text": h.text, "score": h.score, "section": h.section,
                         "vector_rank": h.vector_rank, "fts_rank": h.fts_rank, "similarity": h.similarity}
                        for h in hits]}, ensure_ascii=False), flush=True)
                    continue
                print(f"query: {query}")
                for i, h in enumerate(hits, 1):
                    why = f"vector #{h.vector_rank}" if h.vector_rank else "no vector match"
                    why += f", words #{h.fts_rank} ({h.matched_terms}/{h.query_terms})" if h.fts_rank else ""
                    snippet = " ".join(h.text.split())[:160]
                    print(f"{i:>2}. {h.score:.3f}  {h.document} / {h.section or '-'}  [{why}]\n    {snippet}")
                if not hits:
                    print("   (nothing found)")

    run_async(go())


def _reindex(args: argparse.Namespace) -> None:
    from sqlalchemy import select

    from chatai.db.models import Document
    from chatai.db.session import async_session
    from chatai.rag.worker import process_pending
    from chatai.services.knowledge import reindex_document

    assistant_id = assistant_id_arg(args.assistant)

    async def go() -> None:
        async with async_session() as session:
            owner_id = await owner_of_assistant(session, assistant_id)
            ids = list((await session.execute(select(Document.id).where(Document.assistant_id == assistant_id)))
                       .scalars())
            for document_id in ids:
                await reindex_document(session, owner_id=owner_id, document_id=document_id)
        count = await process_pending()
        print(f"re-indexed {count} documents")

    run_async(go())


def _ask(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from chatai.db.session import async_session
    from chatai.rag.answer import answer_question

    assistant_id = assistant_id_arg(args.assistant)
    question = " ".join(args.question)

    async def go() -> None:
        async with async_session() as session:
            await owner_of_assistant(session, assistant_id)
        answer = await answer_question(assistant_id=assistant_id, question=question)
        if args.json:
            payload = {k: v for k, v in asdict(answer).items() if k not in ("hits", "evidence")}
            print(json.dumps(payload, ensure_ascii=False))
            return
        print(answer.text)
        if answer.sources:
            print("\nSources:")
            for s in answer.sources:
                print(f"- {s.document}" + (f" / {s.section}" if s.section else "") + f" (score {s.score:.2f})")
        if answer.needs_handoff:
            print("\n(flagged for a person)")

    run_async(go())
