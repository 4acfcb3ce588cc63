"""Who is asking. Every page's on_load and every event handler goes through `require_user`."""

from __future__ import annotations

import reflex as rx

from chatai.db.session import async_session
from chatai.services import accounts
from chatai.services.accounts import CurrentUser
from chatai.web import routes
from chatai.web.i18n import EN, TEXTS


class AuthState(rx.State):
    # The session token lives in a strict same-site cookie; the server keeps only its hash.
    session_token: str = rx.Cookie("", name="chatai_session", same_site="strict", max_age=14 * 24 * 3600)
    # Language before sign-in (and the last one used on this browser); the account's wins after.
    locale: str = rx.LocalStorage("en", name="chatai_locale")
    user_email: str = ""
    user_role: str = ""
    notice: str = ""

    @rx.var
    def tr(self) -> dict[str, str]:
        return TEXTS.get(self.locale, EN)

    @rx.var
    def is_admin(self) -> bool:
        return self.user_role == "admin"

    async def current_user(self) -> CurrentUser | None:
        """Re-checks the session in the database on every call: sign-out elsewhere, expiry,
        blocking and password changes take effect on the very next event."""
        async with async_session() as session:
            user = await accounts.user_for_token(session, self.session_token)
        if user is None:
            self.user_email = ""
            self.user_role = ""
            return None
        self.user_email = user.email
        self.user_role = user.role
        if self.locale != user.locale:
            self.locale = user.locale
        return user

    def client(self) -> str:
        return self.router.session.client_ip or ""

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
        self.session_token = ""
        self.user_email = ""
        self.user_role = ""
        return rx.redirect(routes.SIGNIN)

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


def client_connected(state: rx.State) -> bool:
    """Whether this browser tab still has its websocket open (pollers stop when it closes)."""
    from chatai.chatai import app

    namespace = app.event_namespace
    if namespace is None:
        return False
    return state.router.session.client_token in namespace.token_to_sid
