"""The settings page's "Get alerts in Telegram" card (issue 22 part 1): a one-time link to one of the
owner's bots, the linked Telegram accounts (with their names, unlink), and quiet hours for the alerts.

Thin: every handler asks the access check (owner or manager of the selected business: OPERATOR_ALERTS) and
passes the business's id to services/operator_links.py, which refuses another business's bot or account.
Telegram names are people's text: shown as text, never markup."""

from __future__ import annotations

import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.services import bots, operator_links
from chatai.services.operator_links import OperatorLinkError
from chatai.team.roles import OPERATOR_ALERTS
from chatai.web.components.layout import card, error_callout, success_callout, t
from chatai.web.i18n import text
from chatai.web.state.access import refusal, require_access
from chatai.web.state.auth import AuthState


class TelegramAlertsState(rx.State):
    bots: list[dict[str, str]] = []  # {"id", "username"} of the owner's bots
    selected_bot: str = ""
    link: str = ""
    operators: list[dict[str, str]] = []  # {"id", "name", "username", "bot", "linked"}
    quiet_start: str = ""
    quiet_end: str = ""
    timezone: str = "UTC"
    error: str = ""
    message: str = ""

    @rx.event
    async def load_telegram_alerts(self):
        access = await require_access(self, OPERATOR_ALERTS)
        self.link = self.error = self.message = ""
        if access is None:  # on the (personal) settings page: an operator just gets no card, not a redirect
            self.bots, self.operators = [], []
            return
        business = access.business_id
        async with async_session() as session:
            views = await bots.list_bots(session, owner_id=business)
            quiet = await operator_links.get_quiet_hours(session, owner_id=business)
        self.bots = [{"id": str(v.id), "username": f"@{v.username}" if v.username else str(v.id)} for v in views]
        if self.selected_bot not in {b["id"] for b in self.bots}:
            self.selected_bot = self.bots[0]["id"] if self.bots else ""
        self.quiet_start, self.quiet_end = quiet.as_text()
        self.timezone = quiet.timezone
        await self._load_operators(business)

    async def _load_operators(self, owner_id: uuid.UUID) -> None:
        async with async_session() as session:
            rows = await operator_links.list_operators(session, owner_id=owner_id)
        self.operators = [{"id": str(r.id), "name": r.name, "username": f"@{r.username}" if r.username else "",
                           "bot": f"@{r.bot_username}", "linked": r.linked_at.strftime("%Y-%m-%d %H:%M UTC")}
                          for r in rows]

    async def _fail(self, code: str) -> None:
        self.error = text((await self.get_state(AuthState)).locale, f"operators_err_{code}")

    @rx.event
    def set_selected_bot(self, bot_id: str):
        self.selected_bot = str(bot_id)
        self.link = ""

    @rx.event
    async def handle_get_link(self):
        access = await require_access(self, OPERATOR_ALERTS)
        if access is None:
            return await refusal(self)
        self.error = self.message = self.link = ""
        try:
            async with async_session() as session:
                made = await operator_links.create_link_code(session, owner_id=access.business_id,
                                                             bot_id=uuid.UUID(self.selected_bot))
        except ValueError:
            await self._fail("not_found")
            return
        except OperatorLinkError as exc:
            await self._fail(exc.code)
            return
        self.link = made.link

    @rx.event
    async def handle_unlink(self, operator_id: str):
        access = await require_access(self, OPERATOR_ALERTS)
        if access is None:
            return await refusal(self)
        self.error = self.message = ""
        try:
            async with async_session() as session:
                await operator_links.unlink(session, owner_id=access.business_id,
                                            operator_id=uuid.UUID(str(operator_id)))
        except ValueError:
            await self._fail("not_found")
        except OperatorLinkError as exc:
            await self._fail(exc.code)
        else:
            self.message = text((await self.get_state(AuthState)).locale, "operators_unlinked")
        await self._load_operators(access.business_id)

    @rx.event
    async def handle_quiet_submit(self, form: dict):
        access = await require_access(self, OPERATOR_ALERTS)
        if access is None:
            return await refusal(self)
        self.error = self.message = ""
        try:
            async with async_session() as session:
                quiet = await operator_links.set_quiet_hours(
                    session, owner_id=access.business_id, start=str(form.get("quiet_start", "")),
                    end=str(form.get("quiet_end", "")), timezone=str(form.get("timezone", "") or "UTC"))
        except OperatorLinkError as exc:
            await self._fail(exc.code)
            return
        self.quiet_start, self.quiet_end = quiet.as_text()
        self.timezone = quiet.timezone
        self.message = text((await self.get_state(AuthState)).locale, "operators_saved")


def _operator_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row["name"], " ", rx.text.span(row["username"], color=rx.color("gray", 10)))),
        rx.table.cell(row["bot"]),
        rx.table.cell(row["linked"]),
        rx.table.cell(rx.button(t("operators_unlink"), size="1", variant="soft", color_scheme="red",
                                on_click=TelegramAlertsState.handle_unlink(row["id"]))),
    )


def _link_part() -> rx.Component:
    return rx.cond(
        TelegramAlertsState.bots.length() > 0,
        rx.vstack(
            rx.hstack(
                rx.text(t("operators_bot"), size="2", weight="medium"),
                rx.select.root(
                    rx.select.trigger(id="operators-bot"),
                    rx.select.content(rx.foreach(TelegramAlertsState.bots,
                                                 lambda b: rx.select.item(b["username"], value=b["id"]))),
                    value=TelegramAlertsState.selected_bot, on_change=TelegramAlertsState.set_selected_bot),
                rx.button(t("operators_get_link"), on_click=TelegramAlertsState.handle_get_link,
                          id="operators-get-link"),
                spacing="3", align="center", wrap="wrap"),
            rx.cond(TelegramAlertsState.link != "", rx.vstack(
                rx.link(TelegramAlertsState.link, href=TelegramAlertsState.link, is_external=True,
                        id="operators-link", word_break="break-all"),
                rx.text(t("operators_link_hint"), size="1", color=rx.color("gray", 10)),
                spacing="1")),
            spacing="2", width="100%"),
        rx.callout(t("operators_no_bots"), icon="info", width="100%"),
    )


def _quiet_hours_form() -> rx.Component:
    return rx.form(rx.vstack(
        rx.heading(t("operators_quiet_title"), size="3"),
        rx.text(t("operators_quiet_hint"), size="1", color=rx.color("gray", 10)),
        rx.hstack(
            rx.vstack(rx.text(t("operators_quiet_from"), size="2"),
                      rx.input(name="quiet_start", default_value=TelegramAlertsState.quiet_start,
                               placeholder="22:00", key=TelegramAlertsState.quiet_start, width="7em")),
            rx.vstack(rx.text(t("operators_quiet_to"), size="2"),
                      rx.input(name="quiet_end", default_value=TelegramAlertsState.quiet_end, placeholder="07:00",
                               key=TelegramAlertsState.quiet_end, width="7em")),
            rx.vstack(rx.text(t("operators_timezone"), size="2"),
                      rx.input(name="timezone", default_value=TelegramAlertsState.timezone,
                               key=TelegramAlertsState.timezone, width="14em")),
            spacing="3", wrap="wrap", align="end"),
        rx.button(t("operators_save"), type="submit", id="operators-quiet-save"),
        spacing="2"), on_submit=TelegramAlertsState.handle_quiet_submit)


def telegram_alerts_card() -> rx.Component:
    return card(rx.vstack(
        rx.heading(t("operators_title"), size="4"),
        rx.text(t("operators_subtitle"), size="2", color=rx.color("gray", 11)),
        error_callout(TelegramAlertsState.error, id="operators-error"),
        success_callout(TelegramAlertsState.message),
        _link_part(),
        rx.heading(t("operators_linked"), size="3"),
        rx.cond(
            TelegramAlertsState.operators.length() > 0,
            rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell(t("operators_col_name")),
                    rx.table.column_header_cell(t("operators_col_bot")),
                    rx.table.column_header_cell(t("operators_col_linked")),
                    rx.table.column_header_cell(""),
                )),
                rx.table.body(rx.foreach(TelegramAlertsState.operators, _operator_row)),
                width="100%", id="operators-table"),
            rx.text(t("operators_none"), size="2", color=rx.color("gray", 10)),
        ),
        _quiet_hours_form(),
        spacing="3", width="100%",
        on_mount=TelegramAlertsState.load_telegram_alerts,
    ))
