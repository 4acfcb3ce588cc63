"""Admin panel: the audit log, filtered by actor, target, kind and period, pageable and exportable as CSV."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import reflex as rx

from chatai.db.session import async_session
from chatai.formatting import format_time, is_time_zone, local_time
from chatai.services import audit
from chatai.web import routes
from chatai.web.components.layout import admin_page, card, error_callout, page_header, t
from chatai.web.i18n import text
from chatai.web.state.auth import AuthState, require_admin, tab_time_zone

PAGE_SIZE = 100


def _day(value: str, time_zone: str) -> datetime | None:
    """The start of a typed day on the admin's clock (the times listed are on it too)."""
    value = value.strip()
    return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=ZoneInfo(time_zone)) if value else None


class AdminAuditState(rx.State):
    rows: list[dict[str, str]] = []
    actor: str = ""
    target: str = ""
    kind: str = "all"
    since: str = ""
    until: str = ""
    more: bool = False
    error: str = ""

    def _filter(self, time_zone: str) -> audit.AuditFilter:
        """Raises ValueError on a badly written date; `until` includes the whole day."""
        until = _day(self.until, time_zone)
        return audit.AuditFilter(actor=self.actor, target=self.target, kind="" if self.kind == "all" else self.kind,
                                 since=_day(self.since, time_zone), until=until + timedelta(days=1) if until else None)

    def _shown(self, entries: list[audit.AuditRow], time_zone: str) -> list[dict[str, str]]:
        return [{"id": str(r.id), "at": r.created_at.isoformat(),
                 "when": format_time(r.created_at, time_zone, seconds=True),
                 "actor": r.actor_email or "—", "action": r.action, "target": f"{r.target_type} {r.target_id}".strip(),
                 "client": r.client, "details": r.details_text()[:500]} for r in entries]

    async def _search(self, *, older: bool = False) -> None:
        self.error = ""
        time_zone = await tab_time_zone(self)
        try:
            where = self._filter(time_zone if is_time_zone(time_zone) else "UTC")
        except ValueError:
            self.error = text((await self.get_state(AuthState)).locale, "adm_err_date")
            return
        before = None
        if older and self.rows:
            last = self.rows[-1]
            before = (datetime.fromisoformat(last["at"]), uuid.UUID(last["id"]))
        async with async_session() as session:
            entries = await audit.search(session, where=where, limit=PAGE_SIZE + 1, before=before)
        self.more = len(entries) > PAGE_SIZE
        shown = self._shown(entries[:PAGE_SIZE], time_zone)
        self.rows = [*self.rows, *shown] if older else shown

    @rx.event
    async def load_admin_audit(self):
        if await require_admin(self) is None:
            return rx.redirect(routes.SIGNIN)
        await self._search()

    @rx.event
    async def handle_filter_submit(self, form: dict):
        if await require_admin(self) is None:
            return rx.redirect(routes.SIGNIN)
        self.actor = str(form.get("actor", ""))[:254]
        self.target = str(form.get("target", ""))[:64]
        kind = str(form.get("kind", "") or self.kind)
        self.kind = kind if kind in audit.KINDS else "all"
        self.since = str(form.get("since", ""))[:10]
        self.until = str(form.get("until", ""))[:10]
        await self._search()

    @rx.event
    async def set_kind(self, value: str):
        if await require_admin(self) is None:
            return rx.redirect(routes.SIGNIN)
        self.kind = value if value in audit.KINDS else "all"
        await self._search()

    @rx.event
    async def load_older(self):
        if await require_admin(self) is None:
            return rx.redirect(routes.SIGNIN)
        await self._search(older=True)

    @rx.event
    async def export_csv(self):
        if await require_admin(self) is None:
            return rx.redirect(routes.SIGNIN)
        time_zone = await tab_time_zone(self)
        time_zone = time_zone if is_time_zone(time_zone) else "UTC"
        try:
            where = self._filter(time_zone)
        except ValueError:
            self.error = text((await self.get_state(AuthState)).locale, "adm_err_date")
            return None
        async with async_session() as session:
            data = await audit.export_csv(session, where=where, time_zone=time_zone)
        now = local_time(datetime.now(ZoneInfo("UTC")), time_zone)
        return rx.download(data=data, filename=f"chatai-audit-{now:%Y%m%d-%H%M}.csv")


def _row(row: dict) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["when"], white_space="nowrap"),
        rx.table.cell(row["actor"]),
        rx.table.cell(rx.code(row["action"])),
        rx.table.cell(rx.text(row["target"], size="1")),
        rx.table.cell(rx.text(row["client"], size="1")),
        rx.table.cell(rx.text(row["details"], size="1", word_break="break-all")),
    )


def _filters() -> rx.Component:
    s = AdminAuditState

    def field(key: str, name: str, value: rx.Var, **props) -> rx.Component:
        return rx.vstack(rx.text(t(key), size="1", as_="label", html_for=f"audit-{name}"),
                         rx.input(name=name, id=f"audit-{name}", default_value=value, **props), spacing="1")

    return rx.form(
        rx.flex(
            field("adm_audit_actor", "actor", s.actor, width="200px"),
            field("adm_audit_target", "target", s.target, width="200px"),
            rx.vstack(rx.text(t("adm_audit_kind"), size="1"),
                      rx.select.root(
                          rx.select.trigger(aria_label=t("adm_audit_kind")),
                          rx.select.content(rx.select.item(t("adm_audit_kind_all"), value="all"),
                                            *[rx.select.item(t(f"adm_audit_kind_{k}"), value=k) for k in audit.KINDS]),
                          value=s.kind, on_change=s.set_kind),
                      spacing="1"),
            field("adm_audit_from", "since", s.since, width="130px", placeholder="2026-11-01"),
            field("adm_audit_to", "until", s.until, width="130px", placeholder="2026-11-30"),
            rx.button(t("adm_audit_apply"), type="submit"),
            rx.button(t("adm_audit_export"), type="button", variant="soft", on_click=s.export_csv, id="audit-export"),
            spacing="3", align="end", wrap="wrap",
        ),
        on_submit=s.handle_filter_submit,
    )


@admin_page
def admin_audit_page() -> rx.Component:
    s = AdminAuditState
    return rx.vstack(
        page_header("adm_audit_title", "adm_audit_subtitle"),
        error_callout(s.error),
        card(
            _filters(),
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell(t("adm_when")), rx.table.column_header_cell(t("adm_audit_actor")),
                    rx.table.column_header_cell(t("adm_audit_action")),
                    rx.table.column_header_cell(t("adm_audit_target")),
                    rx.table.column_header_cell(t("adm_audit_client")),
                    rx.table.column_header_cell(t("adm_audit_details")))),
                rx.table.body(rx.foreach(s.rows, _row)), width="100%"), overflow_x="auto", margin_top="16px"),
            rx.cond(s.rows.length() == 0, rx.text(t("adm_audit_empty"), color=rx.color("gray", 10)), rx.fragment()),
            rx.cond(s.more, rx.button(t("adm_audit_more"), variant="soft", on_click=s.load_older, margin_top="12px"),
                    rx.fragment()),
        ),
        width="100%",
        spacing="4",
    )
