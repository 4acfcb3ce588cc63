"""Admin panel: database, Redis, bot runners, the ingestion queue, disk use and the last errors, refreshed
every few seconds while the tab is open (a background event that stops when the tab closes or leaves)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from chatai.db.session import async_session
from chatai.formatting import format_size, format_time, local_time
from chatai.services import admin_system
from chatai.services.accounts import CurrentUser
from chatai.settings import get_settings
from chatai.web import routes
from chatai.web.components.layout import admin_page, card, page_header, stat_card, stat_grid, t
from chatai.web.i18n import text
from chatai.web.state.auth import AuthState, client_connected, require_admin

POLL_SECONDS = 5.0
MAX_POLLS = 720  # an hour; reopening or reloading the page starts a new watch
HEALTH_PARTS = ("database", "redis", "bot_runner")
ERROR_KINDS = ("ingest", "bot", "send", "update")


def _health_detail(locale: str, name: str, part: dict[str, Any]) -> str:
    if part.get("error"):
        return str(part["error"])
    if name == "bot_runner" and "runners" in part:
        return text(locale, "admin_system_runner_detail").format(
            runners=part.get("runners", 0), running=part.get("bots_running", 0), wanted=part.get("bots_wanted", 0),
            errors=part.get("bots_error", 0), last_poll=part.get("last_poll") or "—")
    if name == "database" and part.get("revision"):
        return text(locale, "admin_system_db_detail").format(revision=part["revision"])
    return str(part.get("detail", ""))


async def _snapshot(admin: CurrentUser, locale: str) -> dict[str, Any]:
    """Everything the page shows, read without holding the state lock (health checks may take seconds)."""
    from chatai.health import check_health

    report, _ = await check_health()
    async with async_session() as session:
        queue = await admin_system.ingest_queue(session, admin=admin)
        errors = await admin_system.last_errors(session, admin=admin)
    disk = await admin_system.disk_use(admin=admin, folder=get_settings().data_dir)
    return {
        "health": [{"name": name, "status": str(part.get("status", "")),
                    "latency": f"{part.get('latency_ms', 0)} ms", "detail": _health_detail(locale, name, part)}
                   for name, part in report["components"].items()],
        "queue": {"waiting": queue.waiting, "processing": queue.processing, "failed": queue.failed},
        "disk": {"data": format_size(disk.data_bytes, locale), "free": format_size(disk.free_bytes, locale),
                 "total": format_size(disk.total_bytes, locale)},
        "errors": [{"at": format_time(e.at, admin.time_zone, seconds=True), "kind": e.kind, "subject": e.subject,
                    "detail": e.detail} for e in errors],
        "updated_at": local_time(datetime.now(UTC), admin.time_zone).strftime("%H:%M:%S"),
    }


class AdminSystemState(rx.State):
    health: list[dict[str, str]] = []
    queue: dict[str, int] = {}
    disk: dict[str, str] = {}
    errors: list[dict[str, str]] = []
    updated_at: str = ""
    watching: bool = False

    def _apply(self, snapshot: dict[str, Any]) -> None:
        self.health, self.queue, self.disk = snapshot["health"], snapshot["queue"], snapshot["disk"]
        self.errors, self.updated_at = snapshot["errors"], snapshot["updated_at"]

    @rx.event
    async def load_admin_system(self):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self._apply(await _snapshot(admin, (await self.get_state(AuthState)).locale))
        return AdminSystemState.watch_system

    @rx.event(background=True)
    async def watch_system(self):
        async with self:
            admin = await require_admin(self)
            if admin is None:
                return rx.redirect(routes.SIGNIN)
            if self.watching:
                return None
            self.watching = True
        try:
            for _ in range(MAX_POLLS):
                await asyncio.sleep(POLL_SECONDS)
                async with self:
                    # Stop when the tab closed or moved to another page, or the user is no longer an admin.
                    if self.router.url.path.rstrip("/") != routes.ADMIN_SYSTEM or not client_connected(self):
                        return None
                    admin = await require_admin(self)
                    if admin is None:
                        return None
                    locale = (await self.get_state(AuthState)).locale
                snapshot = await _snapshot(admin, locale)
                async with self:
                    self._apply(snapshot)
        finally:
            async with self:
                self.watching = False
        return None


def _health_row(row: dict) -> rx.Component:
    name = rx.match(row["name"], *[(p, t(f"first_hour_health_{p}")) for p in HEALTH_PARTS], row["name"])
    status = rx.match(row["status"], *[(w, t(f"first_hour_health_{w}")) for w in ("ok", "degraded", "down")],
                      row["status"])
    color = rx.match(row["status"], ("ok", "green"), ("degraded", "amber"), "red")
    return rx.table.row(rx.table.cell(rx.text(name, weight="medium")),
                        rx.table.cell(rx.badge(status, color_scheme=color)),
                        rx.table.cell(row["latency"]), rx.table.cell(rx.text(row["detail"], size="2")))


def _error_row(row: dict) -> rx.Component:
    kind = rx.match(row["kind"], *[(k, t(f"admin_system_kind_{k}")) for k in ERROR_KINDS], row["kind"])
    return rx.table.row(rx.table.cell(row["at"], white_space="nowrap"),
                        rx.table.cell(rx.badge(kind, color_scheme="red")),
                        rx.table.cell(row["subject"]), rx.table.cell(rx.text(row["detail"], size="2")))


def _header(*keys: str) -> rx.Component:
    return rx.table.header(rx.table.row(*[rx.table.column_header_cell(t(k)) for k in keys]))


@admin_page
def admin_system_page() -> rx.Component:
    s = AdminSystemState
    return rx.vstack(
        page_header("admin_system_title", "admin_system_subtitle",
                    rx.text(t("admin_system_updated"), " ", s.updated_at, size="1", color=rx.color("gray", 11))),
        card(rx.box(rx.table.root(_header("admin_system_component", "admin_system_status", "admin_system_latency",
                                          "admin_system_detail"),
                                  rx.table.body(rx.foreach(s.health, _health_row)), width="100%"), overflow_x="auto")),
        stat_grid(
            stat_card("admin_system_queue_waiting", s.queue["waiting"], "clock"),
            stat_card("admin_system_queue_processing", s.queue["processing"], "loader"),
            stat_card("admin_system_queue_failed", s.queue["failed"], "triangle-alert"),
            stat_card("admin_system_disk_data", s.disk["data"], "hard-drive"),
        ),
        rx.text(t("admin_system_disk_free"), " ", s.disk["free"], " / ", s.disk["total"], size="2",
                color=rx.color("gray", 11)),
        card(rx.heading(t("admin_system_errors_title"), size="4", margin_bottom="8px"),
             rx.cond(s.errors.length() > 0,
                     rx.box(rx.table.root(_header("admin_system_when", "admin_system_kind", "admin_system_subject",
                                                  "admin_system_detail"),
                                          rx.table.body(rx.foreach(s.errors, _error_row)), width="100%"),
                            overflow_x="auto"),
                     rx.text(t("admin_system_no_errors"), color=rx.color("gray", 11)))),
        width="100%",
        spacing="4",
    )
