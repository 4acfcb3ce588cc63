"""The team part of the inbox state, mixed into InboxState (chatai/web/state/inbox.py): the
"mine / unassigned / all" filter, who each dialog is assigned to, and assigning the open dialog to a person of
the business (or taking it). Kept apart so the inbox state's other features do not grow around it."""

from __future__ import annotations

import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.team import assignment
from chatai.team.members import TeamError
from chatai.team.roles import INBOX, Access
from chatai.web.i18n import text
from chatai.web.state.access import refusal, require_access
from chatai.web.state.auth import AuthState

UNASSIGNED = "none"  # select items cannot have an empty value


def with_assignees(access: Access, rows: list[dict[str, str]],
                   found: dict[uuid.UUID, assignment.Assignee]) -> list[dict[str, str]]:
    """The rows with their assignees already read (a live batch reads them once for every tab of the business)."""
    out = []
    for row in rows:
        who = found.get(uuid.UUID(row["id"])) if row.get("id") else None
        out.append({**row, "assignee": who.email if who else "", "assignee_id": str(who.user_id) if who else "",
                    "mine": "1" if who and who.user_id == access.user_id else ""})
    return out


class TeamInboxMixin(rx.State, mixin=True):
    f_scope: str = "all"  # one of assignment.SCOPES
    people_options: list[dict[str, str]] = []
    _me: str = ""  # backend only: the person the "mine" filter means, set by `_load_people`

    def _scope_filter(self) -> dict:
        scope = self.f_scope if self.f_scope in assignment.SCOPES else "all"
        return {"scope": scope, "scope_user": uuid.UUID(self._me) if self._me else None}

    async def _load_people(self, access: Access) -> None:
        self._me = str(access.user_id)
        async with async_session() as session:
            found = await assignment.people(session, business_id=access.business_id)
        self.people_options = [{"id": str(p.user_id), "email": p.email} for p in found]

    async def _with_assignees(self, access: Access, rows: list[dict[str, str]]) -> list[dict[str, str]]:
        """The rows with who each is assigned to ("assignee" email, "assignee_id", "mine")."""
        ids = []
        for row in rows:
            try:
                ids.append(uuid.UUID(row["id"]))
            except (KeyError, ValueError):
                continue
        if not ids:
            return rows
        async with async_session() as session:
            found = await assignment.assignees(session, business_id=access.business_id, dialog_ids=ids)
        return with_assignees(access, rows, found)

    @rx.event
    async def set_filter_scope(self, value: str):
        self.f_scope = value if value in assignment.SCOPES else "all"
        return await self._refilter()

    async def _assign(self, user_id: uuid.UUID | None, access: Access):
        self.error = ""
        try:
            async with async_session() as session:
                await assignment.assign(session, business_id=access.business_id, actor_id=access.user_id,
                                        dialog_id=uuid.UUID(self.open_id), user_id=user_id,
                                        client=(await self.get_state(AuthState)).client())
        except (ValueError, TeamError):
            self.error = text((await self.get_state(AuthState)).locale, "team_err_assign")
        await self._load_list(access, rows=max(len(self.dialogs), 1))
        await self._load_transcript(access)
        return None

    async def _take_if_unassigned(self) -> None:
        """After a take-over: the person holding a dialog nobody looks after is its assignee, so the others see
        who holds it (an existing assignment stays: the owner may have handed it to someone on purpose)."""
        access = await require_access(self, INBOX)
        if access is not None and self.open_id and not self.header.get("assignee_id"):
            await self._assign(access.user_id, access)

    @rx.event
    async def assign_open_dialog(self, user_id: str):
        """Assign the open dialog to a person of the business, or to nobody (UNASSIGNED)."""
        access = await require_access(self, INBOX)
        if access is None:
            return await refusal(self)
        try:
            target = None if user_id == UNASSIGNED else uuid.UUID(user_id)
        except ValueError:
            self.error = text((await self.get_state(AuthState)).locale, "team_err_assign")
            return None
        return await self._assign(target, access)

    @rx.event
    async def take_open_dialog(self):
        access = await require_access(self, INBOX)
        if access is None:
            return await refusal(self)
        return await self._assign(access.user_id, access)
