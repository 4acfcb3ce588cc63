"""Canned replies in the inbox: the business's saved answers (create / edit / delete in a dialog of the inbox
page), and the reply box that offers them when the text ends in "/" + a few letters: arrow keys move through
the choices, Enter (or a click) inserts the chosen one for editing; Escape closes the list.

The reply box's text lives here (a controlled, debounced text area), so each change is also the "is typing"
signal, throttled at the source (chatai/inbox_tools/presence.py). Sending stays InboxState's
(`handle_reply_submit`); `clear_draft` follows it.
"""

from __future__ import annotations

import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.inbox_tools import ToolsError, access, canned, presence
from chatai.team.roles import INBOX, INBOX_SETUP, Access
from chatai.web.i18n import text
from chatai.web.state.access import refusal, require_access
from chatai.web.state.auth import AuthState
from chatai.web.state.inbox_tools import InboxToolsState, who_is

REPLY_BOX_ID = "reply-text"


def _row(reply: canned.CannedRow) -> dict[str, str]:
    return {"id": str(reply.id), "shortcut": reply.shortcut, "body": reply.body}


class CannedRepliesState(rx.State):
    replies: list[dict[str, str]] = []  # all of the business's, for the manager and the picker
    draft: str = ""
    picker: list[dict[str, str]] = []
    picker_open: bool = False
    picker_index: int = 0
    # The manager's form: a new reply when edit_id is "".
    edit_id: str = ""
    edit_shortcut: str = ""
    edit_body: str = ""
    canned_error: str = ""

    async def _refuse(self, exc: ToolsError) -> None:
        self.canned_error = text((await self.get_state(AuthState)).locale, f"err_tools_{exc.code}")

    async def _access(self, capability: str = INBOX) -> Access | None:
        """Every role of the inbox uses the saved replies; keeping them (create, edit, delete) is INBOX_SETUP."""
        return await require_access(self, capability)

    async def _load(self, owner_id: uuid.UUID) -> None:
        async with async_session() as session:
            self.replies = [_row(r) for r in await canned.list_canned(session, owner_id=owner_id)]

    @rx.event
    async def load_canned(self):
        person = await self._access()
        if person is None:
            return await refusal(self)
        self.canned_error = ""
        await self._load(person.business_id)

    # --- the manager --------------------------------------------------------------------------------------

    @rx.event
    def set_edit_shortcut(self, value: str):
        self.edit_shortcut = value[:canned.MAX_SHORTCUT_CHARS]

    @rx.event
    def set_edit_body(self, value: str):
        self.edit_body = value[:canned.MAX_BODY_CHARS]

    @rx.event
    def start_edit(self, canned_id: str):
        found = next((r for r in self.replies if r["id"] == canned_id), None)
        if found is not None:
            self.edit_id, self.edit_shortcut, self.edit_body = found["id"], found["shortcut"], found["body"]

    @rx.event
    def start_new(self):
        self.edit_id, self.edit_shortcut, self.edit_body, self.canned_error = "", "", "", ""

    @rx.event
    async def save_canned(self):
        self.canned_error = ""
        person = await self._access(INBOX_SETUP)
        if person is None:
            return await refusal(self)
        try:
            async with async_session() as session:
                if self.edit_id:
                    await canned.update_canned(session, owner_id=person.business_id,
                                               canned_id=access.as_uuid(self.edit_id),
                                               shortcut=self.edit_shortcut, body=self.edit_body)
                else:
                    await canned.create_canned(session, owner_id=person.business_id, shortcut=self.edit_shortcut,
                                               body=self.edit_body)
        except ToolsError as exc:
            await self._refuse(exc)
            return
        self.edit_id, self.edit_shortcut, self.edit_body = "", "", ""
        await self._load(person.business_id)

    @rx.event
    async def delete_canned(self, canned_id: str):
        self.canned_error = ""
        person = await self._access(INBOX_SETUP)
        if person is None:
            return await refusal(self)
        try:
            async with async_session() as session:
                await canned.delete_canned(session, owner_id=person.business_id, canned_id=access.as_uuid(canned_id))
        except ToolsError as exc:
            await self._refuse(exc)
            return
        if self.edit_id == canned_id:
            self.edit_id, self.edit_shortcut, self.edit_body = "", "", ""
        await self._load(person.business_id)

    # --- the reply box ------------------------------------------------------------------------------------

    def _rows(self) -> list[canned.CannedRow]:
        return [canned.CannedRow(uuid.UUID(r["id"]), r["shortcut"], r["body"]) for r in self.replies]

    def _offer(self, query: str | None) -> None:
        if query is None:
            self.picker, self.picker_open, self.picker_index = [], False, 0
            return
        self.picker = [_row(r) for r in canned.match_canned(self._rows(), query)]
        self.picker_open = True
        self.picker_index = min(self.picker_index, max(len(self.picker) - 1, 0))

    @rx.event
    async def set_draft(self, value: str):
        person = await self._access()
        if person is None:
            return await refusal(self)
        value = value[:canned.MAX_BODY_CHARS]
        # Enter while the list is open arrives as a newline after "/query": it means "insert the chosen one".
        if value.endswith("\n") and canned.slash_query(value[:-1]) is not None:
            query = canned.slash_query(value[:-1]) or ""
            self._offer(query)
            if self.picker:
                self._insert(value[:-1], self.picker[self.picker_index])
                return
        self.draft = value
        self._offer(canned.slash_query(value))
        if value.strip() and not self.picker_open:
            await self._announce_typing(person)

    async def _announce_typing(self, person: Access) -> None:
        tools = await self.get_state(InboxToolsState)
        if not tools.dialog_id:
            return
        try:
            dialog_id = access.as_uuid(tools.dialog_id)
        except ToolsError:
            return
        await presence.publish_typing(dialog_id=dialog_id, owner_id=person.business_id, user_id=person.user_id,
                                      who=who_is(person))

    def _insert(self, draft: str, chosen: dict[str, str]) -> None:
        self.draft = canned.insert_reply(draft, chosen["body"])
        self.picker, self.picker_open, self.picker_index = [], False, 0

    @rx.event
    def handle_reply_key(self, key: str):
        if not self.picker_open:
            return
        if key == "ArrowDown" and self.picker:
            self.picker_index = (self.picker_index + 1) % len(self.picker)
        elif key == "ArrowUp" and self.picker:
            self.picker_index = (self.picker_index - 1) % len(self.picker)
        elif key == "Escape":
            self.picker, self.picker_open, self.picker_index = [], False, 0

    @rx.event
    async def choose_canned(self, canned_id: str):
        if await self._access() is None:
            return await refusal(self)
        chosen = next((r for r in self.picker if r["id"] == canned_id), None)
        if chosen is not None:
            self._insert(self.draft, chosen)
        return rx.set_focus(REPLY_BOX_ID)

    def reset_draft(self) -> None:
        self.draft, self.picker, self.picker_open, self.picker_index = "", [], False, 0

    @rx.event
    def clear_draft(self):
        """After sending (chained after InboxState.handle_reply_submit)."""
        self.reset_draft()
