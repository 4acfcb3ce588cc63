"""Admin panel: every bot on the platform (filter by status; pause, resume, restart) and runner health."""

from __future__ import annotations

import uuid

import reflex as rx

from chatai.bots.health import runner_health
from chatai.db.session import async_session
from chatai.services import accounts
from chatai.services import admin as admin_svc
from chatai.services.accounts import AccountError
from chatai.web import routes
from chatai.web.components.layout import (
    admin_page,
    card,
    error_callout,
    page_header,
    stat_card,
    stat_grid,
    success_callout,
    t,
)
from chatai.web.i18n import text
from chatai.web.pages.admin_users import error_text
from chatai.web.state.auth import AuthState, require_admin
from chatai.web.texts.bot_events import bot_event_text
from chatai.web.texts.stored_values import stored_value_text


class AdminBotsState(rx.State):
    rows: list[dict[str, str]] = []
    status: str = "all"
    runners_alive: int = 0
    runners: list[dict[str, str]] = []
    error: str = ""
    message: str = ""
    # Keyset paging (10,000 bots): the cursor each shown page started after ("" = the first page), and the next's.
    page_starts: list[str] = [""]
    next_cursor: str = ""

    async def _reload(self, admin: accounts.CurrentUser) -> None:
        async with async_session() as session:
            page = await admin_svc.bots_page(session, admin=admin, status="" if self.status == "all" else self.status,
                                             after=self.page_starts[-1])
            leases = await admin_svc.runner_leases(session, admin=admin)
        bots, self.next_cursor = page.rows, page.next_after
        locale = (await self.get_state(AuthState)).locale
        self.rows = [{"id": str(b.id), "owner": b.owner_email, "username": b.username,
                      "mode": stored_value_text(locale, "bot_mode", b.mode), "status": b.status,
                      "status_label": stored_value_text(locale, "bot_status", b.status),
                      "admin_paused": "1" if b.desired_state == admin_svc.ADMIN_PAUSED else "",
                      "stopped": "" if b.desired_state == "running" else "1",
                      "error": bot_event_text(locale, b.last_error)[:300],
                      "runner": b.runner_id or "—", "today": str(b.messages_today)} for b in bots]
        self.runners = [{"id": r.runner_id, "bots": str(r.bots), "lease": str(r.oldest_lease_left_s)} for r in leases]
        try:
            self.runners_alive = int((await runner_health())["runners"])
        except Exception:  # noqa: BLE001 - Redis down: the table from the database still shows
            self.runners_alive = 0

    @rx.event
    async def load_admin_bots(self):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.error = self.message = ""
        self.page_starts = [""]
        await self._reload(admin)

    @rx.event
    async def set_status_filter(self, value: str):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.status = value if value in admin_svc.BOT_STATUSES else "all"
        self.page_starts = [""]
        await self._reload(admin)

    @rx.event
    async def turn_page(self, where: str):
        """next | prev | first."""
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        if where == "next" and self.next_cursor:
            self.page_starts = [*self.page_starts, self.next_cursor]
        elif where == "prev" and len(self.page_starts) > 1:
            self.page_starts = self.page_starts[:-1]
        elif where == "first":
            self.page_starts = [""]
        await self._reload(admin)

    @rx.event
    async def bot_action(self, bot_id: str, action: str):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.error = self.message = ""
        try:
            async with async_session() as session:
                await admin_svc.bot_action(session, admin=admin, bot_id=uuid.UUID(bot_id), action=str(action),
                                           client=(await self.get_state(AuthState)).client())
            self.message = text((await self.get_state(AuthState)).locale, "adm_bot_done")
        except AccountError as exc:
            self.error = await error_text(self, exc.code)
        except ValueError:
            self.error = await error_text(self, "not_found")
        await self._reload(admin)


def _bot_row(row: dict) -> rx.Component:
    stopped = row["stopped"] != ""
    return rx.table.row(
        rx.table.cell(row["owner"]),
        rx.table.cell("@", row["username"]),
        rx.table.cell(row["mode"]),
        rx.table.cell(rx.hstack(
            rx.badge(row["status_label"], class_name="admin-bot-status",
                     color_scheme=rx.cond(row["status"] == "error", "red",
                                          rx.cond(row["status"] == "running", "green", "gray"))),
            rx.cond(row["admin_paused"] != "", rx.badge(t("adm_bot_admin_paused"), color_scheme="orange"),
                    rx.fragment()), spacing="1")),
        rx.table.cell(rx.text(row["error"], size="1")),
        rx.table.cell(rx.code(row["runner"])),
        rx.table.cell(row["today"]),
        rx.table.cell(rx.hstack(
            rx.cond(stopped,
                    rx.button(t("adm_bot_resume"), size="1", variant="soft", color_scheme="green",
                              on_click=AdminBotsState.bot_action(row["id"], "resume")),
                    rx.button(t("adm_bot_pause"), size="1", variant="soft", color_scheme="red",
                              on_click=AdminBotsState.bot_action(row["id"], "pause"), class_name="admin-bot-pause")),
            rx.button(t("adm_bot_restart"), size="1", variant="soft",
                      on_click=AdminBotsState.bot_action(row["id"], "restart")),
            spacing="2")),
    )


def _runner_row(row: dict) -> rx.Component:
    return rx.table.row(rx.table.cell(rx.code(row["id"])), rx.table.cell(row["bots"]), rx.table.cell(row["lease"]))


@admin_page
def admin_bots_page() -> rx.Component:
    s = AdminBotsState
    return rx.vstack(
        page_header("adm_bots_title", "adm_bots_subtitle"),
        error_callout(s.error),
        success_callout(s.message),
        stat_grid(stat_card("adm_runners_alive", s.runners_alive, "server")),
        card(rx.heading(t("adm_runners_title"), size="4", margin_bottom="8px"),
             rx.cond(s.runners.length() == 0, rx.text(t("adm_runner_none")),
                     rx.table.root(
                         rx.table.header(rx.table.row(
                             rx.table.column_header_cell(t("adm_bot_runner")),
                             rx.table.column_header_cell(t("adm_runner_bots")),
                             rx.table.column_header_cell(t("adm_runner_lease")))),
                         rx.table.body(rx.foreach(s.runners, _runner_row)), width="100%"))),
        card(
            rx.select.root(
                rx.select.trigger(aria_label=t("status")),
                rx.select.content(rx.select.item(t("adm_bots_all"), value="all"),
                                  *[rx.select.item(t(f"stored_bot_status_{status}"), value=status)
                                    for status in admin_svc.BOT_STATUSES]),
                value=s.status, on_change=s.set_status_filter),
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell(t("adm_bot_owner")), rx.table.column_header_cell(t("adm_nav_bots")),
                    rx.table.column_header_cell(t("adm_bot_mode")), rx.table.column_header_cell(t("status")),
                    rx.table.column_header_cell(t("adm_bot_error")), rx.table.column_header_cell(t("adm_bot_runner")),
                    rx.table.column_header_cell(t("adm_bot_today")), rx.table.column_header_cell(t("actions")))),
                rx.table.body(rx.foreach(s.rows, _bot_row)), width="100%"), overflow_x="auto", margin_top="12px"),
            rx.hstack(
                rx.button(t("bots_page_first"), variant="soft", size="1", on_click=s.turn_page("first"),
                          disabled=s.page_starts.length() <= 1),
                rx.button(t("bots_page_prev"), variant="soft", size="1", on_click=s.turn_page("prev"),
                          disabled=s.page_starts.length() <= 1, id="admin-bots-prev"),
                rx.button(t("bots_page_next"), variant="soft", size="1", on_click=s.turn_page("next"),
                          disabled=s.next_cursor == "", id="admin-bots-next"),
                margin_top="12px"),
        ),
        width="100%",
        spacing="4",
    )
