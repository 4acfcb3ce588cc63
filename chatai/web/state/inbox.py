"""The inbox page's state: every conversation of the owner's bots (and the playground) with filters,
full-text search and keyset paging; the transcript of the open one; take over / reply / release.

Every handler re-checks the session and passes the owner to the services, which return only that
owner's rows (services/inbox.py) or refuse with a code (services/handoff.py). Live refreshes arrive
from chatai/web/live.py through `refresh_live`. The page is chatai/web/pages/inbox.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import reflex as rx

from chatai.conversation.channel import CHANNELS
from chatai.db.session import async_session
from chatai.formatting import format_time
from chatai.services import assistants as assistants_svc
from chatai.services import bots as bots_svc
from chatai.services import inbox as inbox_svc
from chatai.services import operator_holds
from chatai.services.live import OwnerChange
from chatai.team import roles
from chatai.team.roles import Access
from chatai.web.i18n import text
from chatai.web.live import LiveBadgeState, register_tab
from chatai.web.state import inbox_tools as tools
from chatai.web.state.access import refusal, require_access
from chatai.web.state.auth import AuthState
from chatai.web.state.inbox_team import TeamInboxMixin, with_assignees

ALL = "all"  # select items cannot have an empty value
PERIODS = {"today": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
EVENT_CODES = ("handoff_requested", "handoff_low_confidence", "taken_over", "released", "timed_out", "balance_zero",
               "balance_resumed", "business_owner_wrote", "business_edited", "business_deleted")
ANSWERED_BY = ("llm", "qa", "extractive", "fallback", "operator", "greeting", "notice")
MAX_LIVE_ROWS = 200
MAX_REPLY_CHARS = 4096


def _dialog_dict(row: inbox_svc.DialogRow, time_zone: str) -> dict[str, str]:
    return {"id": str(row.id), "user_name": row.user_name, "status": row.status, "channel": row.channel,
            "bot": f"@{row.bot_username}" if row.bot_username else "", "assistant": row.assistant_name,
            "preview": row.preview, "preview_role": row.preview_role, "unread": str(row.unread),
            "time": format_time(row.last_message_at, time_zone), "messages": str(row.messages),
            # the list's order, for live merges (merge_live_rows)
            "at": row.last_message_at.astimezone(UTC).isoformat(timespec="microseconds")}


def _sources(sources: list[dict]) -> str:
    names = [str(s.get("document") or "") + (f" — {s['section']}" if s.get("section") else "") for s in sources]
    return " · ".join(dict.fromkeys(n for n in names if n))


def _message_dict(m: inbox_svc.TranscriptMessage, time_zone: str) -> dict[str, str]:
    return {"id": str(m.id), "role": m.role, "text": m.text, "answered_by": m.answered_by,
            "sources": _sources(m.sources), "operator": m.operator_email,
            "time": format_time(m.created_at, time_zone), "delivery": m.delivery_status,
            "delivery_error": m.delivery_error, "at": tools.at(m.created_at)}


def merge_live_rows(current: list[dict[str, str]], fresh: list[dict[str, str]], changed: set[str], *,
                    more: bool) -> list[dict[str, str]]:
    """The list after a live change, in the list's order (latest activity first, as services/inbox.py sorts):
    the changed dialogs' fresh rows in place of their old ones, the changed ones that no longer match the
    filters gone. With more pages to load (`more`), a fresh row older than the last one loaded stays for
    "load more" to bring (keyset paging continues from the cursor)."""
    def order(row: dict[str, str]) -> tuple[str, str]:
        return row.get("at", ""), row["id"]

    kept = [row for row in current if row["id"] not in changed]
    if more and kept:
        fresh = [row for row in fresh if order(row) > order(kept[-1])]
    return sorted(kept + fresh, key=order, reverse=True)


def _handoff_code(exc: Exception) -> str:
    code = getattr(exc, "code", None) or (exc.args[0] if exc.args else "")
    return str(code) if str(code) in {"not_found", "held_by_other", "not_held", "empty_text", "too_long",
                                      "bot_unavailable"} else "not_found"


class InboxState(TeamInboxMixin, rx.State):
    assistant_options: list[dict[str, str]] = []
    bot_options: list[dict[str, str]] = []
    f_assistant: str = ALL
    f_bot: str = ALL
    f_status: str = ALL
    f_channel: str = ALL
    f_period: str = ALL
    search: str = ""
    f_label: str = ALL  # set by InboxToolsState.set_label_filter
    dialogs: list[dict[str, str]] = []
    next_cursor: str = ""
    # The open conversation.
    open_id: str = ""
    header: dict[str, str] = {}
    transcript: list[dict[str, str]] = []
    earlier: int = 0
    error: str = ""
    _time_zone: str = "UTC"  # the owner's clock, set with every check of who is asking (`_owner`)

    async def _tr(self, key: str) -> str:
        return text((await self.get_state(AuthState)).locale, key)

    def _filters(self) -> inbox_svc.InboxFilter:
        def as_id(value: str) -> uuid.UUID | None:
            try:
                return uuid.UUID(value) if value != ALL else None
            except ValueError:
                return None

        period = PERIODS.get(self.f_period)
        return inbox_svc.InboxFilter(
            assistant_id=as_id(self.f_assistant), bot_id=as_id(self.f_bot),
            status=self.f_status if self.f_status in inbox_svc.STATUSES else "",
            channel=self.f_channel if self.f_channel in CHANNELS else "",
            since=datetime.now(UTC) - period if period else None, search=self.search,
            label_id=as_id(self.f_label), **self._scope_filter())

    async def _load_list(self, access: Access, *, rows: int = inbox_svc.PAGE_SIZE) -> None:
        owner_id = access.business_id
        async with async_session() as session:
            page = await inbox_svc.list_dialogs(session, owner_id=owner_id, filters=self._filters(), limit=rows)
        self.dialogs = await self._with_assignees(access, [_dialog_dict(r, self._time_zone) for r in page.rows])
        self.next_cursor = page.next_cursor.encode() if page.next_cursor else ""
        await tools.after_list_loaded(self, owner_id)

    async def _load_transcript(self, access: Access) -> bool:
        owner_id = access.business_id
        try:
            dialog_id = uuid.UUID(self.open_id)
            async with async_session() as session:
                tr = await inbox_svc.get_transcript(session, owner_id=owner_id, dialog_id=dialog_id)
                newest = tr.messages[-1].created_at if tr.messages else None
                await inbox_svc.mark_read(session, owner_id=owner_id, dialog_id=dialog_id, until=newest)
        except (ValueError, inbox_svc.InboxNotFound):
            self.open_id, self.header, self.transcript, self.earlier = "", {}, [], 0
            await tools.after_transcript_loaded(self, owner_id, loaded=False)
            return False
        d = tr.dialog
        async with async_session() as session:
            in_telegram = await operator_holds.telegram_holder(session, owner_id=owner_id, dialog_id=dialog_id)
        held_by = "me" if tr.operator_id == access.user_id else ("other" if tr.operator_id else "")
        self.header = {**_dialog_dict(d, self._time_zone), "unread": "0",
                       "held_by": "telegram" if in_telegram else held_by, "telegram_holder": in_telegram or ""}
        self.header = (await self._with_assignees(access, [self.header]))[0]
        self.transcript = [_message_dict(m, self._time_zone) for m in tr.messages]
        self.earlier = tr.earlier
        await tools.after_transcript_loaded(self, owner_id, loaded=True)  # internal notes, labels, card
        self.dialogs = [{**row, "unread": "0"} if row["id"] == self.open_id else row for row in self.dialogs]
        return True

    async def _access(self) -> Access | None:
        access = await require_access(self, roles.INBOX)
        if access is not None:
            self._time_zone = access.time_zone  # the person's own clock (their time zone card)
        return access

    @rx.event
    async def load_inbox(self):
        access = await self._access()
        if access is None:
            return await refusal(self)
        owner_id = access.business_id
        await self._load_people(access)
        register_tab(self.router.session.client_token, owner_id, (await self.get_state(AuthState)).session_token)
        async with async_session() as session:
            mine = await assistants_svc.list_assistants(session, owner_id=owner_id)
            bots = await bots_svc.list_bots(session, owner_id=owner_id)
        self.assistant_options = [{"id": str(a.id), "name": a.name} for a in mine]
        self.bot_options = [{"id": str(b.id), "name": f"@{b.username}"} for b in bots]
        self.error = ""
        await self._load_list(access)
        requested = str(self.router.url.query_parameters.get("dialog", "") or "")
        if requested:
            self.open_id = requested
        if self.open_id:
            await self._load_transcript(access)
        await (await self.get_state(LiveBadgeState)).refresh(owner_id)

    async def apply_live(self, access: Access, change: OwnerChange) -> None:
        """A batch of changes to the business's dialogs, read once for all its tabs (chatai/web/live.py calls
        this with the tab's state locked, `access` being this tab's person just checked for that business). The
        changed rows are merged into the list; only a list the rows cannot update (a search, a period, a bot,
        label or mine/unassigned filter) is re-read."""
        if access.business_id != change.owner_id:
            return
        if (change.rows is None or self.search or self.f_period != ALL or self.f_bot != ALL
                or self.f_label != ALL or self.f_scope != "all"):
            await self._load_list(access, rows=min(max(len(self.dialogs), inbox_svc.PAGE_SIZE), MAX_LIVE_ROWS))
        else:
            shown = with_assignees(access, [_dialog_dict(row, self._time_zone) for row in change.rows.values()
                                            if self._lists(row)], (change.extra or {}).get("assignees", {}))
            merged = merge_live_rows(self.dialogs, shown, {str(i) for i in change.dialog_ids},
                                     more=bool(self.next_cursor))
            if len(merged) > MAX_LIVE_ROWS:  # so many new dialogs: a fresh first page instead of a longer list
                await self._load_list(access, rows=MAX_LIVE_ROWS)
            else:
                self.dialogs = merged
        if self.open_id and uuid.UUID(self.open_id) in change.dialog_ids:
            await self._load_transcript(access)
            await (await self.get_state(LiveBadgeState)).refresh(access.business_id)

    def _lists(self, row: inbox_svc.DialogRow) -> bool:
        """Whether the list under this tab's assistant and status filters shows the row."""
        return ((self.f_assistant == ALL or str(row.assistant_id) == self.f_assistant)
                and (self.f_status == ALL or row.status == self.f_status))

    async def refresh_live(self, owner_id: uuid.UUID, dialog_ids: set[uuid.UUID]) -> None:
        """A dialog of this owner changed (called by chatai/web/live.py with the tab's state locked)."""
        access = await self._access()
        if access is None or access.business_id != owner_id:
            return
        await self._load_list(access, rows=min(max(len(self.dialogs), inbox_svc.PAGE_SIZE), MAX_LIVE_ROWS))
        if self.open_id and uuid.UUID(self.open_id) in dialog_ids:
            await self._load_transcript(access)
            await (await self.get_state(LiveBadgeState)).refresh(owner_id)

    async def _refilter(self):
        access = await self._access()
        if access is None:
            return await refusal(self)
        await self._load_list(access)

    @rx.event
    async def set_filter_assistant(self, value: str):
        self.f_assistant = value
        return await self._refilter()

    @rx.event
    async def set_filter_bot(self, value: str):
        self.f_bot = value
        return await self._refilter()

    @rx.event
    async def set_filter_status(self, value: str):
        self.f_status = value
        return await self._refilter()

    @rx.event
    async def set_filter_channel(self, value: str):
        self.f_channel = value
        return await self._refilter()

    @rx.event
    async def set_filter_period(self, value: str):
        self.f_period = value
        return await self._refilter()

    @rx.event
    async def handle_search_submit(self, form: dict):
        self.search = str(form.get("search", "")).strip()[:inbox_svc.MAX_SEARCH_CHARS]
        return await self._refilter()

    @rx.event
    async def load_more(self):
        access = await self._access()
        if access is None:
            return await refusal(self)
        owner_id = access.business_id
        cursor = inbox_svc.Cursor.decode(self.next_cursor)
        if cursor is None:
            return
        async with async_session() as session:
            page = await inbox_svc.list_dialogs(session, owner_id=owner_id, filters=self._filters(), cursor=cursor)
        seen = {row["id"] for row in self.dialogs}
        self.dialogs = self.dialogs + await self._with_assignees(
            access, [_dialog_dict(r, self._time_zone) for r in page.rows if str(r.id) not in seen])
        self.next_cursor = page.next_cursor.encode() if page.next_cursor else ""
        await tools.after_list_loaded(self, owner_id)

    @rx.event
    async def open_dialog(self, dialog_id: str):
        access = await self._access()
        if access is None:
            return await refusal(self)
        owner_id = access.business_id
        self.open_id, self.error = dialog_id, ""
        if not await self._load_transcript(access):
            self.error = await self._tr("inbox_err_not_found")
        badge = await self.get_state(LiveBadgeState)
        await badge.refresh(owner_id)
        if badge.notice_dialog == dialog_id:  # the owner is looking at it: no need to point at it
            badge.notice_name, badge.notice_dialog = "", ""

    @rx.event
    def close_dialog(self):
        self.open_id, self.header, self.transcript, self.earlier, self.error = "", {}, [], 0, ""

    # --- handoff (services/handoff.py) ---

    async def _handoff(self, action: str, **kwargs):
        access = await self._access()
        if access is None:
            return await refusal(self)
        owner_id = access.business_id
        self.error = ""
        try:
            from chatai.services import handoff
        except ModuleNotFoundError:
            self.error = await self._tr("inbox_handoff_unavailable")
            return None
        try:
            dialog_id = uuid.UUID(self.open_id)
            async with async_session() as session:
                # One holder: a dialog a Telegram operator holds is theirs here too; the owner may only release it.
                if action != "release" and await operator_holds.telegram_holder(session, owner_id=owner_id,
                                                                                dialog_id=dialog_id):
                    raise handoff.HandoffError("held_by_other")
                await getattr(handoff, action)(session, owner_id=owner_id, dialog_id=dialog_id,
                                               operator_id=access.user_id, **kwargs)
        except ValueError:
            self.error = await self._tr("inbox_err_not_found")
        except handoff.HandoffError as exc:
            self.error = await self._tr(f"inbox_err_{_handoff_code(exc)}")
        await self._load_transcript(access)
        await self._load_list(access, rows=min(max(len(self.dialogs), inbox_svc.PAGE_SIZE), MAX_LIVE_ROWS))
        return None

    @rx.event
    async def take_over(self):
        result = await self._handoff("take_over")
        if result is None and not self.error:
            await self._take_if_unassigned()  # who holds it shows in every open inbox (inbox_team.py)
        return result

    @rx.event
    async def release(self):
        return await self._handoff("release")

    @rx.event
    async def handle_reply_submit(self, form: dict):
        reply = str(form.get("reply", "")).strip()
        if not reply:
            self.error = await self._tr("inbox_err_empty_text")
            return
        if len(reply) > MAX_REPLY_CHARS:
            self.error = await self._tr("inbox_err_too_long")
            return
        return await self._handoff("send_operator_message", text=reply)
