"""Admin panel: platform counts and health (users: admin_users.py, bots: admin_bots.py, audit: admin_audit.py)."""

from __future__ import annotations

import reflex as rx

from chatai.db.session import async_session
from chatai.services.overview import platform_overview
from chatai.web import routes
from chatai.web.components.email_banner import mail_status_callout
from chatai.web.components.layout import admin_page, card, page_header, stat_card, stat_grid, t
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


def _health_row(item: list) -> rx.Component:
    name = rx.match(item[0], *[(part, t(f"first_hour_health_{part}")) for part in ("database", "redis", "bot_runner")],
                    item[0])
    status = rx.match(item[1], *[(word, t(f"first_hour_health_{word}")) for word in ("ok", "degraded", "down")],
                      item[1])
    return rx.hstack(rx.text(name, weight="medium"), rx.spacer(),
                     rx.badge(status, color_scheme=rx.cond(item[1] == "ok", "green", "red")), width="100%")


@admin_page
def admin_overview_page() -> rx.Component:
    s = AdminOverviewState
    return rx.vstack(
        page_header("admin_title", "admin_subtitle"),
        mail_status_callout(),
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
