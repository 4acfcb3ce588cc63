"""Knowledge base: documents (upload, live progress, re-index, delete), Q&A pairs, the test-search
console (kb_search.py) and a playground chat. Every handler re-checks the session and passes the owner to the
service, which refuses another owner's assistant or document."""

from __future__ import annotations

import asyncio
import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.services import assistants as assistants_svc
from chatai.services import knowledge as kb
from chatai.settings import get_settings
from chatai.web import routes
from chatai.web.components.confirm import confirm_action
from chatai.web.components.layout import card, dashboard_page, empty_state, error_callout, page_header, t
from chatai.web.i18n import text
from chatai.web.pages.kb_search import KbSearchState, kb_search_tab
from chatai.web.state.auth import AuthState, client_connected, require_user
from chatai.web.texts.first_hour import qa_error, upload_error
from chatai.web.texts.ingest import document_error

UPLOAD_ID = "kb_upload"
POLL_SECONDS = 1.0
PENDING = ("queued", "processing")


def _size(n: int, locale: str = "en") -> str:
    if n >= 1048576:
        return text(locale, "first_hour_size_mb", n=f"{n / 1048576:.1f}")
    return text(locale, "first_hour_size_kb", n=f"{max(n, 1) / 1024:.0f}")


def _rejected_files(rejected: rx.Var) -> rx.Var:
    """react-dropzone's rejections reduced in the browser to name and size. Sent as they are, the File
    objects travel over the websocket as binary attachments: an 11 MB file exceeded the socket's message
    limit, the connection dropped, and the page showed nothing at all."""
    return rx.Var(f"({rejected}).map((r) => ({{name: r.file.name, size: r.file.size}}))").to(list)


def _doc_row(d, locale: str) -> dict[str, str]:
    return {"id": str(d.id), "filename": d.filename, "status": d.status, "error": document_error(locale, d.error),
            "progress": str(round(d.progress * 100)), "size": _size(d.size_bytes, locale), "chunks": str(d.chunk_count),
            "qa": "1" if d.content_type.endswith("; qa") else ""}


class KnowledgeState(rx.State):
    assistant_options: list[dict[str, str]] = []
    assistant_id: str = ""
    documents: list[dict[str, str]] = []
    qa_pairs: list[dict[str, str]] = []
    upload_errors: list[str] = []
    uploading: bool = False
    # Bumped when an upload finished: remounts `_poll_after_upload`, whose on_mount starts polling from the
    # tab's own socket. Not chained from handle_upload: the upload may run on a web worker that does not hold
    # the tab's WebSocket, where an event of the tab cannot tell who is signed in.
    uploads_done: int = 0
    error: str = ""
    polling: bool = False
    # Playground.
    chat: list[dict[str, str]] = []
    chat_busy: bool = False
    # Q&A editing.
    qa_edit_id: str = ""

    @rx.var
    def max_upload_mb(self) -> int:
        return get_settings().max_upload_mb

    async def _owner(self) -> uuid.UUID | None:
        user = await require_user(self)
        return user.id if user else None

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
        self.documents = [_doc_row(d, locale) for d in docs]
        self.qa_pairs = [{"id": str(p.id), "question": p.question, "answer": p.answer} for p in pairs]

    @rx.event
    async def load_knowledge(self):
        owner_id = await self._owner()
        if owner_id is None:
            return rx.redirect(routes.SIGNIN)
        async with async_session() as session:
            mine = await assistants_svc.list_assistants(session, owner_id=owner_id)
        self.assistant_options = [{"id": str(a.id), "name": a.name} for a in mine]
        if self.assistant_id not in {a["id"] for a in self.assistant_options}:
            self.assistant_id = self.assistant_options[0]["id"] if self.assistant_options else ""
        self.chat, self.upload_errors, self.error = [], [], ""
        await self._reload(owner_id)
        if any(d["status"] in PENDING for d in self.documents):
            return KnowledgeState.poll_progress

    @rx.event
    async def select_assistant(self, assistant_id: str):
        owner_id = await self._owner()
        if owner_id is None:
            return rx.redirect(routes.SIGNIN)
        self.assistant_id = assistant_id
        self.chat, self.upload_errors = [], []
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
        owner_id = user.id
        self.upload_errors = []
        self.uploading = True
        yield
        errors: list[str] = []
        for file in files:
            data = await file.read()
            try:
                async with async_session() as session:
                    await kb.upload_document(session, owner_id=owner_id, assistant_id=uuid.UUID(self.assistant_id),
                                             filename=file.name or "", data=data)
            except kb.UploadError as exc:
                locale = (await self.get_state(AuthState)).locale
                errors.append(upload_error(locale, code=exc.code, filename=exc.filename, message=exc.message))
            except assistants_svc.NotFound:
                errors.append(f"{file.name}: {text((await self.get_state(AuthState)).locale, 'err_not_found')}")
        self.upload_errors = [*self.upload_errors, *errors]  # keeps refusals of the same drop (other handler)
        self.uploading = False
        await self._reload(owner_id)
        self.uploads_done += 1

    @rx.event
    async def handle_upload_rejected(self, rejections: list[dict]):
        """Files the browser refused before uploading (over the size limit). The page sends only each
        file's name and size (`_rejected_files`): the browser's File objects would be sent whole."""
        locale = (await self.get_state(AuthState)).locale
        limit = get_settings().max_upload_mb
        self.upload_errors = [
            text(locale, "first_hour_upload_too_large", name=str(r.get("name") or "?")[:200],
                 size=_size(int(r.get("size") or 0), locale), limit=limit)
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

    async def _document_action(self, document_id: str, action) -> None:
        owner_id = await self._owner()
        if owner_id is None:
            return
        try:
            async with async_session() as session:
                await action(session, owner_id=owner_id, document_id=uuid.UUID(document_id))
        except (assistants_svc.NotFound, ValueError):
            self.error = text((await self.get_state(AuthState)).locale, "err_not_found")
        await self._reload(owner_id)

    @rx.event
    async def delete_document(self, document_id: str):
        await self._document_action(document_id, kb.delete_document)

    @rx.event
    async def reindex_document(self, document_id: str):
        await self._document_action(document_id, kb.reindex_document)
        return KnowledgeState.poll_progress

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
        owner_id = await self._owner()
        if owner_id is None:
            return rx.redirect(routes.SIGNIN)
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
        owner_id = await self._owner()
        if owner_id is None:
            return rx.redirect(routes.SIGNIN)
        try:
            async with async_session() as session:
                await kb.delete_qa_pair(session, owner_id=owner_id, qa_id=uuid.UUID(qa_id))
        except (assistants_svc.NotFound, ValueError):
            self.error = text((await self.get_state(AuthState)).locale, "err_not_found")
        await self._reload(owner_id)

    # --- playground ---

    @rx.event
    def clear_chat(self):
        self.chat = []

    @rx.event(background=True)
    async def handle_chat_submit(self, form: dict):
        from chatai.rag.answer import Answer, stream_answer

        question = str(form.get("message", "")).strip()[:4000]
        async with self:
            owner_id = await self._owner()
            if owner_id is None or not question or not self.assistant_id or self.chat_busy:
                return
            assistant_id = uuid.UUID(self.assistant_id)
            try:
                async with async_session() as session:
                    await assistants_svc.get_owned_assistant(session, owner_id=owner_id, assistant_id=assistant_id)
            except assistants_svc.NotFound:
                return
            history = [(m["role"], m["text"]) for m in self.chat][-12:]
            self.chat = [*self.chat, {"role": "user", "text": question, "meta": "", "sources": ""},
                         {"role": "assistant", "text": "", "meta": "", "sources": ""}]
            self.chat_busy = True
        try:
            async for item in stream_answer(assistant_id=assistant_id, question=question, history=history):
                async with self:
                    if not self.chat or self.chat[-1]["role"] != "assistant":
                        break  # the page was loaded again meanwhile (a reconnect clears the playground)
                    last = dict(self.chat[-1])
                    if isinstance(item, Answer):
                        last["text"] = item.text
                        last["meta"] = item.answered_by
                        last["sources"] = " · ".join(
                            dict.fromkeys(f"{s.document}" + (f" — {s.section}" if s.section else "")
                                          for s in item.sources))
                    else:
                        last["text"] += item
                    self.chat = [*self.chat[:-1], last]
        except Exception:  # noqa: BLE001 - the playground shows a failure instead of spinning forever
            async with self:
                if not self.chat:
                    return
                last = dict(self.chat[-1])
                last["text"] = text((await self.get_state(AuthState)).locale, "err_generic")
                self.chat = [*self.chat[:-1], last]
        finally:
            async with self:
                self.chat_busy = False


# --- components -------------------------------------------------------------------------------

_STATUS_COLOR = {"queued": "gray", "processing": "blue", "ready": "green", "error": "red"}


def _status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[(key, rx.badge(t(f"st_{key}"), color_scheme=color)) for key, color in _STATUS_COLOR.items()],
        rx.badge(status),
    )


def _document_actions(d: dict) -> rx.Component:
    return rx.hstack(
        rx.icon_button(rx.icon("refresh-cw", size=14), variant="soft", size="1", title=t("reindex"),
                       aria_label=t("reindex"), on_click=KnowledgeState.reindex_document(d["id"]),
                       class_name="reindex-document"),
        confirm_action(
            rx.icon_button(rx.icon("trash-2", size=14), variant="soft", color_scheme="red", size="1",
                           title=t("delete"), aria_label=t("delete"), class_name="delete-document"),
            title_key="first_hour_confirm_delete_document", subject=d["filename"],
            loss_key="first_hour_loss_document", action_key="delete",
            on_confirm=KnowledgeState.delete_document(d["id"])),
    )


# On a phone the status, size and passages columns went off the right edge (the status read "Обрабо"): there
# they are hidden and the status shows under the file name instead.
_WIDE_ONLY = rx.breakpoints(initial="none", sm="table-cell")
_NARROW_ONLY = rx.breakpoints(initial="flex", sm="none")


def _document_status(d: dict, **props) -> rx.Component:
    return rx.vstack(
        _status_badge(d["status"]),
        rx.cond((d["status"] == "processing") | (d["status"] == "queued"),
                rx.box(rx.box(width=d["progress"] + "%", height="100%", bg=rx.color("indigo", 9),
                              border_radius="3px", transition="width 0.4s"),
                       width="120px", height="6px", bg=rx.color("gray", 4), border_radius="3px",
                       class_name="progress"),
                rx.fragment()),
        spacing="1", class_name="document-status", **props)


def _document_row(d: dict) -> rx.Component:
    # The actions come first: on a phone the table scrolls sideways and the last column was off-screen.
    return rx.table.row(
        rx.table.cell(_document_actions(d)),
        rx.table.cell(rx.vstack(
            rx.hstack(rx.icon("file-text", size=16, flex_shrink="0"),
                      rx.text(d["filename"], weight="medium", word_break="break-word"), align="center"),
            rx.cond(d["error"] != "", rx.text(d["error"], size="1", color=rx.color("red", 11)), rx.fragment()),
            _document_status(d, display=_NARROW_ONLY),
            spacing="1")),
        rx.table.cell(_document_status(d), display=_WIDE_ONLY),
        rx.table.cell(d["size"], display=_WIDE_ONLY),
        rx.table.cell(rx.cond(d["qa"] != "", t("first_hour_qa_document"), d["chunks"]), display=_WIDE_ONLY),
        data_status=d["status"],
        class_name="document-row",
    )


def _poll_after_upload() -> rx.Component:
    """Invisible; a new key after each upload remounts it, and mounting starts the progress poll."""
    # The key sits on a fragment around the box: the box's on_mount lives in its own wrapper component,
    # which a key on the box itself would not remount.
    return rx.fragment(rx.box(on_mount=KnowledgeState.poll_progress, display="none"),
                       key=KnowledgeState.uploads_done.to_string())


def _documents_tab() -> rx.Component:
    return rx.vstack(
        _poll_after_upload(),
        rx.upload(
            rx.vstack(
                rx.icon("cloud-upload", size=28, color=rx.color("indigo", 10)),
                rx.text(t("drop_files"), weight="medium"),
                rx.text(t("drop_files_hint"), " ", KnowledgeState.max_upload_mb, " ", t("first_hour_mb"), size="1",
                        color=rx.color("gray", 10)),
                rx.cond(KnowledgeState.uploading, rx.hstack(rx.spinner(), rx.text(t("uploading"))), rx.fragment()),
                align="center",
                spacing="2",
            ),
            id=UPLOAD_ID,
            multiple=True,
            max_size=KnowledgeState.max_upload_mb * 1048576,
            on_drop=KnowledgeState.handle_upload(rx.upload_files(upload_id=UPLOAD_ID)),
            on_drop_rejected=lambda rejected: KnowledgeState.handle_upload_rejected(_rejected_files(rejected)),
            border=f"2px dashed {rx.color('gray', 6)}",
            border_radius="12px",
            padding="28px",
            width="100%",
            cursor="pointer",
        ),
        rx.foreach(KnowledgeState.upload_errors,
                   lambda e: rx.callout(e, icon="triangle-alert", color_scheme="red", width="100%",
                                        class_name="upload-error")),
        rx.cond(
            KnowledgeState.documents.length() > 0,
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell(t("actions")), rx.table.column_header_cell(t("document")),
                    rx.table.column_header_cell(t("status"), display=_WIDE_ONLY),
                    rx.table.column_header_cell(t("size"), display=_WIDE_ONLY),
                    rx.table.column_header_cell(t("chunks"), display=_WIDE_ONLY))),
                rx.table.body(rx.foreach(KnowledgeState.documents, _document_row)),
                width="100%"), overflow_x="auto", width="100%", id="documents-table"),
            empty_state("file-text", "no_documents"),
        ),
        spacing="4",
        width="100%",
    )


def _qa_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.input(name="question", id="qa-question", placeholder=t("question"), required=True, width="100%"),
            rx.text_area(name="answer", id="qa-answer", placeholder=t("answer"), required=True, rows="3",
                         width="100%"),
            rx.hstack(
                rx.button(rx.cond(KnowledgeState.qa_edit_id != "", t("save"), t("add_qa")), type="submit",
                          id="qa-submit"),
                rx.cond(KnowledgeState.qa_edit_id != "",
                        rx.button(t("cancel"), type="button", variant="soft", color_scheme="gray",
                                  on_click=KnowledgeState.cancel_qa_edit),
                        rx.fragment()),
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=KnowledgeState.handle_qa_submit,
        reset_on_submit=True,
    )


def _qa_row(p: dict) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.vstack(rx.text(p["question"], weight="bold"),
                      rx.text(p["answer"], size="2", color=rx.color("gray", 11), white_space="pre-wrap"),
                      spacing="1", flex="1", min_width="0"),
            rx.icon_button(rx.icon("pencil", size=14), variant="soft", size="1", title=t("edit"),
                           aria_label=t("edit"), on_click=KnowledgeState.start_qa_edit(p["id"])),
            confirm_action(
                rx.icon_button(rx.icon("trash-2", size=14), variant="soft", color_scheme="red", size="1",
                               title=t("delete"), aria_label=t("delete"), class_name="delete-qa"),
                title_key="first_hour_confirm_delete_qa", subject=p["question"], loss_key="first_hour_loss_qa",
                action_key="delete", on_confirm=KnowledgeState.delete_qa_pair(p["id"])),
            align="start",
            width="100%",
        ),
        padding_y="10px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        width="100%",
        class_name="qa-row",
    )


def _qa_tab() -> rx.Component:
    return rx.vstack(
        _qa_form(),
        rx.cond(KnowledgeState.qa_pairs.length() > 0,
                rx.vstack(rx.foreach(KnowledgeState.qa_pairs, _qa_row), spacing="0", width="100%"),
                empty_state("messages-square", "no_qa")),
        spacing="4",
        width="100%",
    )


def _bubble(m: dict) -> rx.Component:
    mine = m["role"] == "user"
    return rx.hstack(
        rx.box(
            rx.text(m["text"], white_space="pre-wrap", size="2"),
            # An icon from the UI's set, not an emoji: without an emoji font the emoji was an empty box.
            rx.cond(m["sources"] != "", rx.hstack(
                rx.icon("paperclip", size=12, flex_shrink="0", margin_top="3px", aria_label=t("sources")),
                rx.text(m["sources"], size="1"), spacing="1", align="start", color=rx.color("gray", 10),
                margin_top="6px", class_name="chat-sources"), rx.fragment()),
            rx.cond(m["meta"] != "", rx.badge(
                rx.match(m["meta"], ("llm", t("answered_by_llm")), ("qa", t("answered_by_qa")),
                         ("extractive", t("answered_by_extractive")), ("fallback", t("answered_by_fallback")),
                         m["meta"]), size="1", margin_top="6px", variant="soft"), rx.fragment()),
            bg=rx.cond(mine, rx.color("indigo", 9), rx.color("gray", 3)),
            color=rx.cond(mine, "white", rx.color("gray", 12)),
            padding="10px 14px",
            border_radius="14px",
            max_width="80%",
        ),
        justify=rx.cond(mine, "end", "start"),
        width="100%",
    )


def _playground_tab() -> rx.Component:
    return rx.vstack(
        rx.text(t("playground_hint"), size="2", color=rx.color("gray", 11)),
        # auto_scroll keeps the newest message in view while an answer streams in.
        rx.auto_scroll(rx.vstack(rx.foreach(KnowledgeState.chat, _bubble), spacing="2", width="100%"),
                       width="100%", min_height="200px", max_height="480px", overflow_y="auto", padding="8px",
                       id="playground-log"),
        rx.form(
            # On a phone the buttons go under the input: beside it, in Russian, they left it ~50 px.
            rx.flex(rx.input(name="message", placeholder=t("search_placeholder"), flex="1 1 auto", min_width="0",
                             size="3", id="playground-input"),
                    rx.hstack(rx.button(t("send"), type="submit", size="3", loading=KnowledgeState.chat_busy,
                                        id="playground-send", flex="1"),
                              rx.button(t("clear"), type="button", variant="soft", color_scheme="gray", size="3",
                                        on_click=KnowledgeState.clear_chat, id="playground-clear", flex="1")),
                    # A CSS gap: "2" (a Radix step) was no gap at all and the input touched Send.
                    direction=rx.breakpoints(initial="column", sm="row"), gap="8px", width="100%"),
            on_submit=KnowledgeState.handle_chat_submit,
            reset_on_submit=True,
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def _assistant_picker() -> rx.Component:
    return rx.hstack(
        rx.text(t("select_assistant"), size="2", weight="medium"),
        rx.select.root(
            rx.select.trigger(min_width="220px", id="assistant-picker"),
            rx.select.content(rx.foreach(KnowledgeState.assistant_options,
                                         lambda a: rx.select.item(a["name"], value=a["id"]))),
            value=KnowledgeState.assistant_id,
            on_change=KnowledgeState.select_assistant,
        ),
        align="center",
    )


@dashboard_page
def knowledge_page() -> rx.Component:
    return rx.vstack(
        page_header("knowledge_title", "knowledge_subtitle", _assistant_picker()),
        error_callout(KnowledgeState.error),
        rx.cond(
            KnowledgeState.assistant_id != "",
            card(rx.tabs.root(
                rx.tabs.list(
                    rx.tabs.trigger(t("tab_documents"), value="documents", id="tab-documents"),
                    rx.tabs.trigger(t("tab_qa"), value="qa", id="tab-qa"),
                    rx.tabs.trigger(t("tab_test"), value="test", id="tab-test"),
                    rx.tabs.trigger(t("tab_playground"), value="playground", id="tab-playground"),
                    flex_wrap="wrap",
                ),
                rx.box(rx.tabs.content(_documents_tab(), value="documents"),
                       rx.tabs.content(_qa_tab(), value="qa"),
                       rx.tabs.content(kb_search_tab(), value="test"),
                       rx.tabs.content(_playground_tab(), value="playground"),
                       padding_top="16px"),
                default_value="documents",
            )),
            # With the way to do it: the sentence alone left a new owner to find the assistants page.
            card(empty_state("bot", "need_assistant_first"),
                 rx.center(rx.link(rx.button(rx.icon("plus", size=16), t("first_hour_bots_go_create")),
                                   href=routes.ASSISTANTS, id="knowledge-go-create"), width="100%")),
        ),
        width="100%",
    )
