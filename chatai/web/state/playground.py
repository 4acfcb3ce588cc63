"""The playground tab's state: the owner's conversation with their assistant, through the conversation
pipeline as channel "playground" (chatai/conversation/playground.py). The conversation is stored, so it
is shown again after a reload (and in the inbox); "New conversation" starts another one. Every handler
re-checks the session and the assistant's owner (the service refuses another owner's assistant)."""

from __future__ import annotations

import uuid

import reflex as rx

from chatai.conversation import playground, store
from chatai.db.session import async_session
from chatai.rag.retrieval import QA_DOCUMENT
from chatai.services import inbox
from chatai.web.i18n import text
from chatai.web.state.auth import AuthState, require_user
from chatai.web.state.knowledge import KnowledgeState

MAX_QUESTION_CHARS = 4000


def playground_sources(sources: list, locale: str) -> str:
    """'menu.pdf — Prices · Q&A — Delivery?' with the Q&A source named in the owner's language."""
    return " · ".join(dict.fromkeys(
        (text(locale, "first_hour_qa_document") if s.get("document") == QA_DOCUMENT else f"{s.get('document', '')}")
        + (f" — {s['section']}" if s.get("section") else "") for s in sources or [] if isinstance(s, dict)))


def bubble(role: str, body: str, meta: str = "", sources: str = "") -> dict[str, str]:
    return {"role": role, "text": body, "meta": meta, "sources": sources}


def transcript_rows(messages: list[inbox.TranscriptMessage], locale: str) -> list[dict[str, str]]:
    """What the playground shows of a stored conversation; system events as sentences, never codes."""
    rows = []
    for m in messages:
        if m.role == "system":
            rows.append(bubble("system", text(locale, f"inbox_event_{m.text}")))
        elif m.role == "assistant":
            rows.append(bubble("assistant", m.text, m.answered_by, playground_sources(m.sources, locale)))
        elif m.role in ("user", "operator"):
            rows.append(bubble(m.role, m.text))
    return rows


class PlaygroundState(rx.State):
    chat: list[dict[str, str]] = []
    chat_busy: bool = False
    waiting: bool = False  # the dialog waits for (or is held by) a person: answered from the inbox
    dialog_id: str = ""

    async def _context(self) -> tuple[uuid.UUID, uuid.UUID, str] | None:
        user = await require_user(self)
        assistant_id = (await self.get_state(KnowledgeState)).assistant_id
        if user is None or not assistant_id:
            return None
        return user.id, uuid.UUID(assistant_id), (await self.get_state(AuthState)).locale

    async def _show(self, owner_id: uuid.UUID, dialog_id: uuid.UUID | None, locale: str) -> None:
        if dialog_id is None:
            self.chat, self.dialog_id, self.waiting = [], "", False
            return
        async with async_session() as session:
            found = await inbox.get_transcript(session, owner_id=owner_id, dialog_id=dialog_id)
        self.chat = transcript_rows(found.messages, locale)
        self.dialog_id, self.waiting = str(dialog_id), found.dialog.status != "ai"

    async def refresh_live(self, owner_id: uuid.UUID, dialog_ids: set[uuid.UUID]) -> None:
        """A dialog event reached this tab (web/live.py): an operator's reply or a release from the inbox shows
        here at once. Not while an answer streams in (its end reloads the conversation anyway)."""
        if not self.dialog_id or self.chat_busy or uuid.UUID(self.dialog_id) not in dialog_ids:
            return
        user = await require_user(self)
        if user is None or user.id != owner_id:
            return
        await self._show(owner_id, uuid.UUID(self.dialog_id), (await self.get_state(AuthState)).locale)

    @rx.event
    async def load_playground(self):
        """The latest playground conversation of the chosen assistant (mounted with the tab)."""
        context = await self._context()
        if context is None:
            self.chat, self.dialog_id = [], ""
            return
        owner_id, assistant_id, locale = context
        async with async_session() as session:
            dialog = await store.latest_dialog(session, owner_id=owner_id, assistant_id=assistant_id,
                                               channel=playground.CHANNEL)
        await self._show(owner_id, dialog.id if dialog else None, locale)

    @rx.event
    async def new_conversation(self):
        context = await self._context()
        if context is None or self.chat_busy:
            return
        owner_id, assistant_id, locale = context
        try:
            async with async_session() as session:
                dialog = await store.open_dialog(session, owner_id=owner_id, assistant_id=assistant_id,
                                                 channel=playground.CHANNEL, language=locale, fresh=True)
        except store.NotYours:
            self.chat = [bubble("system", text(locale, "err_not_found"))]
            return
        await self._show(owner_id, dialog.id, locale)

    @rx.event(background=True)
    async def handle_chat_submit(self, form: dict):
        question = str(form.get("message", "")).strip()[:MAX_QUESTION_CHARS]
        async with self:
            context = await self._context()
            if context is None or not question or self.chat_busy:
                return
            owner_id, assistant_id, locale = context
            user_name = (await self.get_state(AuthState)).user_email
            dialog_id = uuid.UUID(self.dialog_id) if self.dialog_id else None
            self.chat = [*self.chat, bubble("user", question), bubble("assistant", "")]
            self.chat_busy = True

        async def show_partial(partial: str) -> None:
            async with self:
                if self.chat and self.chat[-1]["role"] == "assistant":
                    self.chat = [*self.chat[:-1], {**self.chat[-1], "text": partial}]

        try:
            dialog_id, _outcome = await playground.ask(
                owner_id=owner_id, assistant_id=assistant_id, question=question, language=locale,
                user_name=user_name, on_text=show_partial, dialog_id=dialog_id)
            async with self:
                await self._show(owner_id, dialog_id, locale)  # the stored conversation is the truth
        except store.NotYours:
            async with self:
                self.chat = [*self.chat[:-1], bubble("system", text(locale, "err_not_found"))]
                self.dialog_id = ""
        except Exception:  # noqa: BLE001 - the playground shows a failure instead of spinning forever
            async with self:
                self.chat = [*self.chat[:-1], bubble("system", text(locale, "err_generic"))]
        finally:
            async with self:
                self.chat_busy = False
