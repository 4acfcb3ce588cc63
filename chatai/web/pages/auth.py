"""Sign-in and sign-up pages."""

from __future__ import annotations

import logging

import redis.exceptions
import reflex as rx
import sqlalchemy.exc

from chatai.db.session import async_session
from chatai.services import accounts, passwords
from chatai.services.accounts import AccountError
from chatai.web import routes
from chatai.web.components.layout import auth_shell, error_callout, t
from chatai.web.i18n import text
from chatai.web.state.auth import AuthState, start_browser_session

log = logging.getLogger(__name__)
# A dependency being down is not the user's fault and not a "wrong password": say so.
OUTAGE_ERRORS = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, redis.exceptions.ConnectionError,
                 redis.exceptions.TimeoutError, OSError)


def _error_text(locale: str, exc: AccountError) -> str:
    return text(locale, f"err_{exc.code}", n=exc.retry_after) if exc.retry_after \
        else text(locale, f"err_{exc.code}")


class PasswordStrengthState(rx.State):
    """The weak / fair / strong hint under a new-password field. Only the level is kept: the password
    itself never becomes a state var (state is persisted by Reflex)."""

    strength: str = ""

    @rx.event
    def handle_password_typed(self, value: str):
        self.strength = passwords.strength(str(value)[: passwords.MAX_LENGTH + 1])


_STRENGTH_COLORS = {"weak": "red", "fair": "amber", "strong": "grass"}


def password_strength_hint() -> rx.Component:
    level = PasswordStrengthState.strength
    return rx.cond(
        level != "",
        rx.hstack(
            rx.text(t("accounts_strength"), size="1", color=rx.color("gray", 10)),
            rx.match(level, *[(name, rx.text(t(f"accounts_strength_{name}"), size="1", weight="medium",
                                             color=rx.color(color, 11), id="password-strength"))
                              for name, color in _STRENGTH_COLORS.items()], rx.fragment()),
            spacing="1",
        ),
    )


class SignInState(rx.State):
    error: str = ""

    @rx.event
    async def handle_sign_in_submit(self, form: dict):
        auth = await self.get_state(AuthState)
        self.error = ""
        try:
            async with async_session() as session:
                token = await accounts.sign_in(session, email=str(form.get("email", "")),
                                               password=str(form.get("password", "")), client=auth.client())
        except AccountError as exc:
            self.error = _error_text(auth.locale, exc)
            return
        except OUTAGE_ERRORS:
            log.warning("sign-in failed: database or Redis unavailable", exc_info=True)
            self.error = text(auth.locale, "err_temporarily_unavailable")
            return
        async with async_session() as session:
            user = await accounts.user_for_token(session, token)
        return await start_browser_session(token, routes.ADMIN if user and user.is_admin else routes.OVERVIEW)

class SignUpState(rx.State):
    error: str = ""

    @rx.event
    async def handle_sign_up_submit(self, form: dict):
        auth = await self.get_state(AuthState)
        self.error = ""
        try:
            async with async_session() as session:
                token = await accounts.sign_up(session, email=str(form.get("email", "")),
                                               password=str(form.get("password", "")), locale=auth.locale,
                                               client=auth.client())
        except AccountError as exc:
            self.error = _error_text(auth.locale, exc)
            return
        except OUTAGE_ERRORS:
            log.warning("sign-up failed: database or Redis unavailable", exc_info=True)
            self.error = text(auth.locale, "err_temporarily_unavailable")
            return
        return await start_browser_session(token, routes.OVERVIEW)

def _field(label_key: str, name: str, type_: str, autocomplete: str, hint_key: str = "",
           rate_strength: bool = False) -> rx.Component:
    extra = {"on_change": PasswordStrengthState.handle_password_typed.debounce(250)} if rate_strength else {}
    children = [
        rx.text(t(label_key), as_="label", size="2", weight="medium", html_for=name),
        rx.input(name=name, id=name, type=type_, required=True, size="3", width="100%",
                 auto_complete=autocomplete, **extra),
    ]
    if hint_key:
        children.append(rx.text(t(hint_key), size="1", color=rx.color("gray", 10)))
    if rate_strength:
        children.append(password_strength_hint())
    return rx.vstack(*children, spacing="1", width="100%")


def _auth_form(*, heading: str, error: rx.Var, password: rx.Component, submit: str, other_question: str,
               other_label: str, other_href: str, other_id: str, on_submit) -> rx.Component:
    """The sign-in and sign-up cards differ only in their words, password field and handler."""
    return auth_shell(
        rx.form(
            rx.vstack(
                rx.heading(t(heading), size="6"),
                error_callout(error),
                _field("email", "email", "email", "email"),
                password,
                rx.button(t(submit), type="submit", size="3", width="100%", id="submit"),
                rx.hstack(rx.text(t(other_question), size="2", color=rx.color("gray", 11)),
                          rx.link(t(other_label), href=other_href, size="2", id=other_id), spacing="2"),
                spacing="4",
                width="100%",
            ),
            on_submit=on_submit,
            reset_on_submit=False,
        )
    )


def signin_page() -> rx.Component:
    return _auth_form(heading="welcome_back", error=SignInState.error,
                      password=_field("password", "password", "password", "current-password"),
                      submit="sign_in", other_question="no_account", other_label="sign_up",
                      other_href=routes.SIGNUP, other_id="to-signup", on_submit=SignInState.handle_sign_in_submit)


def signup_page() -> rx.Component:
    return _auth_form(heading="create_your_account", error=SignUpState.error,
                      password=_field("password", "password", "password", "new-password",
                                      "accounts_password_hint", rate_strength=True),
                      submit="sign_up", other_question="have_account", other_label="sign_in",
                      other_href=routes.SIGNIN, other_id="to-signin", on_submit=SignUpState.handle_sign_up_submit)
