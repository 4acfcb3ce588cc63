"""Account settings: interface language, password, and the account's signed-in sessions."""

from __future__ import annotations

import json
import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.formatting import format_time
from chatai.services import accounts
from chatai.services.accounts import AccountError
from chatai.team.roles import OPERATOR_ALERTS
from chatai.user_agents import describe_user_agent
from chatai.web import routes, session_cookie
from chatai.web.components.layout import (
    card,
    dashboard_page,
    error_callout,
    language_switch,
    page_header,
    success_callout,
    t,
)
from chatai.web.components.notification_prefs import notification_prefs_card
from chatai.web.components.role_gate import only_for
from chatai.web.components.telegram_alerts import telegram_alerts_card
from chatai.web.components.time_zone_setting import time_zone_card
from chatai.web.i18n import text
from chatai.web.pages.auth import PasswordStrengthState, password_strength_hint
from chatai.web.state.auth import AuthState, require_user, start_browser_session

PASSWORD_CHANGED_FLAG = "password_changed"  # noqa: S105 - a query flag, not a secret


def _device(locale: str, user_agent: str) -> str:
    """'Chrome on Windows' from the stored User-Agent (the address alone read "127.0.0.1" behind a proxy)."""
    browser, system = describe_user_agent(user_agent)
    if browser and system:
        return text(locale, "device_browser_on_system", browser=browser, system=system)
    return browser or system or text(locale, "device_unknown")


def session_row(view: accounts.SessionView, *, locale: str, time_zone: str) -> dict[str, str]:
    """Shown by id, browser, address and times on the owner's clock: the token (and its hash) never leave
    the server."""
    return {"id": str(view.id), "device": _device(locale, view.user_agent), "client": view.client,
            "last_seen": format_time(view.last_seen_at, time_zone), "started": format_time(view.created_at, time_zone),
            "current": "1" if view.is_current else ""}


class SettingsState(rx.State):
    error: str = ""
    message: str = ""
    sessions: list[dict[str, str]] = []
    sessions_message: str = ""

    @rx.event
    async def load_settings(self):
        """After a password change the page is reloaded through the cookie route (the session token
        changed); the flag in the address says to confirm it."""
        auth = await self.get_state(AuthState)
        self.error = self.sessions_message = ""
        changed = self.router.url.query_parameters.get(PASSWORD_CHANGED_FLAG)
        self.message = text(auth.locale, "password_changed") if changed else ""
        # The strength hint is shared with sign-up: it said "strong" under an empty field, rating the
        # password typed there.
        (await self.get_state(PasswordStrengthState)).strength = ""
        await self._load_sessions()

    async def _load_sessions(self) -> None:
        user = await require_user(self)
        if user is None:
            self.sessions = []
            return
        auth = await self.get_state(AuthState)
        async with async_session() as session:
            views = await accounts.list_sessions(session, user_id=user.id, current_token=auth.session_token)
        self.sessions = [session_row(v, locale=auth.locale, time_zone=user.time_zone) for v in views]

    @rx.event
    async def revoke_session(self, session_id: str):
        user = await require_user(self)
        if user is None:
            return rx.redirect(routes.SIGNIN)
        auth = await self.get_state(AuthState)
        if any(row["id"] == session_id and row["current"] for row in self.sessions):
            return AuthState.sign_out  # this browser: the ordinary sign-out also clears the cookie
        try:
            parsed = uuid.UUID(str(session_id))
            async with async_session() as session:
                await accounts.revoke_session(session, user_id=user.id, session_id=parsed)
        except (ValueError, AccountError):
            self.sessions_message = text(auth.locale, "err_not_found")
        else:
            self.sessions_message = text(auth.locale, "accounts_session_revoked")
        await self._load_sessions()

    @rx.event
    async def sign_out_everywhere(self):
        user = await require_user(self)
        if user is None:
            return rx.redirect(routes.SIGNIN)
        async with async_session() as session:
            await accounts.sign_out_everywhere(session, user_id=user.id)
        session_cookie.forget(self.router.session.session_id)
        self.sessions = []
        # The sign-out route clears this browser's HttpOnly cookie, which no page script can.
        return rx.call_script(f"window.location.replace({json.dumps(session_cookie.AUTH_PREFIX + 'signout')})")

    @rx.event
    async def handle_password_submit(self, form: dict):
        user = await require_user(self)
        if user is None:
            return rx.redirect(routes.SIGNIN)
        auth = await self.get_state(AuthState)
        self.error = self.message = ""
        if form.get("new_password") != form.get("repeat_password"):
            self.error = text(auth.locale, "err_passwords_differ")
            return
        try:
            async with async_session() as session:
                token = await accounts.change_password(
                    session, user_id=user.id, current_password=str(form.get("current_password", "")),
                    new_password=str(form.get("new_password", "")))
        except AccountError as exc:
            self.error = text(auth.locale, f"err_{exc.code}", n=exc.retry_after)
            return
        # Every session ended, this one too: the new token reaches the browser as an HttpOnly cookie.
        return await start_browser_session(token, f"{routes.SETTINGS}?{PASSWORD_CHANGED_FLAG}=1")


def _password_input(name: str, key: str, rate_strength: bool = False) -> rx.Component:
    if not rate_strength:
        return rx.vstack(rx.text(t(key), size="2", weight="medium"),
                         rx.input(name=name, id=name, type="password", required=True, width="100%"),
                         spacing="1", width="100%")
    return rx.vstack(rx.text(t(key), size="2", weight="medium"),
                     rx.input(name=name, id=name, type="password", required=True, width="100%",
                              auto_complete="new-password",
                              on_change=PasswordStrengthState.handle_password_typed.debounce(250)),
                     rx.text(t("accounts_password_hint"), size="1", color=rx.color("gray", 10)),
                     password_strength_hint(),
                     spacing="1", width="100%")


def _session_item(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(
            rx.hstack(rx.text(row["device"], class_name="session-device"),
                      rx.cond(row["current"] != "", rx.badge(t("accounts_session_this_device"), color_scheme="grass")),
                      spacing="2", align="center", wrap="wrap"),
            rx.text(rx.cond(row["client"] != "", row["client"], t("accounts_session_unknown_client")), size="1",
                    color=rx.color("gray", 11), class_name="session-address"),
            spacing="0")),
        rx.table.cell(row["last_seen"]),
        rx.table.cell(row["started"]),
        rx.table.cell(rx.cond(row["current"] == "",
                              rx.button(t("accounts_session_revoke"), size="1", variant="soft", color_scheme="red",
                                        on_click=SettingsState.revoke_session(row["id"])))),
    )


def _sessions_card() -> rx.Component:
    return card(rx.vstack(
        rx.heading(t("accounts_sessions_title"), size="4"),
        rx.text(t("accounts_sessions_subtitle"), size="2", color=rx.color("gray", 11)),
        success_callout(SettingsState.sessions_message),
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell(t("accounts_session_client")),
                rx.table.column_header_cell(t("accounts_session_last_seen")),
                rx.table.column_header_cell(t("accounts_session_started")),
                rx.table.column_header_cell(""),
            )),
            rx.table.body(rx.foreach(SettingsState.sessions, _session_item)),
            width="100%", id="sessions-table",
        ),
        rx.flex(
            rx.button(t("accounts_sign_out_everywhere"), color_scheme="red", variant="outline",
                      on_click=SettingsState.sign_out_everywhere, id="sign-out-everywhere"),
            # Under the button on a phone: beside it, the hint was squeezed into a column a word wide.
            rx.text(t("accounts_sign_out_everywhere_hint"), size="1", color=rx.color("gray", 10),
                    id="sign-out-everywhere-hint"),
            direction=rx.breakpoints(initial="column", sm="row"), align=rx.breakpoints(initial="start", sm="center"),
            gap="8px 12px",
        ),
        spacing="3", width="100%",
    ))


@dashboard_page
def settings_page() -> rx.Component:
    return rx.vstack(
        page_header("settings_title", "settings_subtitle"),
        card(rx.hstack(rx.text(t("ui_language"), weight="medium"), rx.spacer(), language_switch(),
                       align="center")),
        card(
            rx.form(
                rx.vstack(
                    rx.heading(t("change_password"), size="4"),
                    error_callout(SettingsState.error),
                    success_callout(SettingsState.message),
                    _password_input("current_password", "current_password"),
                    _password_input("new_password", "new_password", rate_strength=True),
                    _password_input("repeat_password", "repeat_password"),
                    rx.button(t("save"), type="submit"),
                    spacing="3",
                    max_width="420px",
                ),
                on_submit=SettingsState.handle_password_submit,
                reset_on_submit=True,
            )
        ),
        time_zone_card(),
        _sessions_card(),
        notification_prefs_card(),
        # issue 22: alerts and answers in the team's own Telegram; linking people is the owner's or a manager's
        only_for(OPERATOR_ALERTS, telegram_alerts_card()),
        spacing="5",
        width="100%",
    )
