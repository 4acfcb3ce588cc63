"""`<html lang>` and the tab title in the user's language, and a first visit from a Russian browser in
Russian. Reflex sets a page's title once, in English, at build time; this rewrites it in the browser after
every page load and language change (run from chatai.py's on_load lists and the language switch)."""

from __future__ import annotations

import json

import reflex as rx

from chatai.web import routes
from chatai.web.i18n import TEXTS, text
from chatai.web.state.auth import AuthState

FORGOT_PASSWORD = "/forgot-password"  # noqa: S105 - a page path (as in pages/auth.py)
NOT_FOUND = "/404"
# Page path (as Reflex reports it, dynamic segments included) -> the key of its title.
TITLE_KEYS = {
    routes.SIGNIN: "first_hour_title_signin", routes.SIGNUP: "first_hour_title_signup",
    FORGOT_PASSWORD: "first_hour_title_forgot", routes.OVERVIEW: "first_hour_title_overview",
    routes.ASSISTANTS: "first_hour_title_assistants", routes.KNOWLEDGE: "first_hour_title_knowledge",
    routes.BOTS: "first_hour_title_bots", routes.INBOX: "first_hour_title_inbox",
    routes.BILLING: "first_hour_title_billing", routes.SETTINGS: "first_hour_title_settings",
    routes.ADMIN: "first_hour_title_admin", routes.ADMIN_USERS: "first_hour_title_admin_users",
    routes.ADMIN_ACCOUNT: "first_hour_title_admin_account", routes.ADMIN_BILLING: "first_hour_title_admin_billing",
    routes.ADMIN_BOTS: "first_hour_title_admin_bots", routes.ADMIN_AUDIT: "first_hour_title_admin_audit",
    NOT_FOUND: "first_hour_title_404",
}
# No language chosen on this browser yet (nothing stored) and the browser prefers Russian: "ru".
_BROWSER_LANGUAGE_JS = (
    "(window.localStorage.getItem('chatai_locale') === null && "
    "(navigator.languages || [navigator.language]).some((l) => String(l).toLowerCase().startsWith('ru')))"
    " ? 'ru' : ''"
)


def page_title(locale: str, path: str) -> str:
    key = TITLE_KEYS.get(path.rstrip("/") or "/")
    if key is None and path.startswith("/dashboard/billing"):
        key = TITLE_KEYS[routes.BILLING]
    if key is None and path.startswith("/reset-password"):
        key = "first_hour_title_reset"
    if key is None and path.rstrip("/") != "":
        key = TITLE_KEYS[NOT_FOUND]  # every other address is no page: Reflex shows the 404 page there
    return f"{text(locale, key)} · ChatAI" if key else "ChatAI"


class DocumentLanguageState(rx.State):
    @rx.event
    async def apply_document_language(self):
        locale = (await self.get_state(AuthState)).locale
        title = page_title(locale, self.router.page.path)
        return rx.call_script(f"document.documentElement.lang = {json.dumps(locale)};"
                              f" document.title = {json.dumps(title)};")

    @rx.event
    def detect_browser_language(self):
        """Sign-in and sign-up pages: ask the browser (navigator.languages follows Accept-Language)."""
        return rx.call_script(_BROWSER_LANGUAGE_JS, callback=DocumentLanguageState.adopt_browser_language)

    @rx.event
    async def adopt_browser_language(self, language: str):
        auth = await self.get_state(AuthState)
        if language in TEXTS and language != auth.locale and auth.user_email == "":
            auth.locale = language  # kept in this browser's storage: an explicit choice later wins
        return DocumentLanguageState.apply_document_language
