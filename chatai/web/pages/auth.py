"""Sign-in and sign-up pages."""

from __future__ import annotations

import json
import logging

import redis.exceptions
import reflex as rx
import sqlalchemy.exc

from chatai.db.session import async_session
from chatai.services import accounts, mail, mailed_links, passwords
from chatai.services.accounts import AccountError
from chatai.web import routes, session_cookie
from chatai.web.components.layout import auth_shell, error_callout, t
from chatai.web.i18n import text
from chatai.web.state.auth import AuthState, start_browser_session

log = logging.getLogger(__name__)
FORGOT_PASSWORD = "/forgot-password"  # noqa: S105 - a page path
RESET_PASSWORD = mailed_links.RESET_PATH
MAIL_NOTICES = ("email_verified", "email_link_invalid", "password_reset")
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
    notice: str = ""  # after a mailed link (verified, link invalid) or a password reset

    @rx.event
    async def load_signin_notice(self):
        notice = str(self.router.url.query_parameters.get("notice", "") or "")
        key = f"mail_notice_{notice}"
        locale = (await self.get_state(AuthState)).locale
        self.notice = text(locale, key) if notice in MAIL_NOTICES else ""

    @rx.event
    async def handle_sign_in_submit(self, form: dict):
        auth = await self.get_state(AuthState)
        self.error = ""
        try:
            async with async_session() as session:
                token = await accounts.sign_in(session, email=str(form.get("email", "")),
                                               password=str(form.get("password", "")), client=auth.client(),
                                               user_agent=auth.user_agent())
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
    sent_to: str = ""  # set when the answer is "check your inbox" (email verification on)

    @rx.event
    async def handle_sign_up_submit(self, form: dict):
        auth = await self.get_state(AuthState)
        self.error = ""
        self.sent_to = ""
        try:
            async with async_session() as session:
                token = await accounts.sign_up(session, email=str(form.get("email", "")),
                                               password=str(form.get("password", "")), locale=auth.locale,
                                               client=auth.client(), user_agent=auth.user_agent(),
                                               time_zone=str(form.get("time_zone", ""))[:64])
        except AccountError as exc:
            self.error = _error_text(auth.locale, exc)
            return
        except OUTAGE_ERRORS:
            log.warning("sign-up failed: database or Redis unavailable", exc_info=True)
            self.error = text(auth.locale, "err_temporarily_unavailable")
            return
        if token is None:  # new or taken address alike: a link (or a notice) is in the mail
            self.sent_to = text(auth.locale, "mail_check_inbox", email=str(form.get("email", "")).strip()[:254])
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
    password = rx.vstack(
        rx.cond(SignInState.notice != "", rx.callout(SignInState.notice, icon="info", width="100%", id="notice")),
        _field("password", "password", "password", "current-password"),
        rx.link(t("mail_forgot_link"), href=FORGOT_PASSWORD, size="2", id="to-forgot"),
        spacing="2", width="100%",
    )
    return _auth_form(heading="welcome_back", error=SignInState.error,
                      password=password,
                      submit="sign_in", other_question="no_account", other_label="sign_up",
                      other_href=routes.SIGNUP, other_id="to-signup", on_submit=SignInState.handle_sign_in_submit)


def signup_page() -> rx.Component:
    return rx.cond(SignUpState.sent_to != "", _check_inbox(), _signup_form())


def _check_inbox() -> rx.Component:
    return auth_shell(rx.vstack(
        rx.heading(t("mail_check_inbox_title"), size="6"),
        rx.callout(SignUpState.sent_to, icon="mail", color_scheme="green", width="100%", id="check-inbox"),
        rx.link(t("mail_back_to_signin"), href=routes.SIGNIN, size="2"),
        spacing="4", width="100%",
    ))


# The browser's time zone goes with the sign-up form: the account's times start in the owner's own clock
# (an unknown or missing name falls back to the language's default, services/accounts.create_user).
_BROWSER_TIME_ZONE_JS = ("document.getElementById('signup-time-zone').value = "
                         "Intl.DateTimeFormat().resolvedOptions().timeZone || ''")


def _signup_form() -> rx.Component:
    time_zone = rx.el.input(type="hidden", name="time_zone", id="signup-time-zone",
                            on_mount=rx.call_script(_BROWSER_TIME_ZONE_JS))
    return _auth_form(heading="create_your_account", error=SignUpState.error,
                      password=rx.fragment(_field("password", "password", "password", "new-password",
                                                  "accounts_password_hint", rate_strength=True), time_zone),
                      submit="sign_up", other_question="have_account", other_label="sign_in",
                      other_href=routes.SIGNIN, other_id="to-signin", on_submit=SignUpState.handle_sign_up_submit)


# --- forgot / reset password (services/mailed_links.py request_password_reset, reset_password_with_token) ------


class ForgotPasswordState(rx.State):
    sent: str = ""
    error: str = ""
    mail_off: bool = False

    @rx.event
    def load_forgot_password(self):
        self.sent, self.error, self.mail_off = "", "", not mail.mail_enabled()

    @rx.event
    async def handle_forgot_submit(self, form: dict):
        auth = await self.get_state(AuthState)
        self.error = ""
        email = str(form.get("email", "")).strip()[:254]
        try:
            async with async_session() as session:
                await mailed_links.request_password_reset(session, email=email, client=auth.client())
        except AccountError as exc:
            self.error = _error_text(auth.locale, exc)
            return
        except OUTAGE_ERRORS:
            log.warning("password reset request failed: database or Redis unavailable", exc_info=True)
            self.error = text(auth.locale, "err_temporarily_unavailable")
            return
        # The same answer whether or not the address has an account.
        self.sent = text(auth.locale, "mail_forgot_sent", email=email)


class ResetPasswordState(rx.State):
    """The token arrives as an HttpOnly cookie set by /auth/reset (web/session_cookie.py) and is read from the
    WebSocket handshake at each event: never in the page's address or in a state var."""

    error: str = ""
    link_ok: bool = True

    def _token(self) -> str:
        return session_cookie.reset_token_for_sid(self.router.session.session_id)

    @rx.event
    async def load_reset_password(self):
        self.error = ""
        async with async_session() as session:
            self.link_ok = await mailed_links.reset_link_usable(session, token=self._token())
        if not self.link_ok:
            self.error = text((await self.get_state(AuthState)).locale, "err_mail_reset_link_invalid")

    @rx.event
    async def handle_reset_submit(self, form: dict):
        auth = await self.get_state(AuthState)
        self.error = ""
        try:
            async with async_session() as session:
                await mailed_links.reset_password_with_token(session, token=self._token(),
                                                         new_password=str(form.get("password", "")))
        except AccountError as exc:
            self.error = _error_text(auth.locale, exc)
            self.link_ok = exc.code != "mail_reset_link_invalid"
            return
        except OUTAGE_ERRORS:
            log.warning("password reset failed: database or Redis unavailable", exc_info=True)
            self.error = text(auth.locale, "err_temporarily_unavailable")
            return
        session_cookie.bind_reset(self.router.session.session_id, "")
        # Through the route that clears the (now used) token's cookie; it lands on sign-in with the notice.
        return rx.call_script(f"window.location.replace({json.dumps(session_cookie.AUTH_PREFIX + 'reset/done')})")


def forgot_password_page() -> rx.Component:
    form = rx.form(
        rx.vstack(
            rx.text(t("mail_forgot_intro"), size="2", color=rx.color("gray", 11)),
            error_callout(ForgotPasswordState.error),
            _field("email", "email", "email", "email"),
            rx.button(t("mail_forgot_submit"), type="submit", size="3", width="100%", id="submit"),
            spacing="4", width="100%",
        ),
        on_submit=ForgotPasswordState.handle_forgot_submit,
        reset_on_submit=False,
    )
    return auth_shell(rx.vstack(
        rx.heading(t("mail_forgot_title"), size="6"),
        rx.cond(ForgotPasswordState.mail_off,
                rx.callout(t("mail_forgot_off"), icon="info", width="100%", id="mail-off"),
                rx.cond(ForgotPasswordState.sent != "",
                        rx.callout(ForgotPasswordState.sent, icon="mail", color_scheme="green", width="100%",
                                   id="reset-sent"),
                        form)),
        rx.link(t("mail_back_to_signin"), href=routes.SIGNIN, size="2", id="to-signin"),
        spacing="4", width="100%",
    ))


def reset_password_page() -> rx.Component:
    form = rx.form(
        rx.vstack(
            _field("mail_reset_password", "password", "password", "new-password", "accounts_password_hint",
                   rate_strength=True),
            rx.button(t("mail_reset_submit"), type="submit", size="3", width="100%", id="submit"),
            spacing="4", width="100%",
        ),
        on_submit=ResetPasswordState.handle_reset_submit,
        reset_on_submit=False,
    )
    return auth_shell(rx.vstack(
        rx.heading(t("mail_reset_title"), size="6"),
        error_callout(ResetPasswordState.error),
        rx.cond(ResetPasswordState.link_ok, form,
                rx.link(t("mail_forgot_submit"), href=FORGOT_PASSWORD, size="2", id="to-forgot")),
        rx.link(t("mail_back_to_signin"), href=routes.SIGNIN, size="2", id="to-signin"),
        spacing="4", width="100%",
    ))
