"""The inbox tools' state (issue 23): internal notes merged into the open transcript, labels (the business's
set, those of the open dialog and of the listed ones, the list filter), the customer card, and who is typing
or holds the open dialog. Canned replies and the reply box are chatai/web/state/inbox_canned.py.

InboxState (chatai/web/state/inbox.py) calls `after_transcript_loaded` / `after_list_loaded`; everything else
is this state's own handlers, each re-checking the session and passing the business to the services, which
refuse anything not the business's (chatai/inbox_tools/). Live nudges from other people's tabs arrive through
chatai/web/state/inbox_tools_live.py as `apply_live`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import reflex as rx

from chatai.db.session import async_session
from chatai.inbox_tools import ToolsError, access, customers, labels, notes, presence
from chatai.team.roles import INBOX, INBOX_SETUP, Access
from chatai.web.i18n import TEXTS, text
from chatai.web.state.access import refusal, require_access
from chatai.web.state.auth import AuthState

ALL = "all"


def when(stamp: datetime) -> str:
    return stamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def at(stamp: datetime) -> str:
    """A sortable instant (transcript rows and notes are merged by it)."""
    return stamp.astimezone(UTC).isoformat()


def note_row(note: notes.NoteRow) -> dict[str, str]:
    """A note as a transcript row (the keys of InboxState's message rows), role "note"."""
    return {"id": str(note.id), "role": "note", "text": note.text, "answered_by": "", "sources": "",
            "operator": note.author_name, "time": when(note.created_at), "delivery": "", "delivery_error": "",
            "at": at(note.created_at)}


def _label_dict(label: labels.LabelRow) -> dict[str, str]:
    return {"id": str(label.id), "name": label.name, "color": label.color}


def who_is(person: Access) -> str:
    """How a person is named to their team (a note's author, "is typing"): the person, never the business."""
    return getattr(person, "display_name", "") or person.email


class InboxToolsState(rx.State):
    dialog_id: str = ""  # the dialog these tools show (InboxState.open_id when loaded)
    labels: list[dict[str, str]] = []  # the business's labels
    dialog_labels: list[dict[str, str]] = []  # on the open dialog
    list_labels: dict[str, list[dict[str, str]]] = {}  # dialog id -> labels, for the listed dialogs
    f_label: str = ALL
    card: dict[str, str] = {}
    card_dialogs: list[dict[str, str]] = []
    card_notes: list[dict[str, str]] = []
    holder: str = ""  # who holds the open dialog, when it is someone else
    typing: str = ""  # "Anna is typing a reply…", in this tab's language
    tools_error: str = ""
    _labels_of: str = ""  # the business whose `labels` are loaded (backend only)

    async def _access(self, capability: str = INBOX) -> Access | None:
        """Who is asking, in which business (every role works in the inbox; the label set needs INBOX_SETUP)."""
        return await require_access(self, capability)

    async def _tr(self, key: str, **params: object) -> str:
        return text((await self.get_state(AuthState)).locale, key, **params)

    async def _refuse(self, exc: ToolsError) -> None:
        self.tools_error = await self._tr(f"err_tools_{exc.code}")

    def _open(self) -> uuid.UUID:
        return access.as_uuid(self.dialog_id)

    # --- called by InboxState -------------------------------------------------------------------------

    async def _load_for_dialog(self, owner_id: uuid.UUID, dialog_id: uuid.UUID, transcript: list[dict[str, str]],
                              earlier: int, *, held_by_other: bool = True) -> list[dict[str, str]]:
        """The transcript with the dialog's notes merged in by time; loads labels, card and holder. Not an event
        (the underscore): it trusts `owner_id`, the business InboxState has just checked."""
        from chatai.web.state.inbox_tools_live import WATCHERS

        # The same dialog again is a live refresh (a message, a status change, a note): its labels and card
        # change only through this state's own handlers and events, so only notes and the holder are re-read
        # (a refresh reaches every tab showing the dialog: it must stay cheap).
        fresh = self.dialog_id != str(dialog_id) or not self.card
        if fresh:
            self.typing = ""
        if self.dialog_id and self.dialog_id != str(dialog_id):  # a draft never follows to another customer
            from chatai.web.state.inbox_canned import CannedRepliesState

            (await self.get_state(CannedRepliesState)).reset_draft()
        self.dialog_id = str(dialog_id)
        WATCHERS.watch(self.router.session.client_token, dialog_id)
        since = datetime.fromisoformat(transcript[0]["at"]) if earlier and transcript else None
        async with async_session() as session:
            found = await notes.list_dialog_notes(session, owner_id=owner_id, dialog_id=dialog_id, since=since)
            holder = await access.dialog_holder(session, owner_id=owner_id, dialog_id=dialog_id) if held_by_other \
                else None  # the inbox's header already says nobody else holds it: no query
            if fresh:
                await self._load_labels(session, owner_id)
                on_dialog = await labels.labels_of_dialogs(session, owner_id=owner_id, dialog_ids=[dialog_id])
                self.dialog_labels = [_label_dict(x) for x in on_dialog.get(dialog_id, [])]
                await self._show_card(await customers.customer_card(session, owner_id=owner_id, dialog_id=dialog_id))
        person = await self._access() if holder else None
        self.holder = holder[1] if holder and person is not None and holder[0] != person.user_id else ""
        merged = transcript + [note_row(n) for n in found]
        return sorted(merged, key=lambda row: row.get("at", ""))

    def forget_dialog(self) -> None:
        from chatai.web.state.inbox_tools_live import WATCHERS

        WATCHERS.unwatch(self.router.session.client_token)
        self.dialog_id, self.dialog_labels, self.card, self.card_dialogs, self.card_notes = "", [], {}, [], []
        self.holder, self.typing, self.tools_error = "", "", ""

    async def _load_for_list(self, owner_id: uuid.UUID, dialog_ids: list[str]) -> None:
        ids = [access.as_uuid(d) for d in dialog_ids]
        async with async_session() as session:
            found = await labels.labels_of_dialogs(session, owner_id=owner_id, dialog_ids=ids)
            if self._labels_of != str(owner_id):  # once per tab (and after a label action), not per live refresh
                await self._load_labels(session, owner_id)
        self.list_labels = {str(d): [_label_dict(x) for x in rows] for d, rows in found.items()}

    async def _load_labels(self, session, owner_id: uuid.UUID) -> None:
        self.labels = [_label_dict(x) for x in await labels.list_labels(session, owner_id=owner_id)]
        self._labels_of = str(owner_id)

    async def _show_card(self, card: customers.CustomerCard) -> None:
        # Telegram sends "ru" or "pt-br": people read the language's name, in their own language.
        key = f"tools_lang_{card.language.lower().split('-')[0]}"
        language = await self._tr(key) if key in TEXTS["en"] else card.language
        self.card = {"name": card.name, "username": f"@{card.username}" if card.username else "",
                     "language": language, "first_seen": when(card.first_seen), "count": str(card.dialog_count)}
        self.card_dialogs = [{"id": str(d.id), "status": d.status, "bot": f"@{d.bot_username}" if d.bot_username
                              else "", "channel": d.channel, "time": when(d.last_message_at),
                              "current": "1" if str(d.id) == self.dialog_id else ""} for d in card.dialogs]
        self.card_notes = [{"id": str(n.id), "author": n.author_name, "text": n.text, "time": when(n.created_at)}
                           for n in card.notes]

    @rx.event
    def leave_dialog(self):
        """The inbox closed the dialog (InboxState.close_dialog): stop receiving its live events."""
        self.forget_dialog()

    # --- internal notes ---------------------------------------------------------------------------------

    async def _reload_transcript(self, person: Access) -> None:
        from chatai.web.state.inbox import InboxState

        inbox = await self.get_state(InboxState)
        if inbox.open_id == self.dialog_id:
            await inbox._load_transcript(person)

    @rx.event
    async def handle_note_submit(self, form: dict):
        person = await self._access()
        if person is None:
            return await refusal(self)
        self.tools_error = ""
        try:
            dialog_id = self._open()
            async with async_session() as session:
                await notes.add_dialog_note(session, owner_id=person.business_id, dialog_id=dialog_id,
                                            author_id=person.user_id, author_name=who_is(person),
                                            text=str(form.get("note", "")))
        except ToolsError as exc:
            await self._refuse(exc)
            return
        await self._reload_transcript(person)
        await presence.publish_tools_event("note", dialog_id=dialog_id, owner_id=person.business_id)

    @rx.event
    async def handle_customer_note_submit(self, form: dict):
        person = await self._access()
        if person is None:
            return await refusal(self)
        business = person.business_id
        self.tools_error = ""
        try:
            dialog_id = self._open()
            async with async_session() as session:
                await customers.add_customer_note(session, owner_id=business, dialog_id=dialog_id,
                                                  author_id=person.user_id, author_name=who_is(person),
                                                  text=str(form.get("customer_note", "")))
                await self._show_card(await customers.customer_card(session, owner_id=business, dialog_id=dialog_id))
        except ToolsError as exc:
            await self._refuse(exc)
            return
        await presence.publish_tools_event("customer", dialog_id=dialog_id, owner_id=business)

    # --- labels -------------------------------------------------------------------------------------------

    async def _reload_labels(self, person: Access) -> None:
        from chatai.web.state.inbox import InboxState

        owner_id = person.business_id
        async with async_session() as session:
            await self._load_labels(session, owner_id)
            if self.dialog_id:
                dialog_id = self._open()
                on_dialog = await labels.labels_of_dialogs(session, owner_id=owner_id, dialog_ids=[dialog_id])
                self.dialog_labels = [_label_dict(x) for x in on_dialog.get(dialog_id, [])]
        inbox = await self.get_state(InboxState)
        if inbox.f_label != ALL:  # the dialog may have left (or joined) the filtered list
            await inbox._load_list(person, rows=max(len(inbox.dialogs), 1))
        else:
            await self._load_for_list(owner_id, [d["id"] for d in inbox.dialogs])

    async def _label_action(self, person: Access, action, *, dialog: bool = False, **kwargs) -> None:
        self.tools_error = ""
        try:
            if dialog:
                kwargs["dialog_id"] = self._open()
            async with async_session() as session:
                await action(session, owner_id=person.business_id, **kwargs)
        except ToolsError as exc:
            await self._refuse(exc)
            return
        await self._reload_labels(person)
        if dialog:
            await presence.publish_tools_event("labels", dialog_id=kwargs["dialog_id"], owner_id=person.business_id)

    async def _label_id(self, value: str) -> uuid.UUID | None:
        try:
            return access.as_uuid(value)
        except ToolsError as exc:
            await self._refuse(exc)
            return None

    # The business's label set is INBOX_SETUP (owners and managers keep it); labelling a dialog is every role's.

    @rx.event
    async def handle_label_create(self, form: dict):
        if (person := await self._access(INBOX_SETUP)) is None:
            return await refusal(self)
        await self._label_action(person, labels.create_label, name=str(form.get("name", "")),
                                 color=str(form.get("color", "") or "gray"))
        return None

    @rx.event
    async def handle_label_rename(self, form: dict):
        if (person := await self._access(INBOX_SETUP)) is None:
            return await refusal(self)
        if (label_id := await self._label_id(str(form.get("label_id", "")))) is None:
            return None
        current = next((x for x in self.labels if x["id"] == str(label_id)), {})
        await self._label_action(person, labels.update_label, label_id=label_id, name=str(form.get("name", "")),
                                 color=str(form.get("color", "") or current.get("color", "gray")))
        return None

    @rx.event
    async def set_label_color(self, label_id: str, color: str):
        if (person := await self._access(INBOX_SETUP)) is None:
            return await refusal(self)
        current = next((x for x in self.labels if x["id"] == label_id), None)
        if current is None:
            self.tools_error = await self._tr("err_tools_not_found")
            return None
        await self._label_action(person, labels.update_label, label_id=access.as_uuid(label_id),
                                 name=current["name"], color=color)
        return None

    @rx.event
    async def delete_label(self, label_id: str):
        if (person := await self._access(INBOX_SETUP)) is None:
            return await refusal(self)
        if (label := await self._label_id(label_id)) is not None:
            await self._label_action(person, labels.delete_label, label_id=label)
        return None

    @rx.event
    async def add_label(self, label_id: str):
        if (person := await self._access()) is None:
            return await refusal(self)
        if (label := await self._label_id(label_id)) is not None:
            await self._label_action(person, labels.add_label, dialog=True, label_id=label)
        return None

    @rx.event
    async def remove_label(self, label_id: str):
        if (person := await self._access()) is None:
            return await refusal(self)
        if (label := await self._label_id(label_id)) is not None:
            await self._label_action(person, labels.remove_label, dialog=True, label_id=label)
        return None

    @rx.event
    async def set_label_filter(self, value: str):
        from chatai.web.state.inbox import InboxState

        inbox = await self.get_state(InboxState)
        self.f_label = inbox.f_label = value if value == ALL or _is_uuid(value) else ALL
        return await inbox._refilter()

    # --- live (chatai/web/state/inbox_tools_live.py) -------------------------------------------------------

    async def apply_live(self, event: presence.ToolsEvent, board: presence.TypingBoard) -> bool:
        """Another person's tab changed the open dialog's tools, or someone types in it. False when this tab no
        longer shows that dialog or no longer belongs to the business (it stops receiving)."""
        person = await self._access()
        if person is None or person.business_id != event.owner_id or self.dialog_id != str(event.dialog_id):
            return False
        if event.type == "typing":
            names = board.typing(event.dialog_id, but_user=str(person.user_id))
            key = "tools_typing_one" if len(names) == 1 else "tools_typing_many"
            self.typing = await self._tr(key, who=", ".join(names)) if names else ""
        elif event.type == "note":
            await self._reload_transcript(person)
        elif event.type == "labels":
            await self._reload_labels(person)
        elif event.type == "customer":
            async with async_session() as session:
                await self._show_card(await customers.customer_card(session, owner_id=person.business_id,
                                                                    dialog_id=self._open()))
        return True


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def after_transcript_loaded(inbox: rx.State, owner_id: uuid.UUID, loaded: bool) -> None:
    """InboxState's hook: merge notes into its transcript and load the tools of the open dialog (or forget)."""
    tools = await inbox.get_state(InboxToolsState)
    if not loaded:
        tools.forget_dialog()
        return
    try:
        inbox.transcript = await tools._load_for_dialog(owner_id, uuid.UUID(inbox.open_id), inbox.transcript,
                                                       inbox.earlier,
                                                       held_by_other=inbox.header.get("held_by") == "other")
    except ToolsError:
        tools.forget_dialog()


async def after_list_loaded(inbox: rx.State, owner_id: uuid.UUID) -> None:
    tools = await inbox.get_state(InboxToolsState)
    await tools._load_for_list(owner_id, [d["id"] for d in inbox.dialogs])
