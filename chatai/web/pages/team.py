"""The team page (owner only): invite people by email with a role, change roles, remove people (their
sessions end at once), withdraw invitations, and the team's activity (its audit events, as sentences).

Every handler asks chatai/web/state/access.py for the TEAM capability of the selected business; the services
(chatai/team/*) take that business and never touch another's rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import reflex as rx

from chatai.db.session import async_session
from chatai.services import audit
from chatai.team import invitations, members
from chatai.team.invitations import INVITATION_LIFETIME
from chatai.team.members import TeamError
from chatai.team.models import TEAM_ROLES
from chatai.team.roles import TEAM
from chatai.web.components.layout import card, dashboard_page, error_callout, page_header, success_callout, t
from chatai.web.i18n import text
from chatai.web.state.access import refusal, require_access
from chatai.web.state.auth import AuthState
from chatai.web.texts.team import audit_sentence, role_label

ACTIVITY_ROWS = 50


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _error(locale: str, exc: TeamError) -> str:
    return text(locale, f"team_err_{exc.code}")


class TeamState(rx.State):
    people: list[dict[str, str]] = []
    pending: list[dict[str, str]] = []
    activity: list[dict[str, str]] = []
    invite_role: str = "operator"
    invite_link: str = ""  # shown to copy when mail is not set up: the owner's own new link, never stored
    message: str = ""
    error: str = ""

    async def _locale(self) -> str:
        return (await self.get_state(AuthState)).locale

    async def _reload(self, business_id: uuid.UUID) -> None:
        locale = await self._locale()
        async with async_session() as session:
            found = await members.list_team(session, business_id=business_id)
            waiting = await invitations.list_pending(session, business_id=business_id)
            events = await audit.search(session, where=audit.AuditFilter(kind="team", target=str(business_id)),
                                        limit=ACTIVITY_ROWS)
        self.people = [{"id": str(m.user_id), "email": m.email, "role": m.role,
                        "role_label": role_label(locale, m.role), "joined": _day(m.joined_at)} for m in found]
        self.pending = [{"id": str(i.id), "email": i.email, "role_label": role_label(locale, i.role),
                         "until": text(locale, "team_pending_until", date=_day(i.expires_at))} for i in waiting]
        self.activity = [{"when": e.created_at.strftime("%Y-%m-%d %H:%M"),
                          "text": audit_sentence(locale, action=e.action, actor=e.actor_email, details=e.details)}
                         for e in events if e.target_id == str(business_id)]

    @rx.event
    async def load_team(self):
        access = await require_access(self, TEAM)
        if access is None:
            return await refusal(self)
        self.message = self.error = self.invite_link = ""
        await self._reload(access.business_id)
        return None

    @rx.event
    def set_invite_role(self, value: str):
        self.invite_role = value if value in TEAM_ROLES else "operator"

    @rx.event
    async def handle_invite_submit(self, form: dict):
        access = await require_access(self, TEAM)
        if access is None:
            return await refusal(self)
        locale = await self._locale()
        self.message = self.error = self.invite_link = ""
        role = str(form.get("role") or self.invite_role)
        email = str(form.get("email", "")).strip()[:254]
        try:
            async with async_session() as session:
                issued = await invitations.invite(
                    session, business_id=access.business_id, actor_id=access.user_id, email=email, role=role,
                    inviter_email=access.email, role_label=role_label(locale, role), locale=locale,
                    client=(await self.get_state(AuthState)).client())
        except TeamError as exc:
            self.error = _error(locale, exc)
            return None
        days = INVITATION_LIFETIME.days
        if issued.mailed:
            self.message = text(locale, "team_invite_mailed", email=email.lower(), days=days)
        else:
            self.message = text(locale, "team_invite_copy", email=email.lower(), days=days)
            self.invite_link = issued.link
        await self._reload(access.business_id)
        return rx.set_value("invite-email", "")

    async def _member_action(self, user_id: str, action, **kwargs):
        access = await require_access(self, TEAM)
        if access is None:
            return await refusal(self)
        locale = await self._locale()
        self.message = self.error = ""
        try:
            async with async_session() as session:
                await action(session, business_id=access.business_id, actor_id=access.user_id,
                             user_id=uuid.UUID(user_id), client=(await self.get_state(AuthState)).client(), **kwargs)
        except ValueError:
            self.error = text(locale, "team_err_member_not_found")
        except TeamError as exc:
            self.error = _error(locale, exc)
        await self._reload(access.business_id)
        return None

    @rx.event
    async def change_role(self, user_id: str, role: str):
        return await self._member_action(user_id, members.change_role, role=role)

    @rx.event
    async def remove_member(self, user_id: str):
        email = next((p["email"] for p in self.people if p["id"] == user_id), "")
        result = await self._member_action(user_id, members.remove_member)
        if result is None and not self.error:
            self.message = text(await self._locale(), "team_removed", email=email)
        return result

    @rx.event
    async def revoke_invitation(self, invitation_id: str):
        access = await require_access(self, TEAM)
        if access is None:
            return await refusal(self)
        locale = await self._locale()
        self.message = self.error = ""
        try:
            async with async_session() as session:
                await invitations.revoke(session, business_id=access.business_id, actor_id=access.user_id,
                                         invitation_id=uuid.UUID(invitation_id),
                                         client=(await self.get_state(AuthState)).client())
        except ValueError:
            self.error = text(locale, "team_err_invitation_not_found")
        except TeamError as exc:
            self.error = _error(locale, exc)
        await self._reload(access.business_id)
        return None


# --- components -------------------------------------------------------------------------------


def _role_select(value: rx.Var, on_change, **props) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label=t("team_invite_role")),
        rx.select.content(*[rx.select.item(t(f"team_role_{r}"), value=r) for r in TEAM_ROLES]),
        value=value, on_change=on_change, **props)


def _invite_card() -> rx.Component:
    s = TeamState
    return card(
        rx.form(
            rx.vstack(
                rx.heading(t("team_invite_title"), size="4"),
                rx.flex(
                    rx.input(name="email", id="invite-email", type="email", required=True,
                             placeholder=t("team_invite_email"), aria_label=t("team_invite_email"), width="280px"),
                    _role_select(s.invite_role, s.set_invite_role, name="role"),
                    rx.button(t("team_invite_send"), type="submit", id="invite-send"),
                    gap="12px", wrap="wrap", align="center"),
                rx.cond(s.invite_link != "",
                        rx.input(value=s.invite_link, read_only=True, id="invite-link", width="100%"),
                        rx.fragment()),
                spacing="3", width="100%"),
            on_submit=s.handle_invite_submit, reset_on_submit=False),
    )


def _person_row(p: dict) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(p["email"]), class_name="team-email"),
        rx.table.cell(_role_select(p["role"], lambda value: TeamState.change_role(p["id"], value), size="1")),
        rx.table.cell(p["joined"]),
        rx.table.cell(rx.button(t("team_remove"), color_scheme="red", variant="soft", size="1",
                                on_click=TeamState.remove_member(p["id"]), class_name="team-remove")),
    )


def _pending_row(i: dict) -> rx.Component:
    return rx.table.row(
        rx.table.cell(i["email"]), rx.table.cell(i["role_label"]), rx.table.cell(i["until"]),
        rx.table.cell(rx.button(t("team_revoke"), variant="soft", size="1",
                                on_click=TeamState.revoke_invitation(i["id"]))),
    )


@dashboard_page
def team_page() -> rx.Component:
    s = TeamState
    return rx.vstack(
        page_header("team_title", "team_subtitle"),
        error_callout(s.error),
        success_callout(s.message),
        _invite_card(),
        card(
            rx.heading(t("team_members"), size="4"),
            rx.cond(s.people.length() == 0, rx.text(t("team_members_empty"), color=rx.color("gray", 10)),
                    rx.box(rx.table.root(
                        rx.table.header(rx.table.row(
                            rx.table.column_header_cell(t("email")),
                            rx.table.column_header_cell(t("team_invite_role")),
                            rx.table.column_header_cell(t("team_joined")), rx.table.column_header_cell(""))),
                        rx.table.body(rx.foreach(s.people, _person_row)), width="100%", id="team-people"),
                        overflow_x="auto")),
        ),
        rx.cond(s.pending.length() > 0, card(
            rx.heading(t("team_pending"), size="4"),
            rx.box(rx.table.root(rx.table.body(rx.foreach(s.pending, _pending_row)), width="100%",
                                 id="team-pending"), overflow_x="auto"),
        ), rx.fragment()),
        card(
            rx.heading(t("team_activity"), size="4"),
            rx.cond(s.activity.length() == 0, rx.text(t("team_activity_empty"), color=rx.color("gray", 10)),
                    rx.vstack(rx.foreach(s.activity, lambda e: rx.hstack(
                        rx.text(e["when"], size="1", color=rx.color("gray", 10), white_space="nowrap"),
                        rx.text(e["text"], size="2"), spacing="3")), spacing="1", id="team-activity")),
        ),
        width="100%",
        spacing="4",
    )
