"""The invitation page (/invite, reached through the mailed /auth/invite?token=... link, which moves the
token into a cookie): who invites whom, with which role; a signed-in person with the invited address joins
with one click, a visitor signs in or creates the account with that address and joins. After joining, the
invited business becomes the selected one (chatai/web/state/access.py)."""

from __future__ import annotations

import logging

import reflex as rx

from chatai.db.session import async_session
from chatai.services.account_errors import AccountError
from chatai.team import invitations
from chatai.team.members import TeamError
from chatai.web import routes, session_cookie
from chatai.web.components.layout import auth_shell, error_callout, t
from chatai.web.i18n import text
from chatai.web.pages.auth import OUTAGE_ERRORS, _error_text
from chatai.web.state.access import BusinessState
from chatai.web.state.auth import AuthState, start_browser_session
from chatai.web.texts.team import role_label

log = logging.getLogger(__name__)


class InviteState(rx.State):
    intro: str = ""  # "X invites Y as Z", or "" when the link is not usable
    has_account: bool = False
    signed_in_as: str = ""
    other_email: str = ""  # set when signed in with another address than the invited one
    error: str = ""

    def _token(self) -> str:
        """From the HttpOnly cookie /auth/invite set, read at the WebSocket handshake: never in the page's
        address (which Reflex keeps in state) nor in a state var."""
        return session_cookie.invite_token_for_sid(self.router.session.session_id)[:invitations.MAX_TOKEN_LENGTH]

    @rx.event
    async def load_invite(self):
        auth = await self.get_state(AuthState)
        self.error = self.intro = self.other_email = self.signed_in_as = ""
        async with async_session() as session:
            view = await invitations.peek(session, token=self._token())
        if view is None:
            self.error = text(auth.locale, "team_err_invitation_unusable")
            return
        self.intro = text(auth.locale, "team_join_text", owner=view.owner_email, email=view.email,
                          role=role_label(auth.locale, view.role))
        self.has_account = view.has_account
        user = await auth.current_user() if auth.session_token else None
        if user is not None:
            self.signed_in_as = user.email
            if user.email != view.email:
                self.other_email = text(auth.locale, "team_join_other_email", me=user.email, email=view.email)

    async def _joined(self, business_id) -> None:
        (await self.get_state(BusinessState)).business_id = str(business_id)

    @rx.event
    async def accept_invite(self):
        """Signed in with the invited address: join and open the business."""
        auth = await self.get_state(AuthState)
        user = await auth.current_user() if auth.session_token else None
        if user is None:
            return rx.redirect(routes.SIGNIN)
        self.error = ""
        try:
            async with async_session() as session:
                business_id = await invitations.accept(session, token=self._token(), user_id=user.id,
                                                       email=user.email, client=auth.client())
        except TeamError as exc:
            self.error = text(auth.locale, f"team_err_{exc.code}")
            return None
        await self._joined(business_id)
        return rx.redirect(f"{routes.OVERVIEW}?business={business_id}")

    @rx.event
    async def handle_join_submit(self, form: dict):
        """A visitor: sign in (the address has an account) or create it, then join."""
        auth = await self.get_state(AuthState)
        self.error = ""
        password = str(form.get("password", ""))
        try:
            async with async_session() as session:
                if self.has_account:
                    token, business_id = await invitations.sign_in_and_accept(
                        session, token=self._token(), password=password, client=auth.client())
                else:
                    token, business_id = await invitations.sign_up_and_accept(
                        session, token=self._token(), password=password, locale=auth.locale, client=auth.client())
        except TeamError as exc:
            self.error = text(auth.locale, f"team_err_{exc.code}")
            return None
        except AccountError as exc:
            self.error = _error_text(auth.locale, exc)
            return None
        except OUTAGE_ERRORS:
            log.warning("joining a team failed: database or Redis unavailable", exc_info=True)
            self.error = text(auth.locale, "err_temporarily_unavailable")
            return None
        await self._joined(business_id)
        return await start_browser_session(token, f"{routes.OVERVIEW}?business={business_id}")


def _visitor_form() -> rx.Component:
    s = InviteState
    return rx.form(
        rx.vstack(
            rx.text(rx.cond(s.has_account, t("team_join_password_signin"), t("team_join_password_new")),
                    as_="label", size="2", weight="medium", html_for="password"),
            rx.input(name="password", id="password", type="password", required=True, size="3", width="100%",
                     auto_complete=rx.cond(s.has_account, "current-password", "new-password")),
            rx.button(rx.cond(s.has_account, t("team_join_signin"), t("team_join_signup")), type="submit",
                      size="3", width="100%", id="join-submit"),
            spacing="3", width="100%"),
        on_submit=s.handle_join_submit, reset_on_submit=False)


def invite_page() -> rx.Component:
    s = InviteState
    return auth_shell(rx.vstack(
        rx.heading(t("team_join_title"), size="6"),
        error_callout(s.error),
        rx.cond(s.intro != "", rx.vstack(
            rx.text(s.intro, id="invite-intro"),
            rx.cond(s.other_email != "", rx.callout(s.other_email, icon="info", width="100%"),
                    rx.cond(s.signed_in_as != "",
                            rx.button(t("team_join_accept"), on_click=s.accept_invite, size="3", width="100%",
                                      id="join-accept"),
                            _visitor_form())),
            spacing="4", width="100%"), rx.fragment()),
        spacing="4", width="100%",
    ))
