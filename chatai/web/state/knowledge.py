"""The knowledge base page's state: documents (upload, live progress, re-index, delete), Q&A pairs and the
assistant the tabs work on (the playground's own state is chatai/web/state/playground.py). Every handler
re-checks the session and passes the owner to the service, which refuses another owner's assistant or
document. The page is chatai/web/pages/knowledge.py."""

from __future__ import annotations

import asyncio
import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.formatting import format_size, format_time
from chatai.services import assistants as assistants_svc
from chatai.services import knowledge as kb
from chatai.services.knowledge_uploads import ReceivedFile, start_storing
from chatai.settings import get_settings
from chatai.team.roles import KB_READ, KB_WRITE
from chatai.web.i18n import text
from chatai.web.pages.kb_search import KbSearchState
from chatai.web.state.access import refusal, require_access, upload_business
from chatai.web.state.auth import AuthState, client_connected, tab_time_zone
from chatai.web.texts.first_hour import qa_error, upload_error
from chatai.web.texts.ingest import document_error

UPLOAD_ID = "kb_upload"
POLL_SECONDS = 1.0
PENDING = ("queued", "processing")


def _doc_row(d, locale: str, time_zone: str) -> dict[str, str]:
    # When each file arrived, on the owner's clock: after an interrupted upload the list says which came.
    return {"id": str(d.id), "filename": d.filename, "status": d.status, "error": document_error(locale, d.error),
            "received": text(locale, "uploads_received_at", when=format_time(d.created_at, time_zone)),
            "progress": str(round(d.progress * 100)), "size": format_size(d.size_bytes, locale),
            "chunks": str(d.chunk_count),
            "qa": "1" if d.content_type.endswith("; qa") else ""}


class KnowledgeState(rx.State):
    assistant_options: list[dict[str, str]] = []
    assistant_id: str = ""
    documents: list[dict[str, str]] = []
    qa_pairs: list[dict[str, str]] = []
    upload_errors: list[str] = []
    upload_received: str = ""  # which files of the last upload arrived and were stored, by name
    uploading: bool = False
    # Bumped when an upload finished: remounts `_poll_after_upload`, whose on_mount starts polling from the
    # tab's own socket. Not chained from handle_upload: the upload may run on a web worker that does not hold
    # the tab's WebSocket, where an event of the tab cannot tell who is signed in.
    uploads_done: int = 0
    error: str = ""
    polling: bool = False
    # Q&A editing.
    qa_edit_id: str = ""

    @rx.var
    def max_upload_mb(self) -> int:
        return get_settings().max_upload_mb

    async def _owner(self, capability: str = KB_READ) -> uuid.UUID | None:
        """The selected business when the person's role has `capability` (operators only read)."""
        access = await require_access(self, capability)
        return access.business_id if access else None

    async def _reload(self, owner_id: uuid.UUID) -> None:
        if not self.assistant_id:
            self.documents, self.qa_pairs = [], []
            return
        try:
            aid = uuid.UUID(self.assistant_id)
            async with async_session() as session:
                docs = await kb.list_documents(session, owner_id=owner_id, assistant_id=aid)
                pairs = await kb.list_qa_pairs(session, owner_id=owner_id, assistant_id=aid)
        except (assistants_svc.NotFound, ValueError):
            # Deleted meanwhile, or not this owner's: show nothing of it.
            self.assistant_id = ""
            self.documents, self.qa_pairs = [], []
            return
        locale = (await self.get_state(AuthState)).locale
        time_zone = await tab_time_zone(self)
        self.documents = [_doc_row(d, locale, time_zone) for d in docs]
        self.qa_pairs = [{"id": str(p.id), "question": p.question, "answer": p.answer} for p in pairs]

    @rx.event
    async def load_knowledge(self):
        owner_id = await self._owner()
        if owner_id is None:
            return await refusal(self)
        async with async_session() as session:
            mine = await assistants_svc.list_assistants(session, owner_id=owner_id)
        self.assistant_options = [{"id": str(a.id), "name": a.name} for a in mine]
        if self.assistant_id not in {a["id"] for a in self.assistant_options}:
            self.assistant_id = self.assistant_options[0]["id"] if self.assistant_options else ""
        # upload_received stays: a reconnect re-runs this while an upload it reports on finishes (the tab's
        # socket drops on a slow network), and which files arrived must stay said until the next upload.
        self.upload_errors, self.error = [], ""
        await self._reload(owner_id)
        if any(d["status"] in PENDING for d in self.documents):
            return KnowledgeState.poll_progress

    @rx.event
    async def select_assistant(self, assistant_id: str):
        owner_id = await self._owner()
        if owner_id is None:
            return await refusal(self)
        self.assistant_id = assistant_id
        self.upload_errors, self.upload_received = [], ""
        await self._reload(owner_id)
        return KbSearchState.clear_results

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]):
        # react-dropzone calls on_drop for every drop, with no files when all were refused (over the limit):
        # clearing the errors then wiped the refusal that handle_upload_rejected had just shown.
        if not self.assistant_id or not files:
            return
        # The upload request's own session (it may run on a web worker without this tab's socket).
        auth = await self.get_state(AuthState)
        user = await auth.upload_user()
        if user is None:
            self.upload_errors = [text(auth.locale, "uploads_signed_out")]
            return
        locale = auth.locale
        owner_id = await upload_business(self, user, KB_WRITE)
        if owner_id is None:
            self.upload_errors = [text(locale, "team_refused")]
            return
        errors: list[str] = []
        received: list[ReceivedFile] = []
        for file in files:
            try:
                # Its declared size first: a file over the limit is refused without being read into memory.
                kb.check_upload_size(file.name or "", file.size or 0)
                received.append(ReceivedFile(file.name or "", await file.read()))
            except kb.UploadError as exc:
                errors.append(upload_error(locale, code=exc.code, filename=exc.filename, message=exc.message))
        # Stored from here on even if the tab closes and this request ends (services/knowledge_uploads.py).
        storing = start_storing(owner_id=owner_id, assistant_id=uuid.UUID(self.assistant_id), files=received)
        self.upload_errors = []
        self.uploading = True
        yield
        stored: list[str] = []
        for outcome in await asyncio.shield(storing):
            if outcome.error is not None:
                exc = outcome.error
                errors.append(upload_error(locale, code=exc.code, filename=exc.filename, message=exc.message))
            elif outcome.not_found:
                errors.append(f"{outcome.name}: {text(locale, 'err_not_found')}")
            else:
                stored.append(outcome.name)
        self.upload_errors = [*self.upload_errors, *errors]  # keeps refusals of the same drop (other handler)
        self.upload_received = text(locale, "uploads_received", names=", ".join(stored)) if stored else ""
        self.uploading = False
        await self._reload(owner_id)
        self.uploads_done += 1

    @rx.event
    async def refuse_drop_while_uploading(self, busy: bool):
        """Reflex's upload zone ignores a drop while its previous upload is in flight (the files were lost
        without a word): the page asks the browser first and says so here."""
        if busy is True:
            self.upload_errors = [text((await self.get_state(AuthState)).locale, "uploads_busy")]

    @rx.event
    async def handle_upload_rejected(self, rejections: list[dict]):
        """Files the browser refused before uploading (over the size limit). The page sends only each
        file's name and size (`_rejected_files`): the browser's File objects would be sent whole."""
        locale = (await self.get_state(AuthState)).locale
        limit = get_settings().max_upload_mb
        self.upload_errors = [
            text(locale, "first_hour_upload_too_large", name=str(r.get("name") or "?")[:200],
                 size=format_size(int(r.get("size") or 0), locale), limit=limit)
            for r in rejections if isinstance(r, dict)
        ][:20]

    @rx.event(background=True)
    async def poll_progress(self):
        """Refresh statuses while documents are being processed (one poller per browser tab)."""
        async with self:
            if self.polling:
                return
            self.polling = True
        try:
            for _ in range(3600):
                await asyncio.sleep(POLL_SECONDS)
                async with self:
                    owner_id = await self._owner()
                    if owner_id is None or not self.assistant_id or not client_connected(self):
                        return
                    await self._reload(owner_id)
                    if not any(d["status"] in PENDING for d in self.documents):
                        return
        finally:
            async with self:
                self.polling = False

    async def _document_action(self, document_id: str, action):
        owner_id = await self._owner(KB_WRITE)
        if owner_id is None:
            return await refusal(self)
        try:
            async with async_session() as session:
                await action(session, owner_id=owner_id, document_id=uuid.UUID(document_id))
        except (assistants_svc.NotFound, ValueError):
            self.error = text((await self.get_state(AuthState)).locale, "err_not_found")
        await self._reload(owner_id)
        return None

    @rx.event
    async def delete_document(self, document_id: str):
        return await self._document_action(document_id, kb.delete_document)

    @rx.event
    async def reindex_document(self, document_id: str):
        return await self._document_action(document_id, kb.reindex_document) or KnowledgeState.poll_progress

    # --- Q&A pairs ---

    @rx.event
    def start_qa_edit(self, qa_id: str):
        pair = next((p for p in self.qa_pairs if p["id"] == qa_id), None)
        if pair is None:
            return
        self.qa_edit_id = qa_id
        self.error = ""
        return [rx.set_value("qa-question", pair["question"]), rx.set_value("qa-answer", pair["answer"]),
                rx.set_focus("qa-question")]

    @rx.event
    def cancel_qa_edit(self):
        self.qa_edit_id = ""
        return [rx.set_value("qa-question", ""), rx.set_value("qa-answer", "")]

    @rx.event
    async def handle_qa_submit(self, form: dict):
        owner_id = await self._owner(KB_WRITE)
        if owner_id is None:
            return await refusal(self)
        question, answer = str(form.get("question", "")), str(form.get("answer", ""))
        self.error = ""
        try:
            async with async_session() as session:
                if self.qa_edit_id:
                    await kb.update_qa_pair(session, owner_id=owner_id, qa_id=uuid.UUID(self.qa_edit_id),
                                            question=question, answer=answer)
                else:
                    await kb.add_qa_pair(session, owner_id=owner_id, assistant_id=uuid.UUID(self.assistant_id),
                                         question=question, answer=answer)
        except assistants_svc.NotFound:
            self.error = text((await self.get_state(AuthState)).locale, "err_not_found")
            return
        except ValueError as exc:
            self.error = qa_error((await self.get_state(AuthState)).locale, exc)
            return
        self.qa_edit_id = ""
        await self._reload(owner_id)

    @rx.event
    async def delete_qa_pair(self, qa_id: str):
        owner_id = await self._owner(KB_WRITE)
        if owner_id is None:
            return await refusal(self)
        try:
            async with async_session() as session:
                await kb.delete_qa_pair(session, owner_id=owner_id, qa_id=uuid.UUID(qa_id))
        except (assistants_svc.NotFound, ValueError):
            self.error = text((await self.get_state(AuthState)).locale, "err_not_found")
        await self._reload(owner_id)


# --- components -------------------------------------------------------------------------------
