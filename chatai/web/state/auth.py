"""Who is signed in. Dashboard pages and handlers ask chatai/web/state/access.py (who, for which business, with
which role), which starts here; personal pages (settings) and the admin panel use `require_user` /
`require_admin` directly."""

from __future__ import annotations

import json

import reflex as rx

from chatai.db.session import async_session
from chatai.services import accounts
from chatai.services.accounts import CurrentUser
from chatai.services.signin_handover import issue_ticket
from chatai.web import routes, session_cookie
from chatai.web.i18n import EN, TEXTS


async def start_browser_session(token: str, next_path: str):
    """Send this tab's browser through the route that sets the HttpOnly session cookie, with the ticket
    bound to this browser (services/signin_handover.py: a ticket sent to another browser is refused)."""
    handover = await issue_ticket(token)
    return rx.call_script(session_cookie.handover_script(handover.ticket, handover.browser_key, next_path))


class AuthState(rx.State):
    # No session token here: state is persisted by Reflex. It is an HttpOnly cookie read from the
    # WebSocket handshake (web/session_cookie.py); the database keeps only its hash.
    # Language before sign-in (and the last one used on this browser); the account's wins after.
    locale: str = rx.LocalStorage("en", name="chatai_locale")
    user_email: str = ""
    user_role: str = ""
    notice: str = ""
    _time_zone: str = "UTC"  # the signed-in business's clock (backend only), refreshed by `current_user`

    @rx.var
    def tr(self) -> dict[str, str]:
        return TEXTS.get(self.locale, EN)

    @rx.var
    def is_admin(self) -> bool:
        return self.user_role == "admin"

    @property
    def session_token(self) -> str:
        """The raw token of this tab's session, from process memory only (never a state var)."""
        return session_cookie.token_for_sid(self.router.session.session_id)

    async def upload_user(self) -> CurrentUser | None:
        """The user of the upload request running this handler: its own cookie, never the tab's socket
        session (session_cookie.upload_session). Only upload handlers call this; it changes no state."""
        token = session_cookie.upload_token(self.router.session.client_token)
        if not token:
            return None
        async with async_session() as session:
            return await accounts.user_for_token(session, token)

    async def current_user(self) -> CurrentUser | None:
        """Re-checks the session in the database on every call: sign-out elsewhere, expiry,
        blocking and password changes take effect on the very next event."""
        token = self.session_token
        if not token:
            self.user_email = ""
            self.user_role = ""
            return None
        async with async_session() as session:
            user = await accounts.user_for_token(session, token)
        if user is None:
            self.user_email = ""
            self.user_role = ""
            return None
        self.user_email = user.email
        self.user_role = user.role
        self._time_zone = user.time_zone
        if self.locale != user.locale:
            self.locale = user.locale
        return user

    def client(self) -> str:
        return self.router.session.client_ip or ""

    def user_agent(self) -> str:
        """The browser's User-Agent from the socket's handshake, for the sessions list (never trusted)."""
        return (self.router.headers.user_agent or "")[:255]

    @rx.event
    async def guard_dashboard(self):
        if await self.current_user() is None:
            return rx.redirect(routes.SIGNIN)

    @rx.event
    async def guard_admin(self):
        user = await self.current_user()
        if user is None:
            return rx.redirect(routes.SIGNIN)
        if not user.is_admin:
            return rx.redirect(routes.OVERVIEW)

    @rx.event
    async def redirect_to_home(self):
        user = await self.current_user() if self.session_token else None
        if user is None:
            return rx.redirect(routes.SIGNIN)
        return rx.redirect(routes.ADMIN if user.is_admin else routes.OVERVIEW)

    @rx.event
    async def redirect_if_signed_in(self):
        if self.session_token and await self.current_user() is not None:
            return rx.redirect(routes.ADMIN if self.user_role == "admin" else routes.OVERVIEW)

    @rx.event
    async def sign_out(self):
        if self.session_token:
            async with async_session() as session:
                await accounts.sign_out(session, token=self.session_token)
        session_cookie.forget(self.router.session.session_id)
        self.user_email = ""
        self.user_role = ""
        from chatai.web.state.access import BusinessState  # imports this module

        (await self.get_state(BusinessState)).business_id = ""  # the next person here starts in their own business
        # The route clears the HttpOnly cookie, which no page script can.
        return rx.call_script(f"window.location.replace({json.dumps(session_cookie.AUTH_PREFIX + 'signout')})")

    @rx.event
    async def set_locale(self, locale: str):
        if locale not in TEXTS:
            return
        self.locale = locale
        user = await self.current_user() if self.session_token else None
        if user is not None:
            async with async_session() as session:
                await accounts.set_locale(session, user_id=user.id, locale=locale)
            self.locale = locale


async def require_user(state: rx.State) -> CurrentUser | None:
    """The signed-in user for any state's handler, or None (the caller redirects)."""
    auth = await state.get_state(AuthState)
    return await auth.current_user()


async def require_admin(state: rx.State) -> CurrentUser | None:
    user = await require_user(state)
    return user if user is not None and user.is_admin else None


async def tab_time_zone(state: rx.State) -> str:
    """The clock to show this tab's times on: the signed-in business's, as of the last `require_user`."""
    return (await state.get_state(AuthState))._time_zone


def client_connected(state: rx.State) -> bool:
    """Whether this browser tab still has its websocket open (pollers stop when it closes)."""
    from chatai.chatai import app

    namespace = app.event_namespace
    if namespace is None:
        return False
    return state.router.session.client_token in namespace.token_to_sid
