"""Account settings: interface language and password."""

from __future__ import annotations

import reflex as rx

from chatai.db.session import async_session
from chatai.services import accounts
from chatai.services.accounts import AccountError
from chatai.web import routes
from chatai.web.components.layout import (
    card,
    dashboard_page,
    error_callout,
    language_switch,
    page_header,
    success_callout,
    t,
)
from chatai.web.i18n import text
from chatai.web.state.auth import AuthState, require_user, start_browser_session

PASSWORD_CHANGED_FLAG = "password_changed"  # noqa: S105 - a query flag, not a secret


class SettingsState(rx.State):
    error: str = ""
    message: str = ""

    @rx.event
    async def load_settings(self):
        """After a password change the page is reloaded through the cookie route (the session token
        changed); the flag in the address says to confirm it."""
        auth = await self.get_state(AuthState)
        self.error = ""
        changed = self.router.url.query_parameters.get(PASSWORD_CHANGED_FLAG)
        self.message = text(auth.locale, "password_changed") if changed else ""

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
            self.error = text(auth.locale, f"err_{exc.code}")
            return
        # Every session ended, this one too: the new token reaches the browser as an HttpOnly cookie.
        return await start_browser_session(token, f"{routes.SETTINGS}?{PASSWORD_CHANGED_FLAG}=1")


def _password_input(name: str, key: str) -> rx.Component:
    return rx.vstack(rx.text(t(key), size="2", weight="medium"),
                     rx.input(name=name, id=name, type="password", required=True, width="100%"),
                     spacing="1", width="100%")


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
                    _password_input("new_password", "new_password"),
                    _password_input("repeat_password", "repeat_password"),
                    rx.button(t("save"), type="submit"),
                    spacing="3",
                    max_width="420px",
                ),
                on_submit=SettingsState.handle_password_submit,
                reset_on_submit=True,
            )
        ),
        spacing="5",
        width="100%",
    )
