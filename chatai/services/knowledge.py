"""Knowledge base use cases (documents, Q&A pairs, test search), shared by the dashboard and the CLI.

Every function is owner-scoped: the assistant (or the document's assistant) must belong to owner_id,
else assistants.NotFound, exactly like another owner's id. The caller owns the session.

Uploads are validated completely (type, size, damage, encryption, no text, duplicate) BEFORE anything is
stored, so a rejected file leaves no trace; accepted files are queued and the ingestion worker does the
slow part (chunking, embedding) off the request path.

A CSV whose header has question and answer columns (also "вопрос"/"ответ") is a Q&A import: its pairs
are added at once (vectors are computed by the worker; full text finds them meanwhile), and the returned
Document row records the upload with status "ready", chunk_count 0 and content_type "text/csv; qa".
Deleting that row does not delete the imported pairs (they are managed as Q&A pairs).
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import PurePath

from sqlalchemy import delete, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Assistant, Chunk, Document, DocumentFile, QAPair, utcnow
from chatai.rag.embeddings import get_embedder
from chatai.rag.parse_process import parse_isolated
from chatai.rag.parsing import CONTENT_TYPES, ParseError, file_kind
from chatai.rag.retrieval import SearchHit, hybrid_search, plan_query
from chatai.services import audit
from chatai.services.assistants import NotFound, get_owned_assistant
from chatai.settings import get_settings

__all__ = [
    "NotFound", "SearchHit", "UploadError", "add_qa_pair", "check_upload_size", "delete_document", "delete_qa_pair",
    "list_documents", "list_qa_pairs", "reindex_document", "search", "update_qa_pair", "upload_document",
]

MAX_QA_QUESTION = 2000
MAX_QA_ANSWER = 10000


class UploadError(Exception):
    """A rejected upload. `code`: unsupported_type | too_large | empty | corrupt | encrypted | no_text_layer |
    over_limit | duplicate | bad_name. `message` is specific English for the owner; `stats` says how far
    reading got before a limit refused the file (see rag.limits.TextBudget)."""

    def __init__(self, code: str, filename: str, message: str, stats: dict[str, int] | None = None) -> None:
        super().__init__(f"{filename}: {message}")
        self.code = code
        self.filename = filename
        self.message = message
        self.stats = dict(stats or {})


def _clean_filename(filename: str) -> str:
    name = PurePath(filename.replace("\\", "/")).name.strip()
    return "".join(ch for ch in name if ch.isprintable())[:255]


def check_upload_size(filename: str, size: int) -> None:
    """UploadError("too_large") for a file over MAX_UPLOAD_MB (callers check before reading it whole)."""
    limit = get_settings().max_upload_bytes
    if size > limit:
        raise UploadError("too_large", filename, f"The file is {size / 1048576:.1f} MB; the limit is "
                          f"{limit / 1048576:.0f} MB.")


async def upload_document(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID, filename: str,
                          data: bytes) -> Document:
    """Validate and queue a file (see module docstring for the Q&A CSV case). Raises UploadError."""
    assistant = await get_owned_assistant(session, owner_id=owner_id, assistant_id=assistant_id)
    name = _clean_filename(filename)
    if not name:
        raise UploadError("bad_name", filename, "The file has no name.")
    check_upload_size(name, len(data))
    try:
        kind = file_kind(name)
        # Full parse now (in a child process with memory and CPU limits, in this owner's share of the parse
        # slots): damaged, encrypted, text-less and over-limit files are refused before anything is stored.
        parsed = await parse_isolated(name, data, with_chunks=False, owner=str(owner_id))
    except ParseError as exc:
        raise UploadError(exc.code, name, exc.message, exc.stats) from exc
    digest = hashlib.sha256(data).hexdigest()
    existing = (await session.execute(
        select(Document.filename).where(Document.assistant_id == assistant.id, Document.content_hash == digest)
    )).scalar_one_or_none()
    if existing is not None:
        raise UploadError("duplicate", name, f"This file was already uploaded to this assistant as {existing!r}.")

    is_qa = parsed.qa_pairs is not None
    document = Document(
        assistant_id=assistant.id, filename=name, content_type=CONTENT_TYPES[kind] + ("; qa" if is_qa else ""),
        size_bytes=len(data), content_hash=digest, page_count=parsed.page_count,
        status="ready" if is_qa else "queued", progress=1.0 if is_qa else 0.0,
    )
    session.add(document)
    await session.flush()
    session.add(DocumentFile(document_id=document.id, data=data))
    if is_qa:
        for question, answer in parsed.qa_pairs or []:
            session.add(QAPair(assistant_id=assistant.id, question=question[:MAX_QA_QUESTION],
                               answer=answer[:MAX_QA_ANSWER]))
    audit.record(session, actor_id=owner_id, action="document.upload", target_type="document",
                 target_id=document.id, details={"filename": name, "bytes": len(data),
                                                 "qa_pairs": len(parsed.qa_pairs or [])})
    await session.commit()
    await _notify()
    return document


async def _notify() -> None:
    from chatai.rag.worker import notify_ingest

    await notify_ingest()


async def list_documents(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID) -> list[Document]:
    """Newest first, with status/progress/error for the dashboard table (file bytes are not loaded)."""
    await get_owned_assistant(session, owner_id=owner_id, assistant_id=assistant_id)
    rows = await session.execute(
        select(Document).where(Document.assistant_id == assistant_id).order_by(Document.created_at.desc())
    )
    return list(rows.scalars())


async def get_owned_document(session: AsyncSession, *, owner_id: uuid.UUID, document_id: uuid.UUID) -> Document:
    document = await session.get(Document, document_id)
    if document is None:
        raise NotFound("document")
    await get_owned_assistant(session, owner_id=owner_id, assistant_id=document.assistant_id)
    return document


async def delete_document(session: AsyncSession, *, owner_id: uuid.UUID, document_id: uuid.UUID) -> None:
    """Deletes the document, its file and its chunks (a worker holding it loses its lease and stops)."""
    document = await get_owned_document(session, owner_id=owner_id, document_id=document_id)
    await session.execute(delete(Chunk).where(Chunk.document_id == document.id))
    await session.delete(document)
    audit.record(session, actor_id=owner_id, action="document.delete", target_type="document",
                 target_id=document_id, details={"filename": document.filename})
    await session.commit()


async def reindex_document(session: AsyncSession, *, owner_id: uuid.UUID, document_id: uuid.UUID) -> None:
    """Queue the stored file again; the old chunks stay searchable until the new ones replace them."""
    document = await get_owned_document(session, owner_id=owner_id, document_id=document_id)
    await session.execute(update(Document).where(Document.id == document.id).values(
        status="queued", progress=0.0, error="", lease_until=None, attempts=0, updated_at=utcnow()))
    audit.record(session, actor_id=owner_id, action="document.reindex", target_type="document",
                 target_id=document_id)
    await session.commit()
    await _notify()


async def document_counts(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID) -> dict[str, int]:
    """Documents per status, for a dashboard summary."""
    await get_owned_assistant(session, owner_id=owner_id, assistant_id=assistant_id)
    rows = await session.execute(select(Document.status, func.count()).where(Document.assistant_id == assistant_id)
                                 .group_by(Document.status))
    return {status: count for status, count in rows.all()}


# --- Q&A pairs -----------------------------------------------------------------------------------


def _validate_qa(question: str, answer: str) -> tuple[str, str]:
    question, answer = question.strip(), answer.strip()
    if not question or not answer:
        raise ValueError("question and answer must not be empty")
    if len(question) > MAX_QA_QUESTION or len(answer) > MAX_QA_ANSWER:
        raise ValueError(f"question is limited to {MAX_QA_QUESTION} and answer to {MAX_QA_ANSWER} characters")
    return question, answer


async def _embed_question(assistant: Assistant, question: str) -> tuple[list[float] | None, int]:
    """Embed now so the pair is answerable at once; on failure the worker embeds it later."""
    try:
        (vector,) = await get_embedder().embed([question])
    except Exception:  # noqa: BLE001 - the embeddings API may be down; full text still finds the pair
        return None, 0
    return vector, len(vector)


async def list_qa_pairs(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID) -> list[QAPair]:
    await get_owned_assistant(session, owner_id=owner_id, assistant_id=assistant_id)
    rows = await session.execute(select(QAPair).where(QAPair.assistant_id == assistant_id)
                                 .order_by(QAPair.created_at, QAPair.id))
    return list(rows.scalars())


async def add_qa_pair(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID, question: str,
                      answer: str) -> QAPair:
    assistant = await get_owned_assistant(session, owner_id=owner_id, assistant_id=assistant_id)
    question, answer = _validate_qa(question, answer)
    vector, dim = await _embed_question(assistant, question)
    pair = QAPair(assistant_id=assistant.id, question=question, answer=answer, embedding=vector, embedding_dim=dim)
    session.add(pair)
    if vector is not None and not assistant.embedding_provider:
        assistant.embedding_provider = get_embedder().name
        session.add(assistant)
    audit.record(session, actor_id=owner_id, action="qa.create", target_type="qa_pair", target_id=pair.id)
    await session.commit()
    return pair


async def _owned_pair(session: AsyncSession, owner_id: uuid.UUID, qa_id: uuid.UUID) -> tuple[QAPair, Assistant]:
    pair = await session.get(QAPair, qa_id)
    if pair is None:
        raise NotFound("qa_pair")
    assistant = await get_owned_assistant(session, owner_id=owner_id, assistant_id=pair.assistant_id)
    return pair, assistant


async def update_qa_pair(session: AsyncSession, *, owner_id: uuid.UUID, qa_id: uuid.UUID, question: str,
                         answer: str) -> QAPair:
    pair, assistant = await _owned_pair(session, owner_id, qa_id)
    question, answer = _validate_qa(question, answer)
    if question != pair.question:
        pair.embedding, pair.embedding_dim = await _embed_question(assistant, question)
    pair.question, pair.answer, pair.updated_at = question, answer, utcnow()
    session.add(pair)
    audit.record(session, actor_id=owner_id, action="qa.update", target_type="qa_pair", target_id=qa_id)
    await session.commit()
    return pair


async def delete_qa_pair(session: AsyncSession, *, owner_id: uuid.UUID, qa_id: uuid.UUID) -> None:
    pair, _ = await _owned_pair(session, owner_id, qa_id)
    await session.delete(pair)
    audit.record(session, actor_id=owner_id, action="qa.delete", target_type="qa_pair", target_id=qa_id)
    await session.commit()


# --- test console ------------------------------------------------------------------------------


async def search(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID, query: str,
                 top_k: int | None = None, include_qa: bool = False,
                 threshold: float | None = 0.0) -> list[SearchHit]:
    """What retrieval returns for a question, with scores and ranks ("why").

    The threshold defaults to 0 so the console shows near misses too; compare `score` with the assistant's
    score_threshold to see what an answer would use (answer_question applies it). With include_qa, Q&A
    pairs are ranked with the chunks on the one score scale, as the answer ranks them.
    """
    assistant = await get_owned_assistant(session, owner_id=owner_id, assistant_id=assistant_id)
    plan = await plan_query(assistant, query)
    if include_qa:
        from chatai.rag.retrieval import search_knowledge

        return await search_knowledge(session, assistant=assistant, plan=plan, top_k=top_k, threshold=threshold)
    return await hybrid_search(session, assistant=assistant, plan=plan, top_k=top_k, threshold=threshold)
