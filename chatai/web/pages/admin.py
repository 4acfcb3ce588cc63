"""Admin panel: platform counts, health, and users (block / unblock)."""

from __future__ import annotations

import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.services import accounts
from chatai.services.accounts import AccountError
from chatai.services.overview import list_users, platform_overview
from chatai.web import routes
from chatai.web.components.layout import admin_page, card, error_callout, page_header, stat_card, stat_grid, t
from chatai.web.state.auth import require_admin


class AdminOverviewState(rx.State):
    users: int = 0
    assistants: int = 0
    bots_running: int = 0
    bots_error: int = 0
    dialogs: int = 0
    health: dict[str, str] = {}

    @rx.event
    async def load_admin_overview(self):
        if await require_admin(self) is None:
            return rx.redirect(routes.SIGNIN)
        async with async_session() as session:
            o = await platform_overview(session)
        self.users, self.assistants, self.bots_running, self.bots_error, self.dialogs = (
            o.users, o.assistants, o.bots_running, o.bots_error, o.dialogs)
        from chatai.health import check_health

        report, _ = await check_health()
        self.health = {name: str(part.get("status", "")) for name, part in report["components"].items()}


class AdminUsersState(rx.State):
    rows: list[dict[str, str]] = []
    query: str = ""
    error: str = ""

    async def _reload(self) -> None:
        async with async_session() as session:
            users = await list_users(session, query=self.query)
        self.rows = [{"id": u.id, "email": u.email, "role": u.role, "blocked": "1" if u.blocked else "",
                      "created": u.created} for u in users]

    @rx.event
    async def load_admin_users(self):
        if await require_admin(self) is None:
            return rx.redirect(routes.SIGNIN)
        await self._reload()

    @rx.event
    async def set_query(self, value: str):
        if await require_admin(self) is None:
            return rx.redirect(routes.SIGNIN)
        self.query = value[:100]
        await self._reload()

    @rx.event
    async def toggle_block(self, user_id: str, blocked: bool):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.error = ""
        try:
            async with async_session() as session:
                await accounts.set_blocked(session, admin=admin, user_id=uuid.UUID(user_id), blocked=blocked)
        except (AccountError, ValueError) as exc:
            self.error = str(exc)
        await self._reload()


def _health_row(item: list) -> rx.Component:
    return rx.hstack(rx.text(item[0], weight="medium"), rx.spacer(),
                     rx.badge(item[1], color_scheme=rx.cond(item[1] == "ok", "green", "red")), width="100%")


@admin_page
def admin_overview_page() -> rx.Component:
    s = AdminOverviewState
    return rx.vstack(
        page_header("admin_title", "admin_subtitle"),
        stat_grid(
            stat_card("stat_users", s.users, "users"),
            stat_card("stat_assistants", s.assistants, "bot"),
            stat_card("stat_bots", s.bots_running, "send"),
            stat_card("stat_bots_error", s.bots_error, "triangle-alert"),
        ),
        card(rx.heading(t("health"), size="4", margin_bottom="8px"),
             rx.vstack(rx.foreach(s.health, _health_row), width="100%")),
        spacing="5",
        width="100%",
    )


def _user_row(row: dict) -> rx.Component:
    blocked = row["blocked"] != ""
    return rx.table.row(
        rx.table.cell(row["email"]),
        rx.table.cell(rx.badge(row["role"], color_scheme=rx.cond(row["role"] == "admin", "purple", "gray"))),
        rx.table.cell(rx.cond(blocked, rx.badge(t("blocked"), color_scheme="red"),
                              rx.badge(t("active"), color_scheme="green"))),
        rx.table.cell(row["created"]),
        rx.table.cell(
            rx.button(rx.cond(blocked, t("unblock"), t("block")), size="1", variant="soft",
                      color_scheme=rx.cond(blocked, "green", "red"),
                      on_click=AdminUsersState.toggle_block(row["id"], ~blocked))
        ),
    )


@admin_page
def admin_users_page() -> rx.Component:
    return rx.vstack(
        page_header("users_title", "admin_subtitle"),
        error_callout(AdminUsersState.error),
        card(
            rx.input(placeholder="email", value=AdminUsersState.query,
                     on_change=AdminUsersState.set_query.debounce(300), margin_bottom="12px", max_width="320px"),
            rx.box(
                rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell(t("email")), rx.table.column_header_cell(t("role")),
                        rx.table.column_header_cell(t("status")), rx.table.column_header_cell(t("created")),
                        rx.table.column_header_cell(t("actions")),
                    )),
                    rx.table.body(rx.foreach(AdminUsersState.rows, _user_row)),
                    width="100%",
                ),
                overflow_x="auto",
            ),
        ),
        width="100%",
        spacing="4",
    )
